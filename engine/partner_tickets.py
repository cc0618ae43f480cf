"""A partner's own tickets: filtered by status, external id and last change, paged by cursor.

Ordered by last change, oldest first, so a partner that keeps the last cursor (or the
``updated_at`` of the last ticket it saw, as ``since``) reads every change once more at most:
a ticket that changes while being paged moves to a later page, never out of the list.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import InvalidInput
from engine.errors import NotFound
from engine.models import Ticket

MAX_LIMIT = 100


@dataclass(frozen=True)
class PartnerTicket:
    number: str
    external_id: str | None
    kind: str
    category: str
    title: str
    status: str
    opd: str | None
    due_at: datetime | None
    escalation_level: int
    outcome: str | None
    confidential: bool
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None


def list_tickets(
    session: Session,
    *,
    partner_id: int,
    status: str | None = None,
    external_id: str | None = None,
    since: datetime | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> tuple[list[PartnerTicket], str | None]:
    """One page of the partner's tickets and the cursor of the next page (None at the end)."""
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput("bad limit", fields={"limit": [f"1 to {MAX_LIMIT}"]})
    query = select(Ticket).where(Ticket.partner_id == partner_id)
    if status:
        query = query.where(Ticket.status == status)
    if external_id:
        query = query.where(Ticket.external_id == external_id)
    if since is not None:
        query = query.where(Ticket.updated_at >= since)
    after = _parse(cursor)
    if after is not None:
        at, ticket_id = after
        query = query.where(
            or_(Ticket.updated_at > at, and_(Ticket.updated_at == at, Ticket.id > ticket_id))
        )
    rows = list(session.scalars(query.order_by(Ticket.updated_at, Ticket.id).limit(limit + 1)))
    page = rows[:limit]
    more = _cursor(page[-1]) if len(rows) > limit else None
    return [_item(t) for t in page], more


def by_external_id(session: Session, *, partner_id: int, external_id: str) -> PartnerTicket:
    """The partner's ticket with this reference; NotFound when it has none."""
    ticket = session.scalar(
        select(Ticket).where(Ticket.partner_id == partner_id, Ticket.external_id == external_id)
    )
    if ticket is None:
        raise NotFound(f"no ticket with external_id '{external_id}'")
    return _item(ticket)


def _item(t: Ticket) -> PartnerTicket:
    return PartnerTicket(
        t.number,
        t.external_id,
        t.kind,
        t.category,
        t.title,
        t.status,
        t.opd,
        t.due_at,
        t.escalation_level,
        t.outcome,
        t.confidential,
        t.created_at,
        t.updated_at,
        t.closed_at,
    )


def _cursor(ticket: Ticket) -> str:
    return f"{ticket.updated_at.isoformat()}_{ticket.id}"


def _parse(cursor: str | None) -> tuple[datetime, int] | None:
    if not cursor:
        return None
    stamp, _, ticket_id = cursor.rpartition("_")
    try:
        at = datetime.fromisoformat(stamp)
        if at.tzinfo is None:
            raise ValueError("naive")
        return at, int(ticket_id)
    except ValueError:
        raise InvalidInput(
            "bad cursor", fields={"cursor": ["give next_cursor as answered"]}
        ) from None
