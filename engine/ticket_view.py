"""One ticket as a given viewer may see it: the read behind the public page, the reporter's
private page and the API's views. What is shown is decided by ``engine.visibility`` alone."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import attachments
from engine import definitions
from engine import forms
from engine import numbers
from engine import reference
from engine import reporter
from engine import timeline
from engine.errors import NotFound
from engine.identity import Actor
from engine.models import Definition
from engine.models import ProcessInstance
from engine.models import Rating
from engine.models import Ticket
from engine.visibility import REPORTER
from engine.visibility import Access
from engine.visibility import access


@dataclass(frozen=True)
class Photo:
    id: int
    purpose: str
    width: int
    height: int
    on_record: bool


@dataclass(frozen=True)
class Entry:
    """A timeline entry ready to show: labels already in the viewer's language."""

    at: datetime
    kind: str  # status | note | message | rating
    audience: str
    author: str
    status: str | None
    status_label: str | None
    status_colour: str | None
    field: str | None
    label: str | None  # the form field's title, or the message name
    text: str | None
    attachment_id: int | None


@dataclass(frozen=True)
class TicketView:
    number: str
    kind: str
    category: str
    category_name: str
    title: str
    description: str
    location: str | None
    kecamatan: str | None
    latitude: float | None
    longitude: float | None
    status: str
    status_label: str
    status_colour: str | None
    status_phase: str | None
    opd: str | None
    opd_name: str | None
    due_at: datetime | None
    escalation_level: int
    outcome: str | None
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    resolved_at: datetime | None
    anonymous: bool
    confidential: bool
    reporter_name: str | None  # only where the viewer may see it
    reporter_contact: str | None
    awaiting: frozenset[str]
    photos: Sequence[Photo]
    entries: Sequence[Entry]
    rating: int | None
    rating_comment: str | None
    access: Access

    def photos_for(self, purpose: str) -> list[Photo]:
        return [p for p in self.photos if p.purpose == purpose]


def find(session: Session, number: str) -> Ticket:
    """A ticket by number, written any case; NotFound otherwise."""
    canonical = numbers.canonical(number)
    ticket = None
    if canonical is not None:
        ticket = session.scalar(select(Ticket).where(Ticket.number == canonical))
    if ticket is None:
        raise NotFound(f"no ticket {number}")
    return ticket


def viewer_access(
    session: Session, number: str, *, actor: Actor | None = None, secret: str | None = None
) -> tuple[Ticket, Access]:
    """The ticket and what this viewer may see of it; NotFound where it may see nothing."""
    ticket = find(session, number)
    holds = secret is not None and reporter.holds_secret(ticket, secret)
    if secret is not None and not holds:
        raise NotFound(f"no ticket {number} for this link")
    seen = access(ticket, actor=actor, reporter=holds)
    if not seen.sees_ticket:
        raise NotFound(f"no ticket {number}")
    return ticket, seen


def ticket_view(
    session: Session,
    number: str,
    *,
    actor: Actor | None = None,
    secret: str | None = None,
    lang: str = "id",
) -> TicketView:
    """The ticket as this viewer may see it (``secret``: the reporter's private link)."""
    ticket, seen = viewer_access(session, number, actor=actor, secret=secret)
    bundle = _bundle(session, ticket)
    status = bundle.statuses.get(ticket.status, {}) if bundle else {}
    category_name = reference.category_names(session).get(ticket.category)
    opd_name = reference.group_names(session).get(ticket.opd) if ticket.opd else None
    photos = [
        Photo(a.id, a.purpose, a.width, a.height, a.linked_at is not None)
        for a in attachments.of_ticket(session, ticket.id, staff=seen.staff)
        if seen.sees_photo(a.purpose, on_record=a.linked_at is not None)
    ]
    rating = session.get(Rating, ticket.id) if seen.sees_update(REPORTER) else None
    return TicketView(
        number=ticket.number,
        kind=ticket.kind,
        category=ticket.category,
        category_name=category_name or ticket.category,
        title=ticket.title,
        description=ticket.description,
        location=ticket.location,
        kecamatan=ticket.kecamatan,
        latitude=ticket.latitude,
        longitude=ticket.longitude,
        status=ticket.status,
        status_label=bundle.status_label(ticket.status, lang) if bundle else ticket.status,
        status_colour=status.get("colour"),
        status_phase=status.get("phase"),
        opd=ticket.opd,
        opd_name=opd_name,
        due_at=ticket.due_at,
        escalation_level=ticket.escalation_level,
        outcome=ticket.outcome,
        created_at=ticket.created_at,
        updated_at=ticket.updated_at,
        closed_at=ticket.closed_at,
        resolved_at=ticket.resolved_at,
        anonymous=ticket.anonymous,
        confidential=ticket.confidential,
        reporter_name=ticket.reporter_name if seen.sees_name else None,
        reporter_contact=ticket.reporter_contact if seen.sees_contact else None,
        awaiting=frozenset(filter(None, (ticket.awaiting or "").split(","))),
        photos=photos,
        entries=_entries(session, ticket, seen, bundle, lang),
        rating=rating.score if rating else None,
        rating_comment=rating.comment if rating else None,
        access=seen,
    )


def _bundle(session: Session, ticket: Ticket) -> definitions.Bundle | None:
    definition = session.scalar(
        select(Definition)
        .join(ProcessInstance, ProcessInstance.definition_id == Definition.id)
        .where(ProcessInstance.ticket_id == ticket.id)
    )
    return definitions.bundle_for(session, definition) if definition is not None else None


def _entries(
    session: Session,
    ticket: Ticket,
    seen: Access,
    bundle: definitions.Bundle | None,
    lang: str,
) -> list[Entry]:
    entries = []
    for u in timeline.updates_of(session, ticket.id, seen.audiences):
        label = u.field
        if u.field and "#" in u.field:
            form, _, name = u.field.partition("#")
            label = forms.field_title(bundle.forms.get(form) if bundle else None, name, lang)
        status = (bundle.statuses.get(u.status) or {}) if bundle and u.status else {}
        entries.append(
            Entry(
                at=u.at,
                kind=u.kind,
                audience=u.audience,
                author=u.author,
                status=u.status,
                status_label=bundle.status_label(u.status, lang) if bundle and u.status else None,
                status_colour=status.get("colour"),
                field=u.field,
                label=label,
                text=u.text,
                attachment_id=u.attachment_id,
            )
        )
    return entries
