"""The city's reference lists the forms and statistics show: categories, kecamatan, OPDs.

They change a few times a year and are read on almost every page, so each process keeps them
for a minute (per database), and forgets them at once when this process writes a category,
a kecamatan or a group. Another process's change shows within the minute.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from typing import TypeVar
from weakref import WeakKeyDictionary

from sqlalchemy import event
from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from engine import definitions
from engine.models import Category
from engine.models import Group
from engine.models import Kecamatan

KEPT_SECONDS = 60.0
_REFERENCE = (Category, Group, Kecamatan)
_kept: WeakKeyDictionary[Engine, dict[str, tuple[float, Any]]] = WeakKeyDictionary()
T = TypeVar("T")


def _remembered(session: Session, name: str, read: Callable[[Session], T]) -> T:
    bind = session.get_bind()
    engine = bind.engine if isinstance(bind, Connection) else bind
    lists = _kept.setdefault(engine, {})
    now = time.monotonic()
    found = lists.get(name)
    if found is not None and now - found[0] < KEPT_SECONDS:
        value: T = found[1]
        return value
    value = read(session)
    lists[name] = (now, value)
    return value


@event.listens_for(Session, "after_flush")
def _forget_on_write(session: Session, _context: Any) -> None:
    if any(isinstance(o, _REFERENCE) for o in (*session.new, *session.dirty, *session.deleted)):
        bind = session.get_bind()
        _kept.pop(bind.engine if isinstance(bind, Connection) else bind, None)


def forget(session: Session) -> None:
    """Read the lists afresh next time (after a change written without the ORM)."""
    bind = session.get_bind()
    _kept.pop(bind.engine if isinstance(bind, Connection) else bind, None)


def categories(session: Session) -> dict[str, str]:
    """Active categories, code -> name, by name."""

    def read(s: Session) -> dict[str, str]:
        rows = s.execute(
            select(Category.code, Category.name).where(Category.active).order_by(Category.name)
        )
        return dict(rows.all())

    return dict(_remembered(session, "categories", read))


def category_names(session: Session) -> dict[str, str]:
    """Every category ever offered (inactive too: old tickets name them)."""

    def read(s: Session) -> dict[str, str]:
        return dict(s.execute(select(Category.code, Category.name)).all())

    return dict(_remembered(session, "category_names", read))


def kecamatan(session: Session) -> list[str]:
    def read(s: Session) -> list[str]:
        return list(s.scalars(select(Kecamatan.name).order_by(Kecamatan.name)))

    return list(_remembered(session, "kecamatan", read))


def group_names(session: Session) -> dict[str, str]:
    """Every group's name by its code (desks, OPDs, heads)."""

    def read(s: Session) -> dict[str, str]:
        return dict(s.execute(select(Group.code, Group.name)).all())

    return dict(_remembered(session, "group_names", read))


def opd_names(session: Session) -> dict[str, str]:
    def read(s: Session) -> dict[str, str]:
        rows = s.execute(
            select(Group.code, Group.name).where(Group.kind == "opd").order_by(Group.name)
        )
        return dict(rows.all())

    return dict(_remembered(session, "opd_names", read))


@dataclass(frozen=True)
class CategoryLabel:
    """A category as a partner's screen shows it: its code and its name in both languages."""

    code: str
    name_id: str
    name_en: str  # the Indonesian name where no English one is set
    infrastructure: bool


def category_labels(session: Session) -> list[CategoryLabel]:
    """Active categories with both names, by Indonesian name."""

    def read(s: Session) -> list[CategoryLabel]:
        rows = s.execute(
            select(Category.code, Category.name, Category.name_en, Category.infrastructure)
            .where(Category.active)
            .order_by(Category.name)
        )
        return [
            CategoryLabel(code, name, name_en or name, bool(i)) for code, name, name_en, i in rows
        ]

    return list(_remembered(session, "category_labels", read))


def kecamatan_rows(session: Session) -> list[tuple[str, str]]:
    """The city's kecamatan as (code, name), by name."""

    def read(s: Session) -> list[tuple[str, str]]:
        rows = s.execute(select(Kecamatan.code, Kecamatan.name).order_by(Kecamatan.name))
        return [(code, name) for code, name in rows]

    return list(_remembered(session, "kecamatan_rows", read))


@dataclass(frozen=True)
class StatusLabel:
    code: str
    label_id: str
    label_en: str
    colour: str | None
    phase: str | None
    open: bool


def status_labels(session: Session, process_key: str) -> list[StatusLabel]:
    """The statuses of the latest deployed lifecycle (its statuses.json), in its order."""
    bundle = definitions.bundle_for(session, definitions.latest_definition(session, process_key))
    return [
        StatusLabel(
            code=code,
            label_id=bundle.status_label(code, "id"),
            label_en=bundle.status_label(code, "en"),
            colour=spec.get("colour"),
            phase=spec.get("phase"),
            open=bool(spec.get("open", True)),
        )
        for code, spec in bundle.statuses.items()
    ]
