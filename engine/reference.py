"""The city's reference lists the forms and statistics show: categories, kecamatan, OPDs."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.models import Category
from engine.models import Group
from engine.models import Kecamatan


def categories(session: Session) -> dict[str, str]:
    """Active categories, code -> name, by name."""
    rows = session.execute(
        select(Category.code, Category.name).where(Category.active).order_by(Category.name)
    )
    return dict(rows.all())


def category_names(session: Session) -> dict[str, str]:
    """Every category ever offered (inactive too: old tickets name them)."""
    return dict(session.execute(select(Category.code, Category.name)).all())


def kecamatan(session: Session) -> list[str]:
    return list(session.scalars(select(Kecamatan.name).order_by(Kecamatan.name)))


def opd_names(session: Session) -> dict[str, str]:
    rows = session.execute(
        select(Group.code, Group.name).where(Group.kind == "opd").order_by(Group.name)
    )
    return dict(rows.all())
