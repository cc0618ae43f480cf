"""The timer sweep (rule 4): claim due pending_timer rows, fire them, idempotently.

A sweep works in batches. Each batch is claimed in one short transaction: due rows that nobody
holds get a lease (``claimed_by``, ``claimed_until``); on PostgreSQL the claim reads with
``FOR UPDATE SKIP LOCKED`` so concurrent sweepers take disjoint rows without waiting, on SQLite
``BEGIN IMMEDIATE`` (see ``engine.db``) serializes the claims. Each claimed instance then fires
in its own transaction through ``commands.fire_timers``, which locks the instance row and lets
SpiffWorkflow decide what is due, so a timer fires exactly once: a sweeper that reaches an
instance whose timers another sweeper already fired writes nothing. The fired timer's row is
deleted by the projection in that same transaction.

A sweeper that dies between claim and fire holds its rows only until the lease ends; the next
sweep after that fires them. A failing instance records an incident and is retried with a
growing backoff, never stopping the sweep of the others.

The claim reads only due rows through the index on ``due_at``, so a sweep with nothing due costs
one index probe however many tickets wait.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta

from sqlalchemy import func
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from engine import commands
from engine import metrics
from engine.db import is_sqlite
from engine.errors import WorkflowFailed
from engine.models import Incident
from engine.models import PendingTimer
from engine.settings import seconds_from_env

log = logging.getLogger(__name__)
LEASE = timedelta(minutes=5)
LEASE_ENV = "LAKSA_TIMER_LEASE_SECONDS"
MAX_BACKOFF = timedelta(days=1)
BATCH = 100


@dataclass(frozen=True)
class SweepResult:
    instances: int  # instances this sweep claimed and tried
    fired: int  # instances where at least one timer fired
    failed: int  # instances that raised (an incident each)
    skipped: int = 0  # instances where nothing was due any more (fired by another sweeper)


def lease_from_env(env: Mapping[str, str] | None = None) -> timedelta:
    """The claim lease: ``LAKSA_TIMER_LEASE_SECONDS`` if set (read per sweep), else LEASE.

    A sweeper that dies holds its claimed rows this long; a lease shorter than the time a
    batch takes to fire only costs duplicate work (firing stays exactly once).
    """
    return seconds_from_env(LEASE_ENV, LEASE, env)


def sweeper_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:80]


def claim_due(
    session: Session, *, now: datetime, owner: str, limit: int = BATCH, lease: timedelta = LEASE
) -> list[int]:
    """Lease up to ``limit`` due timer rows to ``owner``; return their instance ids.

    Rows another sweeper holds (an unexpired lease, or a row locked by a concurrent claim on
    PostgreSQL) are skipped. Call inside a transaction and commit it before firing.
    """
    query = (
        select(PendingTimer.id, PendingTimer.instance_id)
        .where(
            PendingTimer.due_at <= now,
            or_(PendingTimer.claimed_until.is_(None), PendingTimer.claimed_until <= now),
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
        .values(claimed_by=owner, claimed_until=now + lease, attempts=PendingTimer.attempts + 1)
    )
    return sorted({r.instance_id for r in rows})


def run_due(
    factory: sessionmaker[Session],
    *,
    now: datetime,
    owner: str | None = None,
    batch: int = BATCH,
    lease: timedelta | None = None,
) -> SweepResult:
    """Fire every timer due at ``now``; one failing instance never stops the others.

    ``lease`` defaults to ``lease_from_env()``.
    """
    owner = owner or sweeper_id()
    lease = lease or lease_from_env()
    instances = fired = failed = skipped = 0
    while True:
        with factory.begin() as session:
            claimed = claim_due(session, now=now, owner=owner, limit=batch, lease=lease)
        if not claimed:
            break
        for instance_id in claimed:
            instances += 1
            try:
                with factory.begin() as session:
                    due = metrics.earliest_due(session, instance_id, now)
                    result = commands.fire_timers(session, instance_id=instance_id, now=now)
            except Exception as exc:  # any failure of one instance: record it and go on
                failed += 1
                log.warning("timers of instance %s failed: %s", instance_id, exc)
                _record_failure(factory, instance_id, exc, now=now, owner=owner)
                continue
            if result.changed:
                fired += 1
                metrics.observe_timer_lateness(due)
            else:
                skipped += 1
    return SweepResult(instances, fired, failed, skipped)


def _record_failure(
    factory: sessionmaker[Session], instance_id: int, exc: Exception, *, now: datetime, owner: str
) -> None:
    """Write an incident and hold the instance's timers back for a growing backoff."""
    message = str(exc) or type(exc).__name__
    element_id = exc.element_id if isinstance(exc, WorkflowFailed) else None
    try:
        with factory.begin() as session:
            attempts = session.scalar(
                select(func.max(PendingTimer.attempts)).where(
                    PendingTimer.instance_id == instance_id
                )
            )
            backoff = min(LEASE * 2 ** min(max((attempts or 1) - 1, 0), 12), MAX_BACKOFF)
            session.execute(
                update(PendingTimer)
                .where(PendingTimer.instance_id == instance_id, PendingTimer.due_at <= now)
                .values(claimed_by=owner, claimed_until=now + backoff)
            )
            session.add(
                Incident(
                    instance_id=instance_id,
                    at=now,
                    kind="timer_failed",
                    element_id=element_id,
                    message=f"{type(exc).__name__}: {message}"[:2000],
                )
            )
    except Exception:  # the lease still expires; the next sweep retries
        log.exception("could not record the timer failure of instance %s", instance_id)
