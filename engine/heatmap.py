"""The heatmap's figures: per BPMN element, stays, median and p90 time and deadlines breached.

Read from the stays kept by every command (engine.stays), never from workflows: two grouped
statements over the days of the range, whatever the number of tickets.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from datetime import timedelta
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import union_all
from sqlalchemy.orm import Session

from engine import stays
from engine.models import ElementBreach
from engine.models import ElementStay

PROCESS = "complaint"


@dataclass(frozen=True)
class Filters:
    start: date  # first day (Asia/Jakarta), included
    end: date  # last day, included
    opd: str | None = None  # one OPD ("" before routing) or one category, not both
    category: str | None = None
    process_key: str = PROCESS


@dataclass(frozen=True)
class ElementFigures:
    element_id: str
    passed: int  # stays that ended in the range (a ticket passing twice counts twice)
    median_seconds: float | None
    p90_seconds: float | None
    breaches: int


def read(session: Session, filters: Filters) -> dict[str, ElementFigures]:
    """Each element's figures over the range and filters (elements with none left out).

    Two statements: the stays' histograms and the breaches, each summed over the month rows
    of the whole months in the range and the day rows of the days at its ends.
    """
    stay_parts = [
        select(ElementStay.element_id, ElementStay.bucket, ElementStay.count).where(*where)
        for where in _ranges(ElementStay, filters)
    ]
    stay_rows = union_all(*stay_parts).subquery()
    stay_query = select(
        stay_rows.c.element_id, stay_rows.c.bucket, func.sum(stay_rows.c.count)
    ).group_by(stay_rows.c.element_id, stay_rows.c.bucket)
    histograms: dict[str, list[tuple[int, int]]] = {}
    for element_id, b, n in session.execute(stay_query):
        if n:
            histograms.setdefault(element_id, []).append((b, int(n)))
    breach_parts = [
        select(ElementBreach.element_id, ElementBreach.count).where(*where)
        for where in _ranges(ElementBreach, filters)
    ]
    breach_rows = union_all(*breach_parts).subquery()
    breach_query = select(breach_rows.c.element_id, func.sum(breach_rows.c.count)).group_by(
        breach_rows.c.element_id
    )
    breaches = {element_id: int(n) for element_id, n in session.execute(breach_query) if n}
    figures = {}
    for element_id in sorted(histograms.keys() | breaches.keys()):
        buckets = histograms.get(element_id, [])
        figures[element_id] = ElementFigures(
            element_id,
            sum(n for _, n in buckets),
            stays.quantile(buckets, 0.5),
            stays.quantile(buckets, 0.9),
            breaches.get(element_id, 0),
        )
    return figures


def spans(start: date, end: date) -> list[tuple[str, date, date]]:
    """The range as (span, first, last): its whole months as month rows, the rest as days."""
    if start > end:
        return []
    first_full = start if start.day == 1 else _next_month(start)
    after = end + timedelta(days=1)
    if after.day != 1:
        after = end.replace(day=1)  # the month of ``end`` is not whole
    if first_full >= after:
        return [(stays.DAY, start, end)]
    out = [(stays.MONTH, first_full, after - timedelta(days=1))]
    if start < first_full:
        out.append((stays.DAY, start, first_full - timedelta(days=1)))
    if after <= end:
        out.append((stays.DAY, after, end))
    return out


def _next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def _ranges(table: Any, filters: Filters) -> list[list[ColumnElement[bool]]]:
    """Ranges of the primary key: the process, the dimension's key, a span's days."""
    if filters.opd is not None and filters.category is not None:
        raise ValueError("narrow to one OPD or one category, not both")
    if filters.opd is not None:
        dimension, key = stays.OPD, filters.opd
    elif filters.category is not None:
        dimension, key = stays.CATEGORY, filters.category
    else:
        dimension, key = stays.ALL, ""
    ranges = spans(filters.start, filters.end) or [(stays.DAY, filters.start, filters.end)]
    return [
        [
            table.process_key == filters.process_key,
            table.dimension == dimension,
            table.key == key,
            table.span == span,
            table.day >= first,
            table.day <= last,
        ]
        for span, first, last in ranges
    ]
