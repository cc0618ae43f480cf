"""Incidents: what background work could not do for a ticket, resolved at the verifier desk.

The timer sweep records an incident when an instance fails and holds its timers back with a
growing backoff (``engine.timers``). A verifier (or an admin) looks at the ticket, fixes what
can be fixed, and resolves the incident: that releases the instance's timers for the next
sweep and leaves an entry on the instance's audit chain. A failure of a command a user started
is not an incident: it rolls back and the user gets the error.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from engine import audit
from engine.errors import Conflict
from engine.errors import Forbidden
from engine.errors import NotFound
from engine.identity import Actor
from engine.models import Incident
from engine.models import PendingTimer
from engine.models import ProcessInstance
from engine.models import Ticket

DESK_GROUP = "verifier"
ADMIN_ROLE = "admin"
TIMER_FAILED = "timer_failed"


def may_handle(actor: Actor) -> bool:
    """Incidents go to the verifier desk; admins may handle them too."""
    return DESK_GROUP in actor.groups or actor.role == ADMIN_ROLE


def require_handler(actor: Actor) -> None:
    if not may_handle(actor):
        raise Forbidden("incidents are handled by the verifier desk")


@dataclass(frozen=True)
class Resolution:
    incident_id: int
    ticket: str | None
    resolved_at: datetime
    resolved_by: str
    also_resolved: list[int]  # earlier open incidents of the same instance and kind
    released_timers: int  # pending timers released for the next sweep


def resolve_incident(
    session: Session, *, incident_id: int, actor: Actor, now: datetime, note: str | None = None
) -> Resolution:
    """Mark an incident resolved by ``actor`` at ``now``; release a timer incident's timers.

    The repeats of the same failure (open incidents of the same instance and kind, one per
    retry of the sweep) are resolved with it. The instance row is locked, so this serializes
    with commands on the ticket; its audit chain gets an ``incident_resolved`` entry.
    """
    require_handler(actor)
    incident = session.get(Incident, incident_id, with_for_update=True)
    if incident is None:
        raise NotFound(f"no incident {incident_id}")
    if incident.resolved_at is not None:
        raise Conflict(f"incident {incident_id} was resolved by {incident.resolved_by}")
    row: ProcessInstance | None = None
    number: str | None = None
    if incident.instance_id is not None:
        found = session.execute(
            select(ProcessInstance, Ticket.number)
            .join(Ticket, Ticket.id == ProcessInstance.ticket_id)
            .where(ProcessInstance.id == incident.instance_id)
            .with_for_update(of=ProcessInstance)
        ).first()
        if found is not None:
            row, number = found
    repeats = [
        i
        for i in session.scalars(
            select(Incident).where(
                Incident.instance_id == incident.instance_id,
                Incident.kind == incident.kind,
                Incident.resolved_at.is_(None),
                Incident.id != incident.id,
            )
        )
        if incident.instance_id is not None
    ]
    for each in [incident, *repeats]:
        each.resolved_at, each.resolved_by = now, actor.name
    released = 0
    if incident.kind == TIMER_FAILED and incident.instance_id is not None:
        released = (
            session.connection()
            .execute(
                update(PendingTimer)
                .where(PendingTimer.instance_id == incident.instance_id)
                .values(claimed_by=None, claimed_until=None, attempts=0)
            )
            .rowcount
        )
    also = sorted(i.id for i in repeats)
    if row is not None and number is not None:
        data = {
            "incident": incident.id,
            "kind": incident.kind,
            "message": incident.message,
            "also_resolved": also,
            "released_timers": released,
            "note": note,
        }
        audit.append(
            session,
            row,
            number,
            [
                audit.Entry(
                    actor.name, "incident_resolved", incident.element_id, data, via=actor.via
                )
            ],
            at=now,
        )
    try:
        session.flush()
    except StaleDataError:
        raise Conflict("the ticket was changed by someone else; try again") from None
    return Resolution(incident.id, number, now, actor.name, also, released)
