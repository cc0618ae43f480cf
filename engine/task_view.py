"""One task with its ticket in context, for the officer's task page and ``GET /api/v1/tasks/{id}``.

Members of the task's group may open and complete it; supervisors and auditors may read it.
The ticket is seen through ``engine.visibility`` like everywhere else; the internal history
(the audit trail) is for entitled staff only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import definitions
from engine import forms
from engine import reporter
from engine.errors import Forbidden
from engine.errors import NotFound
from engine.identity import Actor
from engine.models import AuditEvent
from engine.models import Definition
from engine.models import HumanTask
from engine.models import ProcessInstance
from engine.models import Ticket
from engine.ticket_view import TicketView
from engine.ticket_view import ticket_view
from engine.visibility import OVERSIGHT_ROLES
from engine.visibility import PUBLIC_TICKETS

LIKELY_DAYS = 30  # likely originals of a duplicate: open or recent, this many days back


@dataclass(frozen=True)
class HistoryEntry:
    at: datetime
    actor: str
    action: str
    element_id: str | None


@dataclass(frozen=True)
class Candidate:
    """A likely original of the ticket (same category, nearby or same kecamatan, recent)."""

    number: str
    title: str
    status: str
    created_at: datetime
    distance_m: float | None


@dataclass(frozen=True)
class TaskView:
    id: int
    ticket_id: int
    element_id: str
    title: str
    candidate_group: str
    form_name: str | None
    schema: dict[str, Any] | None
    created_at: datetime
    due_at: datetime | None
    completed_at: datetime | None
    completed_by: str | None
    claimed_by: str | None
    claimed_at: datetime | None
    version: int
    may_complete: bool
    ticket: TicketView
    history: Sequence[HistoryEntry]
    candidates: Sequence[Candidate]

    def form(self, lang: str) -> forms.Form | None:
        if self.schema is None or self.form_name is None:
            return None
        return forms.form_of(self.form_name, self.schema, lang)


def task_view(
    session: Session, task_id: int, *, actor: Actor, lang: str = "id", now: datetime
) -> TaskView:
    """The task and its ticket as ``actor`` may see them; Forbidden for others' tasks."""
    found = session.execute(
        select(HumanTask, ProcessInstance, Definition, Ticket.number)
        .join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id)
        .join(Definition, Definition.id == ProcessInstance.definition_id)
        .join(Ticket, Ticket.id == HumanTask.ticket_id)
        .where(HumanTask.id == task_id)
    ).first()
    if found is None:
        raise NotFound(f"no task {task_id}")
    task, instance, definition, number = found
    member = task.candidate_group in actor.groups
    if not member and actor.role not in OVERSIGHT_ROLES:
        raise Forbidden(f"task {task_id} belongs to group '{task.candidate_group}'")
    ticket = ticket_view(session, number, actor=actor, lang=lang)
    bundle = definitions.bundle_for(session, definition)
    schema = bundle.forms.get(task.form) if task.form else None
    history = (
        [
            HistoryEntry(e.at, e.actor, e.action, e.element_id)
            for e in session.scalars(
                select(AuditEvent)
                .where(AuditEvent.instance_id == instance.id)
                .order_by(AuditEvent.seq)
            )
            if e.action != "element_completed" or e.element_id
        ]
        if ticket.access.staff
        else []
    )
    candidates: list[Candidate] = []
    if schema and any(
        isinstance(s, dict) and s.get(forms.TICKET_KEY)
        for s in (schema.get("properties") or {}).values()
    ):
        candidates = likely_originals(session, number, now=now)
    return TaskView(
        id=task.id,
        ticket_id=task.ticket_id,
        element_id=task.element_id,
        title=task.title,
        candidate_group=task.candidate_group,
        form_name=task.form,
        schema=schema,
        created_at=task.created_at,
        due_at=task.due_at,
        completed_at=task.completed_at,
        completed_by=task.completed_by,
        claimed_by=task.claimed_by,
        claimed_at=task.claimed_at,
        version=instance.version,
        may_complete=member and task.completed_at is None,
        ticket=ticket,
        history=history,
        candidates=candidates,
    )


def likely_originals(
    session: Session, number: str, *, now: datetime, limit: int = 5
) -> list[Candidate]:
    """Tickets this one may duplicate: same category, within 100 m (else the same kecamatan),
    open or received in the last ``LIKELY_DAYS`` days; nearest, then newest first."""
    ticket = session.scalar(select(Ticket).where(Ticket.number == number))
    if ticket is None:
        return []
    if ticket.latitude is not None and ticket.longitude is not None:
        near = reporter.nearby(
            session,
            category=ticket.category,
            latitude=ticket.latitude,
            longitude=ticket.longitude,
            limit=limit + 1,
        )
        return [
            Candidate(n.number, n.title, n.status, n.created_at, n.distance_m)
            for n in near
            if n.number != number
        ][:limit]
    since = now - timedelta(days=LIKELY_DAYS)
    query = (
        select(Ticket.number, Ticket.title, Ticket.status, Ticket.created_at)
        .where(
            Ticket.category == ticket.category,
            Ticket.id != ticket.id,
            Ticket.created_at >= since,
            PUBLIC_TICKETS,
        )
        .order_by(Ticket.created_at.desc())
        .limit(limit)
    )
    if ticket.kecamatan:
        query = query.where(Ticket.kecamatan == ticket.kecamatan)
    return [Candidate(n, t, s, c, None) for n, t, s, c in session.execute(query)]
