"""The timer sweep (rule 4): claim due pending_timer rows, fire them, idempotently."""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta

from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from engine import commands
from engine.db import is_sqlite
from engine.errors import LaksaError
from engine.models import Incident
from engine.models import PendingTimer

log = logging.getLogger(__name__)
LEASE = timedelta(minutes=5)


@dataclass(frozen=True)
class SweepResult:
    instances: int
    fired: int
    failed: int


def sweeper_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def claim_due(session: Session, *, now: datetime, owner: str, limit: int = 100) -> list[int]:
    """Claim instances with due timers for ``owner`` (a lease), skipping rows others hold."""
    query = (
        select(PendingTimer.id, PendingTimer.instance_id)
        .where(
            PendingTimer.due_at <= now,
            or_(PendingTimer.claimed_until.is_(None), PendingTimer.claimed_until < now),
        )
        .order_by(PendingTimer.due_at)
        .limit(limit)
    )
    if not is_sqlite(session):
        query = query.with_for_update(skip_locked=True)
    rows = session.execute(query).all()
    if not rows:
        return []
    session.execute(
        update(PendingTimer)
        .where(PendingTimer.id.in_([r.id for r in rows]))
        .values(claimed_by=owner, claimed_until=now + LEASE, attempts=PendingTimer.attempts + 1)
    )
    return sorted({r.instance_id for r in rows})


def run_due(
    factory: sessionmaker[Session], *, now: datetime, owner: str | None = None, batch: int = 100
) -> SweepResult:
    """Fire every due timer; one failing instance never stops the others."""
    owner = owner or sweeper_id()
    instances = fired = failed = 0
    while True:
        with factory.begin() as session:
            claimed = claim_due(session, now=now, owner=owner, limit=batch)
        if not claimed:
            break
        for instance_id in claimed:
            instances += 1
            try:
                with factory.begin() as session:
                    commands.fire_timers(session, instance_id=instance_id, now=now)
                fired += 1
            except LaksaError as exc:
                failed += 1
                log.warning("timer of instance %s failed: %s", instance_id, exc)
                with factory.begin() as session:
                    session.add(
                        Incident(
                            instance_id=instance_id, at=now, kind="timer_failed", message=str(exc)
                        )
                    )
    return SweepResult(instances, fired, failed)
