"""mySociety's Open311 extension ``servicerequestupdates``: the public timeline as updates, so
FixMyStreet (and others) follow tickets by asking for what changed between two times.

An update is a public timeline entry of a public ticket: a status reached (its description the
Indonesian label) or a note the OPD shared with the public (its text). Its ``status`` is
``closed`` from the entry of the status a closed ticket ended in, ``open`` before;
``external_status_code`` is LAKSA's status at that moment. Replies and the reporter's
conversation are never updates.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm import aliased

from engine import definitions
from engine.georeport import PUBLIC_PURPOSES
from engine.georeport import RequestUpdate
from engine.georeport import parse_window
from engine.georeport import positive
from engine.models import Attachment
from engine.models import ProcessInstance
from engine.models import Ticket
from engine.models import TicketUpdate
from engine.visibility import PUBLIC
from engine.visibility import PUBLIC_TICKETS

DEFAULT_DAYS = 1  # without dates: the last day (FixMyStreet asks for the last two hours)
PAGE_SIZE = 500
MAX_PAGE_SIZE = 1000
KINDS = ("status", "note")


def find_updates(
    session: Session, params: Mapping[str, str], *, now: datetime
) -> list[RequestUpdate]:
    """Public updates of public tickets between ``start_date`` and ``end_date``, oldest first."""
    start, end = parse_window(params, now=now, default_days=DEFAULT_DAYS)
    page = positive(params, "page", 1, 10_000)
    page_size = positive(params, "page_size", PAGE_SIZE, MAX_PAGE_SIZE)
    earlier = aliased(TicketUpdate)
    status_then = (
        select(earlier.status)
        .where(
            earlier.ticket_id == TicketUpdate.ticket_id,
            earlier.kind == "status",
            earlier.id <= TicketUpdate.id,
        )
        .order_by(earlier.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    last = aliased(TicketUpdate)
    closing = (  # the entry of the status a closed ticket ended in
        select(func.max(last.id))
        .where(last.ticket_id == TicketUpdate.ticket_id, last.kind == "status")
        .scalar_subquery()
    )
    rows = session.execute(
        select(
            TicketUpdate.id,
            TicketUpdate.ticket_id,
            Ticket.number,
            TicketUpdate.at,
            TicketUpdate.kind,
            TicketUpdate.text,
            TicketUpdate.attachment_id,
            status_then.label("status_then"),
            closing.label("closing"),
            Ticket.closed_at,
            ProcessInstance.definition_id,
        )
        .join(Ticket, Ticket.id == TicketUpdate.ticket_id)
        .join(ProcessInstance, ProcessInstance.ticket_id == Ticket.id)
        .where(
            PUBLIC_TICKETS,
            TicketUpdate.audience == PUBLIC,
            TicketUpdate.kind.in_(KINDS),
            TicketUpdate.at >= start,
            TicketUpdate.at <= end,
        )
        .order_by(TicketUpdate.at, TicketUpdate.id)
        .limit(page_size)
        .offset((page - 1) * page_size)
    ).all()
    photos = _public_photos(session, {r.attachment_id for r in rows if r.attachment_id})
    after = _after_photos(session, {r.ticket_id for r in rows if r.kind == "status"}, start, end)
    updates = []
    for r in rows:
        # The after-photo goes on record with the command that resolves: its status's update
        # shows it (once).
        photo_id = r.attachment_id if r.attachment_id in photos else None
        if photo_id is None and r.kind == "status":
            photo_id = after.pop((r.ticket_id, r.at), None)
        bundle = definitions.bundle_of(session, r.definition_id)
        status = r.status_then
        if r.kind == "status" or not (r.text or "").strip():
            description = bundle.status_label(status, "id") if status else ""
        else:
            description = r.text.strip()
        updates.append(
            RequestUpdate(
                update_id=str(r.id),
                service_request_id=r.number,
                status="closed" if r.closed_at is not None and r.id >= r.closing else "open",
                updated_datetime=r.at,
                description=description,
                photo_id=photo_id,
                external_status_code=status,
            )
        )
    return updates


def _public_photos(session: Session, ids: set[int]) -> set[int]:
    if not ids:
        return set()
    return set(
        session.scalars(
            select(Attachment.id).where(
                Attachment.id.in_(sorted(ids)),
                Attachment.linked_at.is_not(None),
                Attachment.purpose.in_(PUBLIC_PURPOSES),
            )
        )
    )


def _after_photos(
    session: Session, ticket_ids: set[int], start: datetime, end: datetime
) -> dict[tuple[int, datetime], int]:
    """After-photos put on record between ``start`` and ``end``, by ticket and moment."""
    if not ticket_ids:
        return {}
    rows = session.execute(
        select(Attachment.ticket_id, Attachment.linked_at, func.min(Attachment.id))
        .where(
            Attachment.ticket_id.in_(sorted(ticket_ids)),
            Attachment.purpose == "after",
            Attachment.linked_at >= start,
            Attachment.linked_at <= end,
        )
        .group_by(Attachment.ticket_id, Attachment.linked_at)
    ).all()
    return {(ticket_id, at): photo_id for ticket_id, at, photo_id in rows if at is not None}
