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
from sqlalchemy import and_
from sqlalchemy import func
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import definitions
from engine import forms
from engine import numbers
from engine.calendar import JAKARTA
from engine.models import Definition
from engine.models import HumanTask
from engine.models import ProcessInstance
from engine.models import Ticket

PAGE = 25
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
    overdue: int
    due_today: int
    by_category: dict[str, int]
    by_kecamatan: dict[str, int]


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
    """One page of open tasks, the most urgent first; the cursor of the next page or None."""
    due = func.coalesce(HumanTask.due_at, _FAR)
    query = (
        select(HumanTask, Ticket, ProcessInstance.version, ProcessInstance.definition_id)
        .join(Ticket, Ticket.id == HumanTask.ticket_id)
        .join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id)
        .where(*_filtered(groups, filters, now))
        .order_by(due, HumanTask.id)
        .limit(limit + 1)
    )
    position = _parse(after)
    if position is not None:
        query = query.where(
            or_(due > position[0], and_(due == position[0], HumanTask.id > position[1]))
        )
    rows = session.execute(query).all()
    found = [
        Row(
            t.id,
            ticket.number,
            ticket.title,
            t.element_id,
            t.title,
            t.candidate_group,
            ticket.category,
            ticket.kecamatan,
            t.created_at,
            ticket.created_at,
            t.due_at,
            ticket.escalation_level,
            t.claimed_by,
            ticket.confidential,
            version,
            t.form,
            definition_id,
        )
        for t, ticket, version, definition_id in rows[:limit]
    ]
    more = _cursor(found[-1]) if len(rows) > limit and found else None
    return found, more


def titles(session: Session, rows: Sequence[Row], lang: str) -> dict[int, str]:
    """Each task's title in ``lang``: its form's ``x-laksa-title``, else the BPMN name."""
    found: dict[int, str] = {}
    ids = sorted({r.definition_id for r in rows})
    bundles = {
        d.id: definitions.bundle_for(session, d)
        for d in session.scalars(select(Definition).where(Definition.id.in_(ids)))
    }
    for r in rows:
        schema = bundles[r.definition_id].forms.get(r.form) if r.form else None
        found[r.id] = forms.text_in(schema or {}, forms.TITLE_KEY, "title", lang) or r.title
    return found


def counts(
    session: Session, groups: Iterable[str], *, now: datetime, opd: str | None = None
) -> Counts:
    """How many open tasks each filter would show (within the OPD filter, if any)."""
    where = _filtered(groups, Filters(opd=opd), now)
    total, overdue, today = session.execute(
        select(
            func.count(),
            func.count().filter(HumanTask.due_at < now),
            func.count().filter(HumanTask.due_at >= now, HumanTask.due_at < _end_of_day(now)),
        ).where(*where)
    ).one()
    by_category = dict(
        session.execute(
            select(HumanTask.category, func.count()).where(*where).group_by(HumanTask.category)
        ).all()
    )
    by_kecamatan = {
        str(name): n
        for name, n in session.execute(
            select(HumanTask.kecamatan, func.count())
            .where(*where, HumanTask.kecamatan.is_not(None))
            .group_by(HumanTask.kecamatan)
        )
    }
    return Counts(total, overdue, today, by_category, by_kecamatan)


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
