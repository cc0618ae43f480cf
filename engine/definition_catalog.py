"""The deployed definitions as designers see them: every version with who deployed it, when,
why, its content hash and how many tickets run on it; a bundle's files."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Integer
from sqlalchemy import case
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import NotFound
from engine.models import Definition
from engine.models import DefinitionBundle
from engine.models import ProcessInstance


@dataclass(frozen=True)
class VersionRow:
    """One version of one process and the tickets on it (open: its instance still runs)."""

    definition_id: int
    key: str
    version: int
    bundle_id: int
    content_hash: str
    deployed_at: datetime
    deployed_by: str
    note: str | None
    open_tickets: int
    all_tickets: int


@dataclass(frozen=True)
class BundleFiles:
    id: int
    content_hash: str
    deployed_at: datetime
    deployed_by: str
    note: str | None
    versions: Mapping[str, int]
    files: Mapping[str, str]


def versions(session: Session) -> list[VersionRow]:
    """Every deployed version, newest first, with its ticket counts (one grouped query)."""
    running = case((ProcessInstance.completed.is_(False), 1), else_=0)
    counts = (
        select(
            ProcessInstance.definition_id.label("definition_id"),
            func.count().label("all_tickets"),
            func.coalesce(func.sum(running), 0).cast(Integer).label("open_tickets"),
        )
        .group_by(ProcessInstance.definition_id)
        .subquery()
    )
    rows = session.execute(
        select(
            Definition.id,
            Definition.key,
            Definition.version,
            Definition.bundle_id,
            Definition.content_hash,
            Definition.deployed_at,
            DefinitionBundle.deployed_by,
            DefinitionBundle.note,
            func.coalesce(counts.c.open_tickets, 0),
            func.coalesce(counts.c.all_tickets, 0),
        )
        .join(DefinitionBundle, DefinitionBundle.id == Definition.bundle_id)
        .outerjoin(counts, counts.c.definition_id == Definition.id)
        .order_by(Definition.key, Definition.version.desc())
    ).all()
    return [VersionRow(*row) for row in rows]


def latest_bundle_id(session: Session) -> int | None:
    """The bundle deployed last (what a new ticket of any of its processes runs)."""
    return session.scalar(select(func.max(DefinitionBundle.id)))


def bundle_files(session: Session, bundle_id: int) -> BundleFiles:
    row = session.get(DefinitionBundle, bundle_id)
    if row is None:
        raise NotFound(f"no definition bundle {bundle_id}")
    found = session.execute(
        select(Definition.key, Definition.version).where(Definition.bundle_id == bundle_id)
    ).all()
    return BundleFiles(
        id=row.id,
        content_hash=row.content_hash,
        deployed_at=row.deployed_at,
        deployed_by=row.deployed_by,
        note=row.note,
        versions={str(key): int(version) for key, version in found},
        files=dict(row.files),
    )


def latest_files(session: Session) -> BundleFiles | None:
    bundle_id = latest_bundle_id(session)
    return None if bundle_id is None else bundle_files(session, bundle_id)
