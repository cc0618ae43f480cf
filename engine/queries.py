"""The read side: inbox and ticket views from projections, never from workflows (rule 3)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import definitions
from engine.errors import NotFound
from engine.models import Definition
from engine.models import HumanTask
from engine.models import ProcessInstance
from engine.models import Ticket


@dataclass(frozen=True)
class InboxTask:
    id: int
    ticket: str
    element_id: str
    title: str
    candidate_group: str
    form: str | None
    created_at: datetime
    due_at: datetime | None
    version: int


def inbox(session: Session, groups: Iterable[str], *, limit: int = 200) -> list[InboxTask]:
    """Open tasks of the given groups, the most urgent first."""
    rows = session.execute(
        select(HumanTask, Ticket.number, ProcessInstance.version)
        .join(Ticket, Ticket.id == HumanTask.ticket_id)
        .join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id)
        .where(HumanTask.candidate_group.in_(list(groups)), HumanTask.completed_at.is_(None))
        .order_by(HumanTask.due_at.is_(None), HumanTask.due_at, HumanTask.created_at)
        .limit(limit)
    ).all()
    return [
        InboxTask(
            t.id,
            number,
            t.element_id,
            t.title,
            t.candidate_group,
            t.form,
            t.created_at,
            t.due_at,
            version,
        )
        for t, number, version in rows
    ]


def ticket_by_number(session: Session, number: str) -> Ticket:
    ticket = session.scalar(select(Ticket).where(Ticket.number == number))
    if ticket is None:
        raise NotFound(f"no ticket {number}")
    return ticket


def status_info(session: Session, ticket: Ticket, lang: str = "id") -> dict[str, Any]:
    """The label and colour of a ticket's status, from the statuses.json it was deployed with."""
    definition = session.scalar(
        select(Definition)
        .join(ProcessInstance, ProcessInstance.definition_id == Definition.id)
        .where(ProcessInstance.ticket_id == ticket.id)
    )
    entry: dict[str, Any] = {}
    if definition is not None:
        entry = dict(definitions.bundle_for(session, definition).statuses.get(ticket.status) or {})
    labels = entry.get("label") or {}
    label = labels.get(lang) or labels.get("id") or ticket.status
    return {"status_label": label, "status_colour": entry.get("colour")}


def public_ticket(session: Session, number: str, lang: str = "id") -> dict[str, Any]:
    """A ticket as the public sees it: no reporter, and confidential ones do not exist."""
    ticket = ticket_by_number(session, number)
    if ticket.confidential:
        raise NotFound(f"no ticket {number}")
    return {
        "number": ticket.number,
        "kind": ticket.kind,
        "category": ticket.category,
        "title": ticket.title,
        "description": ticket.description,
        "location": ticket.location,
        "kecamatan": ticket.kecamatan,
        "status": ticket.status,
        "opd": ticket.opd,
        "due_at": ticket.due_at,
        "escalation_level": ticket.escalation_level,
        "outcome": ticket.outcome,
        "created_at": ticket.created_at,
        "updated_at": ticket.updated_at,
        "closed_at": ticket.closed_at,
        **status_info(session, ticket, lang),
    }
