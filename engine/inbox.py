"""The officer's inbox: open tasks of one's groups, overdue first, filtered, counted, by cursor.

Reads the ``human_task`` projection (which carries the ticket's category and kecamatan, so
filters and counts need no join) and joins the ticket only for the page's rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from datetime import timedelta

from sqlalchemy import ColumnElement
from sqlalchemy import Select
from sqlalchemy import and_
from sqlalchemy import func
from sqlalchemy import literal
from sqlalchemy import null
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import union_all
from sqlalchemy.orm import Session

from engine import definitions
from engine import forms
from engine import numbers
from engine.calendar import JAKARTA
from engine.models import HumanTask
from engine.models import OpenTaskCount
from engine.models import ProcessInstance
from engine.models import Ticket

PAGE = 25
# Overdue and due-today are counted from the index up to this many and then shown as "999+":
# an OPD with a backlog of thousands would otherwise count every overdue task on every visit.
COUNT_CAP = 999
_FAR = datetime(9999, 1, 1, tzinfo=UTC)  # no due time sorts last


@dataclass(frozen=True)
class Filters:
    overdue: bool = False
    due_today: bool = False
    category: str | None = None
    kecamatan: str | None = None
    opd: str | None = None  # for heads and supervisors: tasks of this OPD's groups
    number: str | None = None


@dataclass(frozen=True)
class Row:
    id: int
    ticket: str
    ticket_title: str
    element_id: str
    title: str
    candidate_group: str
    category: str
    kecamatan: str | None
    created_at: datetime
    received_at: datetime
    due_at: datetime | None
    escalation_level: int
    claimed_by: str | None
    confidential: bool
    version: int
    form: str | None
    definition_id: int


@dataclass(frozen=True)
class Counts:
    all: int
    overdue: int  # at most COUNT_CAP + 1 (more than the cap)
    due_today: int  # likewise
    by_category: dict[str, int]
    by_kecamatan: dict[str, int]

    @staticmethod
    def shown(n: int) -> str:
        """A capped count as the page says it: "12", or "999+" past the cap."""
        return f"{COUNT_CAP}+" if n > COUNT_CAP else str(n)


def _end_of_day(now: datetime) -> datetime:
    midnight = now.astimezone(JAKARTA).replace(hour=0, minute=0, second=0, microsecond=0)
    return (midnight + timedelta(days=1)).astimezone(UTC)


def _open(groups: Iterable[str]) -> list[ColumnElement[bool]]:
    return [HumanTask.candidate_group.in_(sorted(set(groups))), HumanTask.completed_at.is_(None)]


def _filtered(groups: Iterable[str], filters: Filters, now: datetime) -> list[ColumnElement[bool]]:
    where = _open(groups)
    if filters.overdue:
        where.append(HumanTask.due_at < now)
    if filters.due_today:
        where.append(and_(HumanTask.due_at >= now, HumanTask.due_at < _end_of_day(now)))
    if filters.category:
        where.append(HumanTask.category == filters.category)
    if filters.kecamatan:
        where.append(HumanTask.kecamatan == filters.kecamatan)
    if filters.opd:
        where.append(
            or_(
                HumanTask.candidate_group == filters.opd,
                HumanTask.candidate_group == filters.opd + "_head",
            )
        )
    if filters.number:
        number = numbers.canonical(filters.number) or "-"  # a non-number matches nothing
        where.append(HumanTask.ticket_id.in_(select(Ticket.id).where(Ticket.number == number)))
    return where


def page(
    session: Session,
    groups: Iterable[str],
    *,
    now: datetime,
    filters: Filters = Filters(),
    after: str | None = None,
    limit: int = PAGE,
) -> tuple[Sequence[Row], str | None]:
    """One page of open tasks, the most urgent first; the cursor of the next page or None.

    Read in the order of ``ix_human_task_open`` (group, completed_at, due_at, id): for one
    group an index range read up to the page's length; for several (an OPD head's), the first
    rows of each group, merged. No task without a deadline comes before one with a deadline.
    """
    order = (HumanTask.completed_at, HumanTask.due_at.asc().nulls_last(), HumanTask.id)
    beyond = _after(_parse(after))
    chosen = sorted(set(groups))
    if len(chosen) > 1:
        firsts = [
            select(HumanTask.id)
            .where(*_filtered([g], filters, now), *beyond)
            .order_by(*order)
            .limit(limit + 1)
            .subquery()
            for g in chosen
        ]
        ids = union_all(*(select(f.c.id) for f in firsts)).subquery()
        where: list[ColumnElement[bool]] = [HumanTask.id.in_(select(ids.c.id))]
    else:
        where = [*_filtered(chosen, filters, now), *beyond]
    rows = session.execute(
        select(
            HumanTask.id,
            Ticket.number,
            Ticket.title,
            HumanTask.element_id,
            HumanTask.title,
            HumanTask.candidate_group,
            Ticket.category,
            Ticket.kecamatan,
            HumanTask.created_at,
            Ticket.created_at,
            HumanTask.due_at,
            Ticket.escalation_level,
            HumanTask.claimed_by,
            Ticket.confidential,
            ProcessInstance.version,
            HumanTask.form,
            ProcessInstance.definition_id,
        )
        .join(Ticket, Ticket.id == HumanTask.ticket_id)
        .join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id)
        .where(*where)
        .order_by(*order)
        .limit(limit + 1)
    ).all()
    found = [Row(*r) for r in rows[:limit]]  # type: ignore[call-arg]  # columns, not entities
    more = _cursor(found[-1]) if len(rows) > limit and found else None
    return found, more


def _after(position: tuple[datetime, int] | None) -> list[ColumnElement[bool]]:
    """The rows after a cursor in the page's order (tasks without a deadline come last)."""
    if position is None:
        return []
    due_at, task_id = position
    if due_at >= _FAR:
        return [HumanTask.due_at.is_(None), HumanTask.id > task_id]
    return [
        or_(
            HumanTask.due_at > due_at,
            and_(HumanTask.due_at == due_at, HumanTask.id > task_id),
            HumanTask.due_at.is_(None),
        )
    ]


def titles(session: Session, rows: Sequence[Row], lang: str) -> dict[int, str]:
    """Each task's title in ``lang``: its form's ``x-laksa-title``, else the BPMN name."""
    found: dict[int, str] = {}
    bundles = {i: definitions.bundle_of(session, i) for i in {r.definition_id for r in rows}}
    for r in rows:
        schema = bundles[r.definition_id].forms.get(r.form) if r.form else None
        found[r.id] = forms.text_in(schema or {}, forms.TITLE_KEY, "title", lang) or r.title
    return found


def counts(
    session: Session, groups: Iterable[str], *, now: datetime, opd: str | None = None
) -> Counts:
    """How many open tasks each filter would show (within the OPD filter, if any).

    By category and kecamatan from the counts the commands keep (``open_task_count``);
    overdue and due today as two index range counts, each stopped past COUNT_CAP; all in
    one statement.
    """
    chosen = sorted(set(groups))
    if opd is not None:
        chosen = [g for g in chosen if g in (opd, opd + "_head")]
    end_of_day = _end_of_day(now)
    open_in = (HumanTask.candidate_group.in_(chosen), HumanTask.completed_at.is_(None))
    kept = select(
        literal("kept"), OpenTaskCount.category, OpenTaskCount.kecamatan, OpenTaskCount.count
    ).where(OpenTaskCount.candidate_group.in_(chosen), OpenTaskCount.count != 0)
    # Overdue, then due today: two ranges of ix_human_task_open, each counted up to the cap.
    overdue_rows = _capped("overdue", *open_in, HumanTask.due_at < now)
    today_rows = _capped("today", *open_in, HumanTask.due_at >= now, HumanTask.due_at < end_of_day)
    by_category: dict[str, int] = {}
    by_kecamatan: dict[str, int] = {}
    total = overdue = today = 0
    rows: Sequence[tuple[str, str, str | None, int]] = session.execute(  # one round trip
        union_all(kept, overdue_rows, today_rows)
    ).all()  # type: ignore[assignment]  # the union's columns, untyped
    for kind, category, kecamatan, n in rows:
        if kind == "overdue":
            overdue = n
        elif kind == "today":
            today = n
        else:
            total += n
            by_category[category] = by_category.get(category, 0) + n
            if kecamatan:
                by_kecamatan[kecamatan] = by_kecamatan.get(kecamatan, 0) + n
    return Counts(total, overdue, today, by_category, by_kecamatan)


def _capped(kind: str, *where: ColumnElement[bool]) -> Select[str, None, None, int]:
    """``(kind, NULL, NULL, n)``: the rows matching ``where``, counted up to COUNT_CAP + 1."""
    first = select(HumanTask.id).where(*where).limit(COUNT_CAP + 1).subquery()
    return select(literal(kind), null(), null(), func.count()).select_from(first)


def _cursor(row: Row) -> str:
    due = row.due_at or _FAR
    return f"{due.timestamp():.6f}_{row.id}"


def _parse(cursor: str | None) -> tuple[datetime, int] | None:
    if not cursor:
        return None
    try:
        stamp, _, task_id = cursor.partition("_")
        return datetime.fromtimestamp(float(stamp), UTC), int(task_id)
    except (ValueError, OverflowError, OSError):
        return None
