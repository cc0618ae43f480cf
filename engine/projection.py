"""Read-side projections written in the command's transaction (rule 3)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from collections.abc import Sequence
from collections.abc import Set
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection
from sqlalchemy import Table
from sqlalchemy import bindparam
from sqlalchemy import delete
from sqlalchemy import insert
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from engine import definitions
from engine.models import HumanTask
from engine.models import OpenTaskCount
from engine.models import PendingTimer
from engine.models import ProcessInstance
from engine.models import Ticket
from engine.runtime import Instance
from engine.runtime import ReadyTask
from engine.runtime import Step
from engine.runtime import WaitingTimer
from engine.upserts import upsert

DEADLINE_PROPERTY = "deadline"
MILESTONE_PROPERTY = "milestone"  # first_response | resolution: the statistics' clocks
BREACH = "breach"  # a clock_event: a timer of the clock fired


class LaneUnbound(Exception):
    """A lane names a process variable that has no value."""

    def __init__(self, element_id: str, variable: str) -> None:
        super().__init__(f"lane of '{element_id}' needs process variable '{variable}'")
        self.element_id = element_id


@dataclass(frozen=True)
class Snapshot:
    """What the projections need from an instance, read once per command."""

    ready: Sequence[ReadyTask]
    timers: Sequence[WaitingTimer]
    deadlines: Mapping[str, datetime]  # ready task guid -> due time of its deadline timer
    messages: frozenset[str] = frozenset()  # names of the BPMN messages the instance awaits


def snapshot(instance: Instance) -> Snapshot:
    timers = instance.waiting_timers()
    deadlines = {
        t.attached_to: t.due_at
        for t in timers
        if t.attached_to and t.properties.get(DEADLINE_PROPERTY, "").lower() == "true"
    }
    messages = frozenset(m.message for m in instance.waiting_messages())
    return Snapshot(instance.ready_tasks(), timers, deadlines, messages)


def sync_rows(
    session: Session,
    row: ProcessInstance,
    ticket: Ticket,
    snap: Snapshot,
    reached: Sequence[Step],
    *,
    actor: str,
    now: datetime,
    known_open: bool,
) -> None:
    """Write the ``human_task`` and ``pending_timer`` rows (the ticket's own fields aside).

    Plain Core statements on the session's connection (the ORM's per-statement work is most
    of a command's cost); a HumanTask object the session holds is kept in step by hand.
    """
    conn = session.connection()
    ready, deadlines = snap.ready, snap.deadlines
    ready_guids = {t.guid for t in ready}

    open_rows: dict[str, int] = {}
    open_groups: dict[str, str] = {}
    if known_open:
        for guid, task_id, group in conn.execute(_OPEN_TASKS, {"instance_id": row.id}):
            open_rows[guid], open_groups[guid] = task_id, group
    gone = [guid for guid in open_rows if guid not in ready_guids]
    counted: Counter[str] = Counter()  # open tasks per group: +1 opened, -1 closed
    if gone:
        completed = {s.guid for s in reached}
        for guid in gone:
            done = guid in completed
            values = {
                "completed_at": now,
                "completed_by": actor if done else None,
                "outcome": "completed" if done else "cancelled",
            }
            conn.execute(_UPDATE_TASK, {**values, "w_id": open_rows[guid]})
            _refresh(session, open_rows[guid], values)
            counted[open_groups[guid]] -= 1
    new_tasks = []
    for task in ready:
        if task.guid in open_rows:
            continue
        try:
            group = definitions.lane_group(task.lane, task.data)
        except KeyError as exc:
            raise LaneUnbound(task.element_id, str(exc.args[0])) from None
        new_tasks.append(
            {
                "instance_id": row.id,
                "ticket_id": ticket.id,
                "task_guid": task.guid,
                "element_id": task.element_id,
                "title": task.title,
                "candidate_group": group or "",
                "form": task.properties.get(definitions.FORM_PROPERTY),
                "created_at": now,
                "due_at": deadlines.get(task.guid),
                "category": ticket.category,
                "kecamatan": ticket.kecamatan,
            }
        )
    if new_tasks:
        conn.execute(_INSERT_TASK, new_tasks)
    for new in new_tasks:
        counted[str(new["candidate_group"])] += 1
    _count_open_tasks(session, ticket, counted)
    for guid in ready_guids & open_rows.keys():
        if guid in deadlines:
            values = {"due_at": deadlines[guid]}
            conn.execute(_UPDATE_TASK, {**values, "w_id": open_rows[guid]})
            _refresh(session, open_rows[guid], values)
    _sync_timers(conn, row, snap.timers, known_open=known_open)


def _count_open_tasks(session: Session, ticket: Ticket, counted: Counter[str]) -> None:
    """Move the open-task counts of the ticket's category and kecamatan (one statement)."""
    rows = [
        {
            "candidate_group": group,
            "category": ticket.category,
            "kecamatan": ticket.kecamatan or "",
            "count": n,
        }
        for group, n in sorted(counted.items())
        if n
    ]
    upsert(session.connection(), _OPEN_COUNT, rows, _OPEN_COUNT_KEY, "count", "add")


_OPEN_COUNT_KEY = ("candidate_group", "category", "kecamatan")
_TASK: Table = HumanTask.__table__  # type: ignore[assignment]
_OPEN_COUNT: Table = OpenTaskCount.__table__  # type: ignore[assignment]
_TIMER: Table = PendingTimer.__table__  # type: ignore[assignment]

# The statements of every command, built once: a statement built anew costs four times its
# execution in SQLAlchemy (the construct and its cache key); the values are bound at execution.
# An UPDATE's SET clause is the parameters' other keys.
_OPEN_TASKS = select(_TASK.c.task_guid, _TASK.c.id, _TASK.c.candidate_group).where(
    _TASK.c.instance_id == bindparam("instance_id"), _TASK.c.completed_at.is_(None)
)
_UPDATE_TASK = update(_TASK).where(_TASK.c.id == bindparam("w_id"))
_INSERT_TASK = insert(_TASK)
_TIMERS = select(_TIMER.c.task_guid, _TIMER.c.due_at).where(
    _TIMER.c.instance_id == bindparam("instance_id")
)
_DELETE_TIMERS = delete(_TIMER).where(_TIMER.c.task_guid.in_(bindparam("guids", expanding=True)))
_INSERT_TIMER = insert(_TIMER)
_UPDATE_TIMER = update(_TIMER).where(_TIMER.c.task_guid == bindparam("w_guid"))


def _refresh(session: Session, task_id: int, values: Mapping[str, Any]) -> None:
    """Give a HumanTask the session already holds the values just written (as the ORM would)."""
    held = session.identity_map.get(identity_key(HumanTask, task_id))
    if held is not None:
        for key, value in values.items():
            set_committed_value(held, key, value)


def _sync_timers(
    conn: Connection, row: ProcessInstance, timers: Sequence[WaitingTimer], *, known_open: bool
) -> None:
    stored: dict[str, datetime] = {}
    if known_open:
        stored = dict(conn.execute(_TIMERS, {"instance_id": row.id}).all())
    wanted = {t.guid: t for t in timers}
    gone = [guid for guid in stored if guid not in wanted]
    if gone:
        conn.execute(_DELETE_TIMERS, {"guids": gone})
    new = [
        {"instance_id": row.id, "task_guid": t.guid, "element_id": t.element_id, "due_at": t.due_at}
        for t in timers
        if t.guid not in stored
    ]
    if new:
        conn.execute(_INSERT_TIMER, new)
    for t in timers:
        if t.guid in stored and stored[t.guid] != t.due_at:  # a cycle timer moved on
            conn.execute(
                _UPDATE_TIMER,
                {"w_guid": t.guid, "due_at": t.due_at, "claimed_by": None, "claimed_until": None},
            )


def project_ticket(
    ticket: Ticket,
    instance: Instance,
    reached: Sequence[Step],
    snap: Snapshot,
    *,
    now: datetime,
    before: Set[str] = frozenset(),
) -> None:
    """Set the ticket's public fields from the elements reached and the instance's data."""
    deadlines = snap.deadlines
    level: int | None = None
    for step in reached:
        status = step.properties.get("status")
        if status:
            ticket.status = status
        outcome = step.properties.get("outcome")
        if outcome:
            ticket.outcome = outcome
        level = escalation_level_after(step, level, ticket.escalation_level or 0)
    # Milestones and breaches count only elements passed, not boundary timers now waiting.
    for step in instance.steps:
        milestone = step.properties.get(MILESTONE_PROPERTY)
        if milestone == "first_response" and ticket.first_response_at is None:
            ticket.first_response_at = now
        elif milestone == "resolution":
            ticket.resolved_at = now
        if is_breach(step):
            ticket.breached = True
    data = instance.data
    if isinstance(data.get("opd"), str):
        ticket.opd = data["opd"]
    if level is not None:
        ticket.escalation_level = level
    due = list(deadlines.values())
    # A task still open from before whose deadline timer has fired (a breach) keeps its due
    # time: the ticket is overdue, not without a deadline.
    if ticket.due_at is not None and any(
        t.guid in before and t.guid not in deadlines for t in snap.ready
    ):
        due.append(ticket.due_at)
    ticket.due_at = min(due) if due else None
    ticket.awaiting = ",".join(sorted(snap.messages)) or None
    ticket.updated_at = now
    if instance.completed and ticket.closed_at is None:
        ticket.closed_at = now


def is_breach(step: Step) -> bool:
    """A deadline of the city missed: a ``deadline`` timer whose ``clock_event`` is a breach.

    The reporter's own windows (reply, confirmation) are clocks too, but not deadlines: a
    reporter's silence is not the city being late.
    """
    props = step.properties
    return props.get("clock_event") == BREACH and props.get(DEADLINE_PROPERTY, "").lower() == "true"


def escalation_level_after(step: Step, level: int | None, current: int = 0) -> int | None:
    """The level after an element passed: its ``escalation_level`` property, else a script's.

    Read per element passed, not from the instance's data: a non-interrupting timer's branch
    carries a copy of the data from when its task started, so "the latest data" of a ticket
    with several escalation branches is not its current level.

    0 resets the level (a clock stopped, paused or handed back). A higher value only raises
    it: ``max`` of the level so far (``level``, else the ticket's ``current`` one) and the
    value, so a sweep that fires a breach (1) and the supervisor escalation (2) in one go ends
    at 2 whatever order the engine ran them in.
    """
    declared = step.properties.get("escalation_level", "").strip()
    value: int | None = None
    if declared.isdigit():
        value = int(declared)
    else:
        changed = step.delta.get("escalation_level")
        if isinstance(changed, int) and not isinstance(changed, bool):
            value = changed
    if value is None:
        return level
    if value <= 0:
        return 0
    return max(current if level is None else level, value)
