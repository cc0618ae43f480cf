"""One ticket's trail for auditors: every audit event with its element's name and what it came
through, the SLA clocks, the escalations, the notifications, the chain's verification and what
the diagram highlights. Reads the audit trail and projections, never the workflow."""

from __future__ import annotations

import json
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import anchors
from engine import audit
from engine import definitions
from engine.errors import NotFound
from engine.identity import VIA_TOKEN
from engine.identity import Actor
from engine.models import ApiToken
from engine.models import Definition
from engine.models import DefinitionBundle
from engine.models import HumanTask
from engine.models import OutboxMessage
from engine.models import PendingTimer
from engine.models import ProcessInstance
from engine.models import Ticket
from engine.models import User
from engine.outbox import MAX_ATTEMPTS
from engine.runtime import Element
from engine.ticket_view import viewer_access
from engine.visibility import Access

CLOCK_EVENT = "clock_event"
# Clock events of a deadline passing or nearing: the escalations a ticket went through.
ESCALATING = frozenset({"breach", "grace_exceeded", "half", "overdue_reminder"})
READ_ACTION = "reporter_data_read"
EXPORT_COLUMNS = (
    "seq",
    "at",
    "actor",
    "via",
    "action",
    "element",
    "data",
    "prev_hash",
    "hash",
)


@dataclass(frozen=True)
class Event:
    seq: int
    at: datetime
    actor: str
    via: str | None
    action: str
    element_id: str | None
    element_name: str | None
    data: Any  # the parsed JSON
    raw_data: str  # the canonical JSON, exactly as hashed
    prev_hash: str
    hash: str

    def export_row(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "via": self.via,
            "action": self.action,
            "element": self.element_id,
            "data": self.raw_data,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


@dataclass(frozen=True)
class Clock:
    """A clock event passed: a start, pause, resume, fulfilment, breach ..."""

    at: datetime
    clock: str | None
    event: str
    element_id: str
    element_name: str


@dataclass(frozen=True)
class Escalation:
    at: datetime
    element_id: str
    element_name: str
    event: str  # the clock event (breach, grace_exceeded ...) or "level"
    level: int | None  # the escalation level the element set, if any


@dataclass(frozen=True)
class Waiting:
    kind: str  # task | timer
    element_id: str
    element_name: str
    group: str | None
    since: datetime | None
    due_at: datetime | None


@dataclass(frozen=True)
class Notification:
    at: datetime
    target: str  # reporter | follower | a group code
    recipients: list[str]  # masked where they are a person's contact
    element_name: str | None
    status: str | None
    attempts: int
    delivered_at: datetime | None
    state: str  # delivered | pending | failed


@dataclass(frozen=True)
class Trail:
    number: str
    title: str
    description: str
    status: str
    status_label: str
    category: str
    kecamatan: str | None
    opd: str | None
    confidential: bool
    anonymous: bool
    escalation_level: int
    breached: bool
    created_at: datetime
    first_response_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    due_at: datetime | None
    outcome: str | None
    definition_key: str
    definition_version: int
    events: Sequence[Event]
    clocks: Sequence[Clock]
    escalations: Sequence[Escalation]
    waiting: Sequence[Waiting]
    notifications: Sequence[Notification]
    problem: audit.Problem | None
    anchored: anchors.Proof | None  # the latest daily anchor covering the ticket, if any
    tokens: Mapping[str, str]  # via "token:<id>" -> "<label> (<username>)"
    bpmn: str | None
    markers: Mapping[str, list[str]]  # completed | waiting | escalated -> element ids
    access: Access


def _loaded(
    session: Session, number: str, actor: Actor
) -> tuple[Ticket, Access, ProcessInstance, Definition]:
    ticket, seen = viewer_access(session, number, actor=actor)
    found = session.execute(
        select(ProcessInstance, Definition)
        .join(Definition, Definition.id == ProcessInstance.definition_id)
        .where(ProcessInstance.ticket_id == ticket.id)
    ).first()
    if found is None:
        raise NotFound(f"no process for ticket {number}")
    return ticket, seen, found[0], found[1]


def events(session: Session, number: str, *, actor: Actor) -> list[Event]:
    """The ticket's audit events in order (the export)."""
    _, _, instance, definition = _loaded(session, number, actor)
    return _events(session, instance.id, _elements(session, definition))


def _elements(session: Session, definition: Definition) -> Mapping[str, Element]:
    bundle = definitions.bundle_for(session, definition)
    process = bundle.processes.get(definition.key)
    return process.elements if process is not None else {}


def _events(session: Session, instance_id: int, elements: Mapping[str, Element]) -> list[Event]:
    found = []
    for row in audit.history(session, instance_id):
        element = elements.get(row.element_id) if row.element_id else None
        found.append(
            Event(
                seq=row.seq,
                at=row.at,
                actor=row.actor,
                via=row.via,
                action=row.action,
                element_id=row.element_id,
                element_name=element.name if element is not None else None,
                data=_parsed(row.data),
                raw_data=row.data,
                prev_hash=row.prev_hash,
                hash=row.hash,
            )
        )
    return found


def _parsed(data: str) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        return data


def trail(session: Session, number: str, *, actor: Actor, lang: str = "id") -> Trail:
    """The whole trail of a ticket the actor may see (NotFound otherwise)."""
    ticket, seen, instance, definition = _loaded(session, number, actor)
    bundle = definitions.bundle_for(session, definition)
    process = bundle.processes.get(definition.key)
    elements = process.elements if process is not None else {}
    trail_events = _events(session, instance.id, elements)
    clocks, escalations, passed = _clocks(trail_events, elements)
    waiting = _waiting(session, instance.id, elements)
    return Trail(
        number=ticket.number,
        title=ticket.title,
        description=ticket.description,
        status=ticket.status,
        status_label=bundle.status_label(ticket.status, lang),
        category=ticket.category,
        kecamatan=ticket.kecamatan,
        opd=ticket.opd,
        confidential=ticket.confidential,
        anonymous=ticket.anonymous,
        escalation_level=ticket.escalation_level,
        breached=ticket.breached,
        created_at=ticket.created_at,
        first_response_at=ticket.first_response_at,
        resolved_at=ticket.resolved_at,
        closed_at=ticket.closed_at,
        due_at=ticket.due_at,
        outcome=ticket.outcome,
        definition_key=definition.key,
        definition_version=definition.version,
        events=trail_events,
        clocks=clocks,
        escalations=escalations,
        waiting=waiting,
        notifications=_notifications(session, ticket.id),
        problem=audit.verify_instance(session, instance.id),
        anchored=anchors.proof_for(session, instance.id),
        tokens=_tokens(session, trail_events),
        bpmn=_bpmn(session, definition, process),
        markers={
            "completed": sorted(passed),
            "waiting": sorted({w.element_id for w in waiting}),
            "escalated": sorted({e.element_id for e in escalations}),
        },
        access=seen,
    )


def _clocks(
    trail_events: Sequence[Event], elements: Mapping[str, Element]
) -> tuple[list[Clock], list[Escalation], set[str]]:
    clocks, escalations, passed = [], [], set()
    for event in trail_events:
        if event.element_id is None:
            continue
        if event.action in ("element_completed", "task_completed"):
            passed.add(event.element_id)
        element = elements.get(event.element_id)
        if event.action != "element_completed" or element is None:
            continue
        props = element.properties
        clock_event = props.get(CLOCK_EVENT)
        if clock_event:
            clocks.append(
                Clock(event.at, props.get("clock"), clock_event, element.element_id, element.name)
            )
        declared = props.get("escalation_level", "").strip()
        level = int(declared) if declared.isdigit() else None
        if clock_event in ESCALATING or (level is not None and level > 0):
            escalations.append(
                Escalation(
                    event.at, element.element_id, element.name, clock_event or "level", level
                )
            )
    return clocks, escalations, passed


def _waiting(session: Session, instance_id: int, elements: Mapping[str, Element]) -> list[Waiting]:
    def name(element_id: str) -> str:
        element = elements.get(element_id)
        return element.name if element is not None else element_id

    tasks = session.scalars(
        select(HumanTask)
        .where(HumanTask.instance_id == instance_id, HumanTask.completed_at.is_(None))
        .order_by(HumanTask.id)
    )
    timers = session.scalars(
        select(PendingTimer)
        .where(PendingTimer.instance_id == instance_id)
        .order_by(PendingTimer.due_at)
    )
    return [
        *(
            Waiting(
                "task", t.element_id, name(t.element_id), t.candidate_group, t.created_at, t.due_at
            )
            for t in tasks
        ),
        *(Waiting("timer", t.element_id, name(t.element_id), None, None, t.due_at) for t in timers),
    ]


def mask(contact: str) -> str:
    """A contact as an auditor's list shows it: enough to tell two apart, not to reach anyone."""
    contact = contact.strip()
    if "@" in contact:
        local, _, domain = contact.rpartition("@")
        return f"{local[:1]}***@{domain}"
    digits = [c for c in contact if c.isdigit()]
    if len(digits) >= 6:
        return "".join(digits[:2]) + "*" * (len(digits) - 4) + "".join(digits[-2:])
    return contact[:1] + "***"


def _notifications(session: Session, ticket_id: int) -> list[Notification]:
    found = []
    for row in session.scalars(
        select(OutboxMessage).where(OutboxMessage.ticket_id == ticket_id).order_by(OutboxMessage.id)
    ):
        payload = row.payload or {}
        person = row.topic.endswith("reporter")
        target = str(payload.get("notify") or "")
        if person and payload.get("follower"):
            target = "follower"
        if row.webhook_id is not None:  # a partner's subscription (engine.partner_hooks)
            target = f"webhook {row.webhook_id}"
        recipients = [str(r) for r in payload.get("recipients") or []]
        if person:
            recipients = [mask(r) for r in recipients]
        if row.delivered_at is not None:
            state = "delivered"
        elif row.attempts >= MAX_ATTEMPTS:
            state = "failed"
        else:
            state = "pending"
        found.append(
            Notification(
                at=row.created_at,
                target=target,
                recipients=recipients,
                element_name=payload.get("element_name") or payload.get("template") or row.topic,
                status=payload.get("status_label") or payload.get("status"),
                attempts=row.attempts,
                delivered_at=row.delivered_at,
                state=state,
            )
        )
    return found


def _tokens(session: Session, trail_events: Sequence[Event]) -> dict[str, str]:
    ids = {
        int(e.via.removeprefix(VIA_TOKEN))
        for e in trail_events
        if e.via and e.via.startswith(VIA_TOKEN) and e.via.removeprefix(VIA_TOKEN).isdigit()
    }
    if not ids:
        return {}
    rows = session.execute(
        select(ApiToken.id, ApiToken.name, User.username)
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.id.in_(ids))
    )
    return {f"{VIA_TOKEN}{i}": f"{name} ({username})" for i, name, username in rows}


def _bpmn(session: Session, definition: Definition, process: Any) -> str | None:
    """The BPMN file the ticket's definition version was deployed with."""
    row = session.get(DefinitionBundle, definition.bundle_id)
    if row is None or process is None:
        return None
    name = definitions.get_runtime().file_of(process)
    files: dict[str, Any] = row.files
    text = files.get(name) if name else None
    if text is None:  # one BPMN file per bundle is the rule; take it
        text = next((v for k, v in sorted(files.items()) if k.endswith(".bpmn")), None)
    return str(text) if text is not None else None


@dataclass(frozen=True)
class Reporter:
    name: str | None
    contact: str | None


def read_reporter(
    session: Session, number: str, *, actor: Actor, page: str, reason: str | None, now: datetime
) -> Reporter | None:
    """The reporter's name and contact as the actor may see them, the read written to the
    ticket's audit chain (who, from which page, why); None, and nothing written, when the
    actor may see neither (an anonymous reporter)."""
    ticket, seen, instance, _ = _loaded(session, number, actor)
    name = ticket.reporter_name if seen.sees_name else None
    contact = ticket.reporter_contact if seen.sees_contact else None
    fields = [f for f, v in (("reporter_name", name), ("reporter_contact", contact)) if v]
    if not seen.sees_name and not seen.sees_contact:
        return None
    audit.note(
        session,
        instance.id,
        ticket.number,
        [
            audit.Entry(
                actor.name,
                READ_ACTION,
                None,
                {"fields": fields, "page": page, "reason": reason or None},
                via=actor.via,
            )
        ],
        at=now,
    )
    return Reporter(name, contact)


def export_rows(trail_events: Sequence[Event]) -> Iterator[dict[str, Any]]:
    for event in trail_events:
        yield event.export_row()
