"""Moving running tickets to another deployed version of their process.

A dry run says, per running ticket, whether it can move and why not (engine.runtime.moving
has the rules). Applying moves the movable ones in batches, one transaction per ticket with
the instance's version check (rule 1): the state restored against the target, the
projections recomputed from it, and one ``migrated`` audit event in the ticket's chain.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from typing import Any

from sqlalchemy import Table
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from engine import audit
from engine import calendar
from engine import clock
from engine import commands
from engine import definitions
from engine import projection
from engine import tally
from engine.errors import Conflict
from engine.errors import InvalidInput
from engine.errors import NotFound
from engine.models import Definition
from engine.models import HumanTask
from engine.models import PendingTimer
from engine.models import ProcessInstance
from engine.models import Ticket
from engine.runtime import Finding
from engine.runtime import NotMovable
from engine.runtime import WaitingTimer
from engine.runtime import describe

ACTION = "migrated"  # the audit event of a move
MOVED, NOT_MOVABLE, CONFLICT, SKIPPED = "moved", "not_movable", "conflict", "skipped"
_TASK: Table = HumanTask.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class TicketCheck:
    """One running ticket in a dry run."""

    instance_id: int
    ticket_number: str
    instance_version: int  # the row version the check saw
    from_version: int
    waiting: tuple[str, ...]
    problems: tuple[Finding, ...]
    changes: tuple[Finding, ...]

    @property
    def movable(self) -> bool:
        return not self.problems

    @property
    def notable(self) -> tuple[Finding, ...]:
        """Why not, else what changes beyond timers that keep their due time."""
        return self.problems or tuple(f for f in self.changes if f.code != "timer_carried")

    @property
    def reason(self) -> str:
        """``notable`` in one line of plain words."""
        return "; ".join(describe(f) for f in self.notable)


@dataclass(frozen=True)
class DryRun:
    key: str
    to_version: int
    from_version: int | None
    total: int  # running tickets that would be considered (all pages)
    tickets: list[TicketCheck]


@dataclass(frozen=True)
class Outcome:
    """What applying did to one ticket."""

    ticket_number: str
    result: str  # moved | not_movable | conflict | skipped
    findings: tuple[Finding, ...] = ()
    message: str = ""
    audit_seq: int | None = None  # the ``migrated`` event of a move, in the ticket's chain
    audit_hash: str | None = None

    @property
    def reason(self) -> str:
        return self.message or "; ".join(describe(f) for f in self.findings)


def dry_run(
    session: Session,
    *,
    key: str,
    to_version: int,
    from_version: int | None = None,
    offset: int = 0,
    limit: int | None = None,
) -> DryRun:
    """Check each running ticket (a page of them, by instance id) against the target version."""
    target = _definition(session, key, to_version)
    if from_version is not None:
        _definition(session, key, from_version)
        if from_version == to_version:
            raise InvalidInput(
                "from and to are the same version", fields={"to": ["pick another version"]}
            )
    query = _running(key, to_version, from_version)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.execute(query.order_by(ProcessInstance.id).offset(offset).limit(limit)).all()
    runtime = definitions.get_runtime()
    target_process = definitions.bundle_for(session, target).processes[key]
    checks = []
    for instance_id, number, row_version, state, definition in rows:
        source = definitions.bundle_for(session, definition).processes[key]
        found = runtime.check_move(source, target_process, state)
        checks.append(
            TicketCheck(
                instance_id,
                number,
                row_version,
                definition.version,
                found.waiting,
                found.problems,
                found.changes,
            )
        )
    return DryRun(key, to_version, from_version, total, checks)


def apply(
    factory: sessionmaker[Session],
    *,
    key: str,
    to_version: int,
    from_version: int | None = None,
    actor: str,
    now: datetime,
    batch: int = 100,
    expected: Mapping[int, int] | None = None,
    checked_at: datetime | None = None,
    each: Callable[[Outcome], None] | None = None,
) -> list[Outcome]:
    """Move every running ticket that can move, ``batch`` at a time, each in its own transaction.

    ``expected`` maps instance ids to the row versions a dry run saw, or ``checked_at`` is when
    the dry run was read: a ticket changed since (a command ran) is reported as a conflict and
    left where it is. Any ticket that loses to a
    concurrent command is reported the same way; the others go on. ``each`` hears every
    outcome as it happens (the CLI prints them).
    """
    if batch < 1:
        raise InvalidInput("the batch size must be at least 1", fields={"batch": [">= 1"]})
    with factory() as session:
        target = _definition(session, key, to_version)
        if from_version is not None:
            _definition(session, key, from_version)
    outcomes: list[Outcome] = []
    last_id = 0
    while True:
        with factory() as session:
            ids = session.scalars(
                _running(key, to_version, from_version)
                .with_only_columns(ProcessInstance.id)
                .where(ProcessInstance.id > last_id)
                .order_by(ProcessInstance.id)
                .limit(batch)
            ).all()
        if not ids:
            return outcomes
        last_id = ids[-1]
        for instance_id in ids:
            if expected is not None and instance_id not in expected:
                continue  # not in the dry run that was confirmed
            outcome = _apply_one(
                factory,
                instance_id,
                target.id,
                from_version,
                actor=actor,
                now=now,
                expected_version=None if expected is None else expected[instance_id],
                checked_at=checked_at,
            )
            outcomes.append(outcome)
            if each is not None:
                each(outcome)


def _apply_one(
    factory: sessionmaker[Session],
    instance_id: int,
    target_id: int,
    from_version: int | None,
    *,
    actor: str,
    now: datetime,
    expected_version: int | None,
    checked_at: datetime | None,
) -> Outcome:
    session = factory()
    try:
        with session.begin():
            return move_ticket(
                session,
                instance_id=instance_id,
                target_id=target_id,
                from_version=from_version,
                actor=actor,
                now=now,
                expected_version=expected_version,
                checked_at=checked_at,
            )
    except Conflict as exc:
        number = _number(factory, instance_id)
        return Outcome(number, CONFLICT, message=str(exc))
    finally:
        session.close()


def move_ticket(
    session: Session,
    *,
    instance_id: int,
    target_id: int,
    actor: str,
    now: datetime,
    from_version: int | None = None,
    expected_version: int | None = None,
    checked_at: datetime | None = None,
) -> Outcome:
    """Move one ticket to the target definition (one command: the caller commits).

    Raises Conflict when the ticket changed since ``expected_version`` or a concurrent
    command wins the instance row; a refused move writes nothing and says why.
    """
    row, ticket, source_def = commands.lock_instance(session, instance_id)
    target_def = session.get(Definition, target_id)
    if target_def is None:
        raise NotFound(f"no definition {target_id}")
    number = ticket.number
    if row.completed:
        return Outcome(number, SKIPPED, message="the ticket is closed")
    if source_def.id == target_def.id:
        return Outcome(number, SKIPPED, message=f"already on version {target_def.version}")
    if from_version is not None and source_def.version != from_version:
        return Outcome(number, SKIPPED, message=f"on version {source_def.version}")
    if expected_version is not None and row.version != expected_version:
        raise Conflict(f"the ticket changed since the dry run (version {row.version})")
    if checked_at is not None and _aware(row.updated_at) > checked_at:
        raise Conflict(f"the ticket changed since the dry run (at {_iso(row.updated_at)})")
    source = definitions.bundle_for(session, source_def).processes[source_def.key]
    target = definitions.bundle_for(session, target_def).processes[target_def.key]
    runtime = definitions.get_runtime()
    with clock.frozen_at(now), calendar.using_calendar(calendar.load_calendar(session)):
        try:
            instance, found_check = runtime.move(source, target, row.state)
        except NotMovable as exc:
            return Outcome(number, NOT_MOVABLE, exc.check.problems)
        snap = projection.snapshot(instance)
    timers_before = dict(
        session.execute(
            select(PendingTimer.task_guid, PendingTimer.due_at).where(
                PendingTimer.instance_id == row.id
            )
        ).all()
    )
    cells_before = tally.cells(ticket)
    projection.project_ticket(ticket, instance, [], snap, now=now, before=instance.open_tasks())
    row.state = runtime.dump(instance)
    row.serializer_version = runtime.serializer_version
    row.definition_id = target_def.id
    row.updated_at = now
    timers = _timer_moves(timers_before, snap.timers)
    data: dict[str, Any] = {
        "key": target_def.key,
        "from": source_def.version,
        "to": target_def.version,
        "waiting": list(found_check.waiting),
        "changes": [_finding_data(f) for f in found_check.changes],
        "timers": timers,
    }
    rows = audit.chain(row, number, [audit.Entry(actor, ACTION, None, data)], at=now)
    try:
        session.flush()
    except StaleDataError:
        raise Conflict("the ticket was changed by someone else meanwhile") from None
    projection.sync_rows(session, row, ticket, snap, [], actor=actor, now=now, known_open=True)
    _retitle_tasks(session, row.id, snap)
    audit.write(session, row, rows)
    tally.apply(session, cells_before, tally.cells(ticket))
    return Outcome(number, MOVED, found_check.changes, "", row.audit_seq, row.audit_head)


def _timer_moves(
    before: Mapping[str, datetime], timers: Sequence[WaitingTimer]
) -> dict[str, dict[str, str | None]]:
    """Per waiting timer element: its due time before and after the move."""
    moves: dict[str, dict[str, str | None]] = {}
    for t in timers:
        old = before.get(t.guid)
        moves[t.element_id] = {
            "before": _iso(old) if old is not None else None,
            "after": _iso(t.due_at),
        }
    return moves


def _iso(moment: datetime) -> str:
    return _aware(moment).isoformat()


def _aware(moment: datetime) -> datetime:
    """UTC; SQLite hands back naive UTC datetimes, PostgreSQL aware ones."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC)


def _retitle_tasks(session: Session, instance_id: int, snap: projection.Snapshot) -> None:
    """Open human tasks take their title and form from the target version."""
    conn = session.connection()
    for task in snap.ready:
        conn.execute(
            update(_TASK)
            .where(_TASK.c.task_guid == task.guid, _TASK.c.completed_at.is_(None))
            .values(title=task.title, form=task.properties.get(definitions.FORM_PROPERTY))
        )
    for held in session.identity_map.values():
        if isinstance(held, HumanTask) and held.instance_id == instance_id:
            session.expire(held)


def _finding_data(f: Finding) -> dict[str, Any]:
    return {"code": f.code, "element": f.element_id, "before": f.before, "after": f.after}


def _definition(session: Session, key: str, version: int) -> Definition:
    found = session.scalar(
        select(Definition).where(Definition.key == key, Definition.version == version)
    )
    if found is None:
        raise NotFound(f"process '{key}' has no version {version}")
    return found


def _running(key: str, to_version: int, from_version: int | None) -> Any:
    query = (
        select(
            ProcessInstance.id,
            Ticket.number,
            ProcessInstance.version,
            ProcessInstance.state,
            Definition,
        )
        .join(Ticket, Ticket.id == ProcessInstance.ticket_id)
        .join(Definition, Definition.id == ProcessInstance.definition_id)
        .where(
            Definition.key == key,
            Definition.version != to_version,
            ProcessInstance.completed.is_(False),
        )
    )
    if from_version is not None:
        query = query.where(Definition.version == from_version)
    return query


def _number(factory: sessionmaker[Session], instance_id: int) -> str:
    with factory() as session:
        number = session.scalar(
            select(Ticket.number)
            .join(ProcessInstance, ProcessInstance.ticket_id == Ticket.id)
            .where(ProcessInstance.id == instance_id)
        )
    return number or f"#{instance_id}"


def versions(session: Session, key: str) -> list[tuple[int, int]]:
    """Each deployed version of a process and how many tickets run on it."""
    counts = dict(
        session.execute(
            select(Definition.version, func.count(ProcessInstance.id))
            .join(ProcessInstance, ProcessInstance.definition_id == Definition.id)
            .where(Definition.key == key, ProcessInstance.completed.is_(False))
            .group_by(Definition.version)
        ).all()
    )
    deployed = session.scalars(
        select(Definition.version).where(Definition.key == key).order_by(Definition.version)
    ).all()
    return [(v, counts.get(v, 0)) for v in deployed]
