"""Before/after pairs of fixed tickets (``/galeri``), a projection written when a ticket closes.

A ticket enters the gallery when it closes with outcome ``fixed``, is not confidential, and has
a photo of the report and an after-photo on record: the first report photo and the latest
after-photo make the pair. Pages are read newest first with a cursor, so every page costs the
same.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime

from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import tuple_
from sqlalchemy.orm import Session

from engine.models import Attachment
from engine.models import GalleryItem
from engine.models import Ticket

FIXED = "fixed"


def publish(session: Session, ticket: Ticket) -> bool:
    """Add a just-closed ticket's pair to the gallery if it qualifies."""
    if ticket.outcome != FIXED or ticket.confidential or ticket.closed_at is None:
        return False
    on_record = select(func.min(Attachment.id), func.max(Attachment.id)).where(
        Attachment.ticket_id == ticket.id, Attachment.linked_at.is_not(None)
    )
    before = session.execute(on_record.where(Attachment.purpose == "report")).one()[0]
    after = session.execute(on_record.where(Attachment.purpose == "after")).one()[1]
    if before is None or after is None:
        return False
    session.add(
        GalleryItem(
            ticket_id=ticket.id,
            closed_at=ticket.closed_at,
            category=ticket.category,
            kecamatan=ticket.kecamatan,
            before_id=before,
            after_id=after,
        )
    )
    return True


@dataclass(frozen=True)
class Pair:
    number: str
    title: str
    category: str
    kecamatan: str | None
    closed_at: datetime
    before_id: int
    after_id: int
    cursor: str


def page(
    session: Session,
    *,
    category: str | None = None,
    kecamatan: str | None = None,
    after: str | None = None,
    limit: int = 12,
) -> tuple[Sequence[Pair], str | None]:
    """One page of pairs, newest first, and the cursor of the next page (None at the end)."""
    query = (
        select(GalleryItem, Ticket.number, Ticket.title)
        .join(Ticket, Ticket.id == GalleryItem.ticket_id)
        .order_by(GalleryItem.closed_at.desc(), GalleryItem.ticket_id.desc())
        .limit(limit + 1)
    )
    if category:
        query = query.where(GalleryItem.category == category)
    if kecamatan:
        query = query.where(GalleryItem.kecamatan == kecamatan)
    position = _parse_cursor(after)
    if position is not None:
        query = query.where(
            tuple_(GalleryItem.closed_at, GalleryItem.ticket_id) < tuple_(*position)
        )
    rows = session.execute(query).all()
    pairs = [
        Pair(
            number,
            title,
            item.category,
            item.kecamatan,
            item.closed_at,
            item.before_id,
            item.after_id,
            _cursor(item),
        )
        for item, number, title in rows[:limit]
    ]
    more = pairs[-1].cursor if len(rows) > limit and pairs else None
    return pairs, more


def _cursor(item: GalleryItem) -> str:
    return f"{item.closed_at.timestamp():.6f}_{item.ticket_id}"


def _parse_cursor(cursor: str | None) -> tuple[datetime, int] | None:
    if not cursor:
        return None
    try:
        stamp, _, ticket_id = cursor.partition("_")
        return datetime.fromtimestamp(float(stamp), UTC), int(ticket_id)
    except (ValueError, OverflowError, OSError):
        return None
