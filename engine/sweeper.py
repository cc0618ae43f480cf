"""The embedded sweeper: the loop `laksa serve` runs in a thread when there is no Redis.

It fires timers when they fall due, not on a fixed beat: after each sweep it reads when the next
unclaimed timer is due (one probe of the ``due_at`` index) and sleeps until then, at most
``interval`` seconds, so a timer's lateness is the time it takes to fire, not the time until
the next poll. A sweep drains every batch that is due when it starts; timers that fell due
meanwhile are swept at once by the next round. Every ``interval`` seconds the loop also does the
chores: the day's audit anchor, expired Idempotency-Keys and the outbox delivery (a slow SMTP
server delays timers at most once an interval). Any failure is logged and retried next round.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC
from datetime import datetime

from sqlalchemy import func
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from engine import anchors
from engine import idempotency
from engine import outbox
from engine import timers
from engine.models import PendingTimer

log = logging.getLogger(__name__)
IDLE_PAUSE = 0.05  # seconds: the least wait after a round that found nothing to claim


def _now() -> datetime:
    return datetime.now(UTC)


def next_due(session: Session, *, now: datetime) -> datetime | None:
    """When the next timer that no sweeper holds falls due (None: no timer waits)."""
    due: datetime | None = session.scalar(
        select(func.min(PendingTimer.due_at)).where(
            or_(PendingTimer.claimed_until.is_(None), PendingTimer.claimed_until <= now)
        )
    )
    return due


def chores(factory: sessionmaker[Session], *, sender: outbox.Sender) -> None:
    """The day's audit anchor, expired Idempotency-Keys, the outbox: each failure on its own."""
    for name, chore in (
        ("audit anchor", lambda: anchors.anchor_if_missing(factory, now=_now())),
        ("idempotency key sweep", lambda: idempotency.sweep(factory, now=_now())),
        ("outbox delivery", lambda: outbox.deliver_due(factory, now=_now(), sender=sender)),
    ):
        try:
            chore()
        except Exception:  # the next round tries again
            log.exception("%s failed", name)


def sweep_round(factory: sessionmaker[Session], *, interval: float) -> float:
    """Fire what is due now; return the seconds to wait before the next round."""
    claimed = 0
    try:
        claimed = timers.run_due(factory, now=_now()).instances
        with factory() as session:
            due = next_due(session, now=_now())
    except Exception:  # keep sweeping; the next round retries
        log.exception("timer sweep failed")
        return interval
    if due is None:
        return interval
    wait = min(interval, (due - _now()).total_seconds())
    return max(wait, 0.0 if claimed else IDLE_PAUSE)


def run(
    factory: sessionmaker[Session],
    *,
    sender: outbox.Sender,
    interval: float,
    stop: threading.Event,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Sweep until ``stop`` is set: timers as they fall due, chores every ``interval`` s."""
    interval = max(float(interval), 0.1)
    chores_at = clock()  # at once: what waited while the server was down goes out first
    while not stop.is_set():
        wait = sweep_round(factory, interval=interval)
        if clock() >= chores_at:
            chores(factory, sender=sender)
            chores_at = clock()  # at once: what waited while the server was down goes out first
        stop.wait(min(wait, max(chores_at - clock(), 0.0)))
