"""The supervisors' read side: overdue tasks by OPD, the OPD table, trends over a period.

Nothing here scans the ticket table or loads a workflow. Overdue tasks are read as index
ranges of ``ix_human_task_open`` (one per candidate group, as the inbox reads them); the OPD
table and the trends read the counts the commands keep (``engine.tally``): the ``opd``
dimension and the monthly cells (``category_month``, ``kecamatan_month``, ``opd_month``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from datetime import datetime

from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import inbox
from engine import tally
from engine.calendar import JAKARTA
from engine.errors import Forbidden
from engine.models import HumanTask
from engine.models import OpenTaskCount
from engine.models import StatCount
from engine.models import StatDuration
from engine.models import StatMedian

HEAD_SUFFIX = "_head"
NOT_ROUTED = ""  # the OPD key of tickets no OPD holds (at the verifier desk, or closed there)


def narrow(scope: frozenset[str] | None, opd: str | None) -> frozenset[str] | None:
    """The OPDs a page covers: the viewer's scope, narrowed to ``opd`` (which must be in it)."""
    if opd is None:
        return scope
    if scope is not None and opd not in scope:
        raise Forbidden(f"you do not oversee OPD '{opd}'")
    return frozenset({opd})


def opd_of_group(group: str) -> str:
    """The OPD a candidate group belongs to: ``dpupr`` and ``dpupr_head`` to ``dpupr``."""
    return group.removesuffix(HEAD_SUFFIX)


# -- overdue tasks -------------------------------------------------------------------------


def task_groups(session: Session, opds: frozenset[str] | None) -> list[str]:
    """The candidate groups holding open tasks, within ``opds`` (None: every group).

    Read from the kept open-task counts, so the overdue list knows which index ranges to read.
    """
    groups = session.scalars(
        select(OpenTaskCount.candidate_group).where(OpenTaskCount.count != 0).distinct()
    )
    return sorted(g for g in groups if opds is None or opd_of_group(g) in opds)


def overdue_page(
    session: Session,
    groups: Sequence[str],
    *,
    now: datetime,
    after: str | None = None,
    limit: int = inbox.PAGE,
) -> tuple[Sequence[inbox.Row], str | None]:
    """Open tasks past their deadline in ``groups``, most overdue first; the next cursor."""
    if not groups:
        return [], None
    return inbox.page(
        session, groups, now=now, filters=inbox.Filters(overdue=True), after=after, limit=limit
    )


def overdue_counts(session: Session, groups: Sequence[str], *, now: datetime) -> dict[str, int]:
    """Overdue open tasks per OPD (``""``: groups of no OPD), one index range per group."""
    counts: dict[str, int] = {}
    if not groups:
        return counts
    for group, n in session.execute(
        select(HumanTask.candidate_group, func.count())
        .where(
            HumanTask.candidate_group.in_(list(groups)),
            HumanTask.completed_at.is_(None),
            HumanTask.due_at < now,
        )
        .group_by(HumanTask.candidate_group)
    ):
        key = opd_of_group(group)
        counts[key] = counts.get(key, 0) + n
    return counts


# -- the OPD table ---------------------------------------------------------------------------


def _figures(rows: Iterable[tuple[str, str, bool, int]]) -> dict[str, tally.Figures]:
    """Figures per key from (key, state, late, count) rows of the kept counts."""
    found: dict[str, tally.Figures] = {}
    for key, state, late, count in rows:
        f = found.setdefault(key, tally.Figures())
        f.received += count
        if state.startswith(tally.CLOSED):
            outcome = state.removeprefix(tally.CLOSED)
            if outcome == tally.FIXED:
                f.fixed += count
            else:
                f.other_closures[outcome] = f.other_closures.get(outcome, 0) + count
            if not late:
                f.closed_on_time += count
        else:
            if state == tally.FOLLOW_UP:
                f.waiting_follow_up += count
            else:
                f.in_process += count
            if late:
                f.open_overdue += count
    return found


def _add(total: tally.Figures, f: tally.Figures) -> None:
    total.received += f.received
    total.fixed += f.fixed
    total.in_process += f.in_process
    total.waiting_follow_up += f.waiting_follow_up
    total.closed_on_time += f.closed_on_time
    total.open_overdue += f.open_overdue
    for outcome, n in f.other_closures.items():
        total.other_closures[outcome] = total.other_closures.get(outcome, 0) + n


@dataclass(frozen=True)
class OpdTable:
    rows: dict[str, tally.Figures]  # OPD code ("" not routed) -> figures
    total: tally.Figures


def opd_table(session: Session, opds: frozenset[str] | None, *, known: Iterable[str]) -> OpdTable:
    """Each OPD's figures (all time) and their total, from the kept ``opd`` counts.

    ``known`` OPDs without a ticket get a row of zeros; the total's median is read from the
    rows' histograms merged, so it is the median of the tickets the rows count.
    """
    query = select(StatCount.key, StatCount.state, StatCount.late, StatCount.count).where(
        StatCount.dimension == "opd", StatCount.count != 0
    )
    if opds is not None:
        query = query.where(StatCount.key.in_(sorted(opds)))
    rows = _figures(session.execute(query))
    for code in known:
        if opds is None or code in opds:
            rows.setdefault(code, tally.Figures())
    medians = select(StatMedian.key, StatMedian.hours).where(
        StatMedian.metric == tally.RESOLUTION, StatMedian.dimension == "opd"
    )
    for key, hours in session.execute(medians):
        if key in rows:
            rows[key].median_resolution_hours = hours
    total = tally.Figures()
    for f in rows.values():
        _add(total, f)
    histogram = select(StatDuration.bucket, func.sum(StatDuration.count)).where(
        StatDuration.metric == tally.RESOLUTION,
        StatDuration.dimension == "opd",
        StatDuration.key.in_(sorted(rows)),
        StatDuration.count != 0,
    )
    buckets = session.execute(histogram.group_by(StatDuration.bucket))
    total.median_resolution_hours = tally.median_of((b, int(n)) for b, n in buckets)
    return OpdTable(rows, total)


def _sort_value(column: str, label: str, f: tally.Figures) -> str | int | float | None:
    if column == "opd":
        return label.casefold()
    values: dict[str, int | float | None] = {
        "diterima": f.received,
        "tepat_waktu": f.on_time_share,
        "median": f.median_resolution_hours,
        "terbuka": f.open,
        "terlambat": f.open_overdue,
    }
    return values[column]


SORTS = ("opd", "diterima", "tepat_waktu", "median", "terbuka", "terlambat")


def sorted_rows(
    rows: dict[str, tally.Figures], labels: dict[str, str], sort: str
) -> list[tuple[str, tally.Figures]]:
    """Rows in the order ``sort`` names (``-`` first: descending), ties by name; rows without
    a value (no on-time % before anything closed, no median) last."""
    column = sort.removeprefix("-")
    by_name = sorted(rows.items(), key=lambda i: labels[i[0]].casefold())
    present = [(i, _sort_value(column, labels[i[0]], i[1])) for i in by_name]
    ordered = sorted(
        (p for p in present if p[1] is not None),
        key=lambda p: p[1],  # type: ignore[arg-type,return-value]  # one column, one type
        reverse=sort.startswith("-"),
    )
    return [i for i, _ in ordered] + [i for i, v in present if v is None]


# -- trends over a period --------------------------------------------------------------------

MONTH = re.compile(r"^(\d{4})-(\d{2})$")
MAX_MONTHS = 120


def parse_month(text: str) -> str | None:
    """``YYYY-MM`` if ``text`` is a real month, else None."""
    found = MONTH.match(text.strip())
    if not found or not 1 <= int(found[2]) <= 12 or int(found[1]) < 2000:
        return None
    return f"{found[1]}-{found[2]}"


def month_of(moment: datetime) -> str:
    return moment.astimezone(JAKARTA).strftime("%Y-%m")


def shift(month: str, months: int) -> str:
    year, mon = int(month[:4]), int(month[5:7])
    index = year * 12 + mon - 1 + months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def months_between(first: str, last: str) -> list[str]:
    """Every month from ``first`` to ``last``, both included."""
    found = []
    month = first
    while month <= last:
        found.append(month)
        month = shift(month, 1)
    return found


def first_day(month: str) -> date:
    return date(int(month[:4]), int(month[5:7]), 1)


@dataclass(frozen=True)
class Trend:
    months: list[tuple[str, tally.Figures]]  # every month of the period, oldest first
    total: tally.Figures
    by_category: dict[str, tally.Figures]  # over the period; empty when not asked
    by_kecamatan: dict[str, tally.Figures]


def trend(
    session: Session,
    *,
    first: str,
    last: str,
    category: str | None = None,
    kecamatan: str | None = None,
    opds: frozenset[str] | None = None,
    breakdowns: bool = True,
) -> Trend:
    """Tickets received per month of the period and what became of them (kept counts).

    One series: the city's (``month``), one category's, one kecamatan's, or the OPDs' in
    ``opds`` (their sum); ``breakdowns``: the whole city's period by category and kecamatan.
    """
    months = months_between(first, last)
    if category is not None:
        dimension, keys = "category_month", [tally.month_key(m, category) for m in months]
    elif kecamatan is not None:
        dimension, keys = "kecamatan_month", [tally.month_key(m, kecamatan) for m in months]
    elif opds is not None:
        dimension = "opd_month"
        keys = [tally.month_key(m, o) for m in months for o in sorted(opds)]
    else:
        dimension, keys = "month", months
    series: dict[str, tally.Figures] = {m: tally.Figures() for m in months}
    if keys:
        found = _figures(
            session.execute(
                select(StatCount.key, StatCount.state, StatCount.late, StatCount.count).where(
                    StatCount.dimension == dimension,
                    StatCount.key.in_(keys),
                    StatCount.count != 0,
                )
            )
        )
        for key, f in found.items():
            _add(series[key[:7]], f)
    total = tally.Figures()
    for f in series.values():
        _add(total, f)
    by_category: dict[str, tally.Figures] = {}
    by_kecamatan: dict[str, tally.Figures] = {}
    if breakdowns:
        by_category = _period(session, "category_month", first, last)
        by_kecamatan = _period(session, "kecamatan_month", first, last)
    return Trend(list(series.items()), total, by_category, by_kecamatan)


def _period(session: Session, dimension: str, first: str, last: str) -> dict[str, tally.Figures]:
    """A monthly dimension summed over the period by the database: one key range of
    ``stat_count``, grouped by the key without its month."""
    key = func.substr(StatCount.key, 9)  # "YYYY-MM|<key>" -> "<key>"
    rows = session.execute(
        select(key, StatCount.state, StatCount.late, func.sum(StatCount.count))
        .where(
            StatCount.dimension == dimension,
            StatCount.key >= first,
            StatCount.key < shift(last, 1),  # "2026-11|x" < "2026-12"
            StatCount.count != 0,
        )
        .group_by(key, StatCount.state, StatCount.late)
    )
    return _figures((k, state, late, int(n)) for k, state, late, n in rows)
