"""Photos of tickets: stored once checked (engine.media), recorded as ``attachment`` rows, and
named by forms.

A form field whose JSON Schema says ``"x-laksa-attachment": "<purpose>"`` (the after-photo)
takes the id of a photo uploaded to the same ticket for that purpose; completing the task
checks it and puts the photo on record. A free string no longer passes.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Session

from engine.errors import InvalidInput
from engine.inputs import MAX_ID
from engine.media import MediaStore
from engine.media import ProcessedImage
from engine.models import Attachment

PURPOSES = ("report", "after", "reply", "dispute")
ATTACHMENT_KEY = "x-laksa-attachment"
MAX_PER_REPORT = 5


@dataclass(frozen=True)
class StoredImage:
    """A checked photo whose bytes are in the media store, not yet tied to a ticket."""

    sha256: str
    thumb_sha256: str
    size: int
    mime: str
    width: int
    height: int


def store(media: MediaStore, image: ProcessedImage) -> StoredImage:
    """Put a checked photo and its thumbnail in the store."""
    key = media.put(image.data)
    thumb = media.put(image.thumb)
    return StoredImage(key, thumb, len(image.data), image.mime, image.width, image.height)


def add(
    session: Session,
    *,
    ticket_id: int,
    purpose: str,
    uploader: str,
    images: Sequence[StoredImage],
    now: datetime,
    linked: bool,
) -> list[Attachment]:
    """Record stored photos as attachments of a ticket (on record now if ``linked``)."""
    if purpose not in PURPOSES:
        raise InvalidInput(f"unknown purpose '{purpose}'", fields={"purpose": list(PURPOSES)})
    rows = [
        Attachment(
            ticket_id=ticket_id,
            purpose=purpose,
            uploader=uploader,
            sha256=i.sha256,
            thumb_sha256=i.thumb_sha256,
            size=i.size,
            mime=i.mime,
            width=i.width,
            height=i.height,
            created_at=now,
            linked_at=now if linked else None,
        )
        for i in images
    ]
    session.add_all(rows)
    session.flush()
    return rows


def _an_id(value: Any) -> bool:
    """Whether ``value`` can be a row id (PostgreSQL's integers stop at 2**31 - 1)."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < MAX_ID


def link_form_photos(
    session: Session,
    *,
    ticket_id: int,
    schema: Mapping[str, Any] | None,
    data: Mapping[str, Any],
    now: datetime,
) -> list[int]:
    """Check the photos a form names and put them on record; return their ids."""
    linked = []
    for name, spec in ((schema or {}).get("properties") or {}).items():
        purpose = spec.get(ATTACHMENT_KEY) if isinstance(spec, dict) else None
        if purpose is None or data.get(name) is None:
            continue
        attachment_id = data[name]
        found = (
            None
            if not _an_id(attachment_id)
            else session.scalar(
                select(Attachment.id).where(
                    Attachment.id == attachment_id,
                    Attachment.ticket_id == ticket_id,
                    Attachment.purpose == purpose,
                )
            )
        )
        if found is None:
            raise InvalidInput(
                "the photo is not one uploaded to this ticket",
                fields={name: [f"upload a photo ({purpose}) to this ticket and give its id"]},
            )
        linked.append(found)
    if linked:
        session.execute(
            update(Attachment)
            .where(Attachment.id.in_(linked), Attachment.linked_at.is_(None))
            .values(linked_at=now)
        )
    return linked


def of_ticket(session: Session, ticket_id: int, *, staff: bool = False) -> Sequence[Attachment]:
    """A ticket's photos in upload order: those on record, and for staff every upload."""
    query = select(Attachment).where(Attachment.ticket_id == ticket_id).order_by(Attachment.id)
    if not staff:
        query = query.where(Attachment.linked_at.is_not(None))
    return session.scalars(query).all()
