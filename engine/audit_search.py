"""The auditors' ticket search: filters, counts, cursor pages and a streamed export.

Reads the ``ticket`` table only; which tickets a viewer may find is ``engine.visibility``'s
rule (``tickets_seen_by``), so confidential tickets are found by those entitled to them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import time
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement
from sqlalchemy import Select
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import numbers
from engine.identity import Actor
from engine.models import Ticket
from engine.visibility import tickets_seen_by

JAKARTA = ZoneInfo("Asia/Jakarta")
PAGE_SIZE = 50
ESCALATION_CHOICES = ("0", "1", "2", "3", "1+")  # "1+": escalated at all

COLUMNS = (
    "number",
    "title",
    "status",
    "category",
    "kecamatan",
    "opd",
    "escalation_level",
    "confidential",
    "breached",
    "created_at",
    "due_at",
    "closed_at",
    "outcome",
)


@dataclass(frozen=True)
class Filters:
    number: str | None = None  # any typed form; matched in its canonical form
    status: str | None = None
    opd: str | None = None
    category: str | None = None
    kecamatan: str | None = None
    created_from: date | None = None  # Jakarta dates, both ends included
    created_to: date | None = None
    escalation: str | None = None  # one of ESCALATION_CHOICES

    @property
    def active(self) -> bool:
        return any(v not in (None, "") for v in self.__dict__.values())


@dataclass(frozen=True)
class Found:
    number: str
    title: str
    status: str
    category: str
    kecamatan: str | None
    opd: str | None
    escalation_level: int
    confidential: bool
    breached: bool
    created_at: datetime
    due_at: datetime | None
    closed_at: datetime | None
    outcome: str | None
    id: int

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in COLUMNS}


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time(), JAKARTA).astimezone(UTC)


def _conditions(actor: Actor, filters: Filters) -> list[ColumnElement[bool]]:
    where = [tickets_seen_by(actor)]
    if filters.number:
        # A text that cannot be a number finds nothing (never a 500, never a LIKE scan).
        where.append(Ticket.number == (numbers.canonical(filters.number) or ""))
    for column, value in (
        (Ticket.status, filters.status),
        (Ticket.opd, filters.opd),
        (Ticket.category, filters.category),
        (Ticket.kecamatan, filters.kecamatan),
    ):
        if value:
            where.append(column == value)
    if filters.created_from is not None:
        where.append(Ticket.created_at >= _start_of(filters.created_from))
    if filters.created_to is not None:
        where.append(Ticket.created_at < _start_of(filters.created_to + timedelta(days=1)))
    if filters.escalation == "1+":
        where.append(Ticket.escalation_level >= 1)
    elif filters.escalation in ESCALATION_CHOICES:
        where.append(Ticket.escalation_level == int(filters.escalation))
    return where


def _select(actor: Actor, filters: Filters) -> Select[Any]:
    return select(*(getattr(Ticket, c) for c in COLUMNS), Ticket.id).where(
        *_conditions(actor, filters)
    )


def count(session: Session, actor: Actor, filters: Filters) -> int:
    query = select(func.count()).select_from(Ticket).where(*_conditions(actor, filters))
    return int(session.scalar(query) or 0)


def page(
    session: Session,
    actor: Actor,
    filters: Filters,
    *,
    after: int | None = None,
    limit: int = PAGE_SIZE,
) -> tuple[list[Found], int | None]:
    """Newest first; ``after`` is the last id of the previous page. Returns the next cursor."""
    query = _select(actor, filters)
    if after is not None:
        query = query.where(Ticket.id < after)
    rows = [Found(*r) for r in session.execute(query.order_by(Ticket.id.desc()).limit(limit + 1))]
    more = rows[limit - 1].id if len(rows) > limit else None
    return rows[:limit], more


def stream(
    session: Session, actor: Actor, filters: Filters, *, batch: int = 500
) -> Iterator[Found]:
    """Every ticket found, newest first, read a batch per short transaction (the export).

    Each batch ends its transaction before it is sent on, so a long download holds no lock
    (on SQLite every transaction is a writer's) and no snapshot open for minutes.
    """
    after: int | None = None
    while True:
        rows, after = page(session, actor, filters, after=after, limit=batch)
        session.rollback()  # reads only: end the transaction between batches
        yield from rows
        if after is None:
            return
