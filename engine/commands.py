"""Use cases that change a ticket: each one command, one transaction (rule 1).

Use cases flush; callers commit (and enqueue background work only after the commit).
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import asdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from typing import TypeVar

from sqlalchemy import bindparam
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from engine import attachments
from engine import audit
from engine import calendar
from engine import clock
from engine import definitions
from engine import forms
from engine import gallery
from engine import inputs
from engine import links
from engine import outbox
from engine import partner_hooks
from engine import projection
from engine import reporter
from engine import rowwrites
from engine import stays
from engine import tally
from engine import timeline
from engine.attachments import StoredImage
from engine.errors import Conflict
from engine.errors import Forbidden
from engine.errors import InvalidInput
from engine.errors import NotFound
from engine.errors import WorkflowFailed
from engine.identity import Actor
from engine.models import Category
from engine.models import Definition
from engine.models import HumanTask
from engine.models import Kecamatan
from engine.models import ProcessInstance
from engine.models import Ticket
from engine.numbers import new_ticket_number
from engine.runtime import EngineError
from engine.runtime import Instance
from engine.runtime import Step
from engine.runtime import TaskNotReady

T = TypeVar("T")
KINDS = ("complaint", "aspiration", "information_request")  # what a report can be


@dataclass(frozen=True)
class TicketInput:
    kind: str  # one of KINDS
    category: str
    title: str
    description: str
    location: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    kecamatan: str | None = None
    reporter_name: str | None = None
    reporter_contact: str | None = None
    anonymous: bool = False
    confidential: bool = False
    external_id: str | None = None  # a partner's own reference (kept for partner keys only)


@dataclass(frozen=True)
class CommandResult:
    ticket: Ticket
    instance: ProcessInstance
    changed: bool = True  # False when the command found nothing to do and wrote nothing
    reporter_secret: str | None = None  # the private link's secret, given once at submission


def submit_ticket(
    session: Session,
    *,
    data: TicketInput,
    actor: Actor,
    now: datetime,
    process_key: str = "complaint",
    photos: Sequence[StoredImage] = (),
) -> CommandResult:
    """Create a ticket and start its process, run to the first wait.

    ``photos`` (checked and stored already, engine.attachments) go on record with the ticket.
    The result carries the reporter's secret; only its hash is kept.
    """
    if len(photos) > attachments.MAX_PER_REPORT:
        raise InvalidInput(
            "too many photos",
            fields={"photos": [f"at most {attachments.MAX_PER_REPORT} photos"]},
        )
    kecamatan = _kecamatan(session, data.kecamatan)
    # The category and the latest definition in one statement (columns, not ORM objects).
    found = (
        session.connection()
        .execute(_CATEGORY_AND_DEFINITION, {"code": data.category, "key": process_key})
        .first()
    )
    category = (
        found[:2]
        if found is not None
        else session.execute(
            select(Category.active, Category.infrastructure).where(Category.code == data.category)
        ).first()
    )
    if category is None or not category[0]:
        raise InvalidInput(
            "unknown category", fields={"category": [f"unknown category '{data.category}'"]}
        )
    infrastructure = category[1]
    external_id = data.external_id if actor.partner_id is not None else None
    if external_id is not None:
        _check_external_id(session, actor.partner_id, external_id)
    definition = (
        definitions.DefinitionRef(*found[2:])
        if found is not None
        else definitions.latest_definition(session, process_key)  # raises NotDeployed
    )
    bundle = definitions.bundle_for(session, definition)
    process = bundle.processes[definition.key]
    secret, secret_hash = reporter.new_secret()
    ticket = Ticket(
        number=new_ticket_number(),
        status="received",
        created_at=now,
        updated_at=now,
        escalation_level=0,
        breached=False,
        reporter_user_id=actor.user_id,
        reporter_secret_hash=secret_hash,
        partner_id=actor.partner_id,
        **{**asdict(data), "kecamatan": kecamatan, "external_id": external_id},
    )
    start_data = {
        "ticket": ticket.number,
        "kind": data.kind,
        "category": data.category,
        "infrastructure": infrastructure,
        "kecamatan": kecamatan,
    }
    runtime = definitions.get_runtime()
    instance = _run_engine(session, now, lambda: runtime.start(process, start_data))
    # The ticket's public fields are projected before its INSERT, so it is written once.
    plan = _plan(ticket, instance, set(), now=now, new=True)
    row = ProcessInstance(
        ticket=ticket,
        definition_id=definition.id,
        state=runtime.dump(instance),
        serializer_version=runtime.serializer_version,
        completed=instance.completed,
        updated_at=now,
    )
    # ticket and instance are inserted in _write, once the audit head is known
    _write(
        session,
        row,
        ticket,
        instance,
        plan,
        actor=actor,
        now=now,
        entry=audit.Entry(
            actor.name,
            "ticket_submitted",
            None,
            {**start_data, "definition": definition.version, "photos": [p.sha256 for p in photos]},
            via=actor.via,
        ),
        known_open=False,
    )
    if photos:
        attachments.add(
            session,
            ticket_id=ticket.id,
            purpose="report",
            uploader=actor.name,
            images=photos,
            now=now,
            linked=True,
        )
    outbox.write_private_link(
        session, ticket, secret, status_label=bundle.status_label(ticket.status), now=now
    )
    return CommandResult(ticket, row, reporter_secret=secret)


_DEFINITION = Definition.__table__.c
_CATEGORY = Category.__table__.c
# The category and the latest definition of a process key in one Core statement, built once
# (a statement built per command was most of its cost): the columns of
# definitions.DefinitionRef after the category's two.
_CATEGORY_AND_DEFINITION = (
    select(
        _CATEGORY.active,
        _CATEGORY.infrastructure,
        _DEFINITION.id,
        _DEFINITION.key,
        _DEFINITION.version,
        _DEFINITION.bundle_id,
        _DEFINITION.content_hash,
    )
    .select_from(Category.__table__)
    .join(Definition.__table__, _DEFINITION.key == bindparam("key"))  # one category row
    .where(_CATEGORY.code == bindparam("code"))
    .order_by(_DEFINITION.version.desc())
    .limit(1)
)


_KECAMATAN_NAMES = select(Kecamatan.__table__.c.name)  # built once


def _kecamatan(session: Session, name: str | None) -> str | None:
    """The city's spelling of a kecamatan; any name passes while the city has no list."""
    if name is None or not name.strip():
        return None
    known: list[str] = list(session.connection().execute(_KECAMATAN_NAMES).scalars())
    if not known:
        return name.strip()
    for candidate in known:
        if candidate.casefold() == name.strip().casefold():
            return candidate
    raise InvalidInput(
        "unknown kecamatan", fields={"kecamatan": [f"one of {', '.join(sorted(known))}"]}
    )


def complete_task(
    session: Session,
    *,
    task_id: int,
    actor: Actor,
    data: Mapping[str, Any],
    now: datetime,
    expected_version: int | None = None,
) -> CommandResult:
    """Complete a READY human task with validated form data, as a member of its group."""
    inputs.check_size(data)
    # The task with its instance locked, ticket and definition: one SELECT.
    found = session.execute(_LOCK, {"task_id": task_id}).first()
    if found is None:
        raise NotFound(f"no task {task_id}")
    task, row, ticket, definition = found
    if task.completed_at is not None:
        raise Conflict(f"task {task_id} is no longer open ({task.outcome})")
    if task.candidate_group not in actor.groups:
        raise Forbidden(f"task {task_id} belongs to group '{task.candidate_group}'")
    instance = _restore(session, row, definition, expected_version=expected_version)
    bundle = definitions.bundle_for(session, definition)
    schema = bundle.forms.get(task.form) if task.form else None
    form_data = forms.validated(schema, links.normalized(schema, data))
    form_data = links.checked_references(session, ticket, schema, form_data)
    attachments.link_form_photos(
        session, ticket_id=ticket.id, schema=schema, data=form_data, now=now
    )
    before = instance.open_tasks()
    try:
        _run_engine(session, now, lambda: instance.complete_task(task.task_guid, form_data))
    except TaskNotReady:
        raise Conflict(f"task {task_id} is no longer ready") from None
    _save(
        session,
        row,
        ticket,
        instance,
        before,
        actor=actor,
        now=now,
        entry=audit.Entry(
            actor.name,
            "task_completed",
            task.element_id,
            {"task": task.id, "form": form_data},
            via=actor.via,
        ),
        updates=timeline.shared_fields(task.form, schema, form_data),
    )
    return CommandResult(ticket, row)


def correlate_message(
    session: Session,
    *,
    ticket_number: str,
    message: str,
    payload: Mapping[str, Any],
    actor: Actor,
    now: datetime,
    photos: Sequence[StoredImage] = (),
    author: str = timeline.REPORTER,
) -> CommandResult:
    """Deliver a BPMN message (a citizen's reply, say) to the ticket's waiting catch event.

    The message's ``text`` (or ``reason``) and its photos join the conversation the reporter
    and staff read.
    """
    instance_id = session.scalar(
        select(ProcessInstance.id)
        .join(Ticket, Ticket.id == ProcessInstance.ticket_id)
        .where(Ticket.number == ticket_number)
    )
    if instance_id is None:
        raise NotFound(f"no ticket {ticket_number}")
    row, ticket, _, instance = _load(session, instance_id, now=now)
    before = instance.open_tasks()
    delivered = _run_engine(session, now, lambda: instance.send_message(message, dict(payload)))
    if not delivered:
        raise Conflict(f"ticket {ticket_number} is not waiting for message '{message}'")
    _save(
        session,
        row,
        ticket,
        instance,
        before,
        actor=actor,
        now=now,
        entry=audit.Entry(
            actor.name,
            "message_correlated",
            None,
            {"message": message, "payload": dict(payload), "photos": [p.sha256 for p in photos]},
            via=actor.via,
        ),
        updates=_message_updates(session, ticket, message, payload, photos, author, actor, now),
    )
    return CommandResult(ticket, row)


def _message_updates(
    session: Session,
    ticket: Ticket,
    message: str,
    payload: Mapping[str, Any],
    photos: Sequence[StoredImage],
    author: str,
    actor: Actor,
    now: datetime,
) -> list[timeline.Update]:
    """The conversation entries of a reporter's message: its text, then one per photo."""
    text = payload.get("text") or payload.get("reason")
    updates = [
        timeline.Update(
            "message",
            "reporter",
            author,
            field=message,
            text=text.strip() if isinstance(text, str) and text.strip() else None,
        )
    ]
    if photos:
        purpose = "dispute" if "dispute" in message else "reply"
        rows = attachments.add(
            session,
            ticket_id=ticket.id,
            purpose=purpose,
            uploader=actor.name,
            images=photos,
            now=now,
            linked=True,
        )
        updates += [
            timeline.Update("message", "reporter", author, field=message, attachment_id=a.id)
            for a in rows
        ]
    return updates


def fire_timers(session: Session, *, instance_id: int, now: datetime) -> CommandResult:
    """Fire the instance's timers that are due at ``now`` and run on (a no-op if none is)."""
    row, ticket, _, instance = _load(session, instance_id, now=now)
    before = instance.open_tasks()
    _run_engine(session, now, instance.fire_due_timers)
    if not instance.steps:
        # Nothing was due (another sweeper fired it first): write nothing, so a repeated sweep
        # leaves no state change and no audit event behind.
        return CommandResult(ticket, row, changed=False)
    actor = Actor.system("timer")
    _save(
        session,
        row,
        ticket,
        instance,
        before,
        actor=actor,
        now=now,
        entry=audit.Entry(actor.name, "timers_checked", None, None, via=actor.via),
    )
    return CommandResult(ticket, row)


def lock_instance(session: Session, instance_id: int) -> tuple[ProcessInstance, Ticket, Definition]:
    """The instance row locked (FOR UPDATE where the database has it), its ticket and its
    definition, in one SELECT; NotFound if there is no such instance."""
    found = session.execute(_LOCK_INSTANCE, {"instance_id": instance_id}).first()
    if found is None:
        raise NotFound(f"no process instance {instance_id}")
    row, ticket, definition = found
    return row, ticket, definition


# The timer sweep's and a message's lock (lock_instance); built once, the id bound per call.
_LOCK_INSTANCE = (
    select(ProcessInstance, Ticket, Definition)
    .join(Ticket, Ticket.id == ProcessInstance.ticket_id)
    .join(Definition, Definition.id == ProcessInstance.definition_id)
    .where(ProcessInstance.id == bindparam("instance_id"))
    .with_for_update(of=ProcessInstance)
    .execution_options(populate_existing=True)
)


# A human task with its instance (locked), ticket and definition; built once, the task's id
# bound per call.
_LOCK = (
    select(HumanTask, ProcessInstance, Ticket, Definition)
    .select_from(HumanTask)
    .join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id)
    .join(Ticket, Ticket.id == ProcessInstance.ticket_id)
    .join(Definition, Definition.id == ProcessInstance.definition_id)
    .where(HumanTask.id == bindparam("task_id"))
    .with_for_update(of=ProcessInstance)
    .execution_options(populate_existing=True)
)


def _load(
    session: Session, instance_id: int, *, now: datetime, expected_version: int | None = None
) -> tuple[ProcessInstance, Ticket, Definition, Instance]:
    """Lock the instance row (FOR UPDATE where the database has it) and restore it."""
    row, ticket, definition = lock_instance(session, instance_id)
    instance = _restore(session, row, definition, expected_version=expected_version)
    return row, ticket, definition, instance


def _restore(
    session: Session,
    row: ProcessInstance,
    definition: Definition,
    *,
    expected_version: int | None = None,
) -> Instance:
    """The locked instance's workflow (Conflict if it is not at ``expected_version``)."""
    if expected_version is not None and row.version != expected_version:
        raise Conflict(f"the ticket changed (version {row.version}, you had {expected_version})")
    process = definitions.bundle_for(session, definition).processes[definition.key]
    return definitions.get_runtime().load(process, row.state)


def _save(
    session: Session,
    row: ProcessInstance,
    ticket: Ticket,
    instance: Instance,
    before: set[str],
    *,
    actor: Actor,
    now: datetime,
    entry: audit.Entry,
    updates: Sequence[timeline.Update] = (),
) -> None:
    row.state = definitions.get_runtime().dump(instance)
    row.completed = instance.completed
    row.updated_at = now
    plan = _plan(ticket, instance, before, now=now)
    _write(
        session,
        row,
        ticket,
        instance,
        plan,
        actor=actor,
        now=now,
        entry=entry,
        known_open=True,
        updates=updates,
    )


@dataclass(frozen=True)
class _Plan:
    """What a command changes, worked out before anything is written."""

    reached: list[Step]
    passed: list[Step]
    snap: projection.Snapshot
    status_before: str
    cells_before: tally.Cells
    closed_before: bool
    new: bool
    opd_before: str | None = None


def _plan(
    ticket: Ticket, instance: Instance, before: set[str], *, now: datetime, new: bool = False
) -> _Plan:
    """Project the ticket's public fields (in memory) from where the instance got to."""
    reached = [*instance.steps, *instance.reached_since(before)]
    snap = projection.snapshot(instance)
    status_before = ticket.status
    cells_before = tally.EMPTY if new else tally.cells(ticket)
    closed_before = ticket.closed_at is not None
    opd_before = ticket.opd
    projection.project_ticket(ticket, instance, reached, snap, now=now, before=before)
    passed = list(instance.steps)
    return _Plan(reached, passed, snap, status_before, cells_before, closed_before, new, opd_before)


def _write(
    session: Session,
    row: ProcessInstance,
    ticket: Ticket,
    instance: Instance,
    plan: _Plan,
    *,
    actor: Actor,
    now: datetime,
    entry: audit.Entry,
    known_open: bool,
    updates: Sequence[timeline.Update] = (),
) -> None:
    """Chain the audit, save instance and ticket (one INSERT or UPDATE each, engine.rowwrites),
    the projections, outbox, the timeline and the statistics.

    The instance row is written first, so the optimistic version check runs before any
    projection or audit row is written.
    """
    entries = [entry]
    entries += [
        audit.Entry(actor.name, "element_completed", s.element_id, s.delta, via=actor.via)
        for s in instance.steps
    ]
    if ticket.status != plan.status_before:
        entries.append(
            audit.Entry(
                actor.name,
                "status_changed",
                None,
                {"from": plan.status_before, "to": ticket.status},
                via=actor.via,
            )
        )
    rows = audit.chain(row, ticket.number, entries, at=now)
    instance.steps.clear()
    try:
        if plan.new:
            rowwrites.insert(session, ticket)
            row.ticket_id = ticket.id
            rowwrites.insert(session, row)
        else:
            rowwrites.update(session, row)  # the version check, before anything else is written
            rowwrites.update(session, ticket)
        session.flush()  # anything else the command changed through the ORM
    except StaleDataError:
        raise Conflict("the ticket was changed by someone else; reload and try again") from None
    try:
        projection.sync_rows(
            session,
            row,
            ticket,
            plan.snap,
            plan.reached,
            actor=actor.name,
            now=now,
            known_open=known_open,
        )
    except projection.LaneUnbound as exc:
        raise WorkflowFailed(str(exc), element_id=exc.element_id) from None
    links.apply(session, ticket, plan.passed, instance.data, now=now)
    outbox.write(session, row, ticket, instance, plan.reached, now=now)
    partner_hooks.write(
        session,
        row,
        ticket,
        status_before=plan.status_before,
        closed_before=plan.closed_before,
        updates=updates,
        now=now,
    )
    stays.keep(session, row, ticket, plan.passed, opd_before=plan.opd_before, now=now, new=plan.new)
    audit.write(session, row, rows)
    start = [timeline.Update("status", "public", timeline.SYSTEM, status=plan.status_before)]
    timeline.write(
        session,
        ticket.id,
        [
            *(start if plan.new else []),
            *updates,
            *timeline.statuses_reached(plan.reached, plan.status_before),
        ],
        at=now,
    )
    tally.apply(session, plan.cells_before, tally.cells(ticket))
    if ticket.closed_at is not None and not plan.closed_before:
        gallery.publish(session, ticket)


def _check_external_id(session: Session, partner_id: int | None, external_id: str) -> None:
    taken = session.scalar(
        select(Ticket.number).where(
            Ticket.partner_id == partner_id, Ticket.external_id == external_id
        )
    )
    if taken is not None:
        raise Conflict(
            f"external_id '{external_id}' is ticket {taken} already",
            fields={"external_id": [f"already ticket {taken}"]},
        )


@contextmanager
def _engine_context(session: Session, now: datetime) -> Iterator[None]:
    with clock.frozen_at(now), calendar.using_calendar(calendar.load_calendar(session)):
        yield


def _run_engine(session: Session, now: datetime, action: Callable[[], T]) -> T:
    """Run an engine action at ``now``; a failing script fails the command (rolled back)."""
    with _engine_context(session, now):
        try:
            return action()
        except EngineError as exc:
            raise WorkflowFailed(str(exc), element_id=exc.element_id) from None
