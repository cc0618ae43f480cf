"""The heatmap's figures: per BPMN element, stays, median and p90 time and deadlines breached.

Read from the stays kept by every command (engine.stays), never from workflows: two grouped
statements over the days of the range, whatever the number of tickets.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import stays
from engine.models import ElementBreach
from engine.models import ElementStay

PROCESS = "complaint"


@dataclass(frozen=True)
class Filters:
    start: date  # first day (Asia/Jakarta), included
    end: date  # last day, included
    opd: str | None = None
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
    """Each element's figures over the range and filters (elements with none left out)."""
    histograms: dict[str, list[tuple[int, int]]] = {}
    total = func.sum(ElementStay.count)
    stay_query = (
        select(ElementStay.element_id, ElementStay.bucket, total)
        .where(*_where(ElementStay, filters))
        .group_by(ElementStay.element_id, ElementStay.bucket)
    )
    for element_id, b, n in session.execute(stay_query):
        if n:
            histograms.setdefault(element_id, []).append((b, int(n)))
    breach_query = (
        select(ElementBreach.element_id, func.sum(ElementBreach.count))
        .where(*_where(ElementBreach, filters))
        .group_by(ElementBreach.element_id)
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


def _where(table: Any, filters: Filters) -> list[ColumnElement[bool]]:
    conditions = [
        table.process_key == filters.process_key,
        table.day >= filters.start,
        table.day <= filters.end,
    ]
    if filters.opd is not None:
        conditions.append(table.opd == filters.opd)
    if filters.category is not None:
        conditions.append(table.category == filters.category)
    return conditions
