"""The sweep without Redis: timers, the day's audit anchor, expired Idempotency-Keys, the outbox.

One loop, run by the development server's thread (``laksa serve``) and by ``laksa sweeper``,
the process ``laksa serve --production`` starts beside gunicorn's workers so that one sweeper
runs however many workers serve. With Redis, RQ workers sweep instead (``engine.jobs``).
Every part is guarded: a failing part is logged and the next round tries again.

Timers fire when they fall due, not on a fixed beat: after each round the loop reads when the
next timer that no sweeper holds is due (one probe of the ``due_at`` index) and sleeps until
then, at most ``interval`` seconds, so a timer's lateness is the time it takes to fire, not the
time until the next poll (``bench/timers.py --lateness``). A round drains every batch due when
it starts; timers that fell due meanwhile are swept at once by the next round. The chores (the
day's anchor, expired keys, the outbox) run in the first round and then once an ``interval``,
so a slow SMTP server holds timers back at most once an interval. A timer written while the
loop sleeps is seen when it wakes, at most an interval later: only a timer due sooner than that
after it was written (none of ``workflows/``: their deadlines are working days away) can still
be late by up to an interval.
"""

from __future__ import annotations

import logging
import os
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
from engine.outbox import Sender

log = logging.getLogger(__name__)
PARENT_ENV = "LAKSA_SWEEPER_PARENT"  # set by the server that starts a sweeper: its pid
PARENT_CHECK_SECONDS = 1.0  # how often a sweeper started by a server checks that it still runs
IDLE_PAUSE = 0.05  # seconds: the least wait after a round that found nothing to claim

# A round: (factory, sender, chores) -> seconds until the next timer is due (None: unknown)
Sweep = Callable[[sessionmaker[Session], Sender, bool], float | None]


def next_due(session: Session, *, now: datetime) -> datetime | None:
    """When the next timer that no sweeper holds falls due (None: no timer waits)."""
    due: datetime | None = session.scalar(
        select(func.min(PendingTimer.due_at)).where(
            or_(PendingTimer.claimed_until.is_(None), PendingTimer.claimed_until <= now)
        )
    )
    return due


def sweep_once(factory: sessionmaker[Session], sender: Sender, chores: bool = True) -> float | None:
    """One round: fire due timers and, with ``chores``, publish the day's anchor, forget expired
    keys, deliver the outbox. Returns the seconds until the next timer is due, if known."""
    claimed = 0
    try:
        result = timers.run_due(factory, now=datetime.now(UTC))
        claimed = result.instances
        if result.instances:
            log.info(
                "timer sweep: %s fired, %s failed, %s skipped",
                result.fired,
                result.failed,
                result.skipped,
            )
    except Exception:  # keep sweeping; the next round retries
        log.exception("timer sweep failed")
        claimed = -1
    if chores:
        _chores(factory, sender)
    if claimed < 0:
        return None
    try:
        with factory() as session:
            due = next_due(session, now=datetime.now(UTC))
    except Exception:  # the interval bounds the wait
        log.exception("reading the next due timer failed")
        return None
    if due is None:
        return None
    wait = (due - datetime.now(UTC)).total_seconds()
    return max(wait, 0.0 if claimed else IDLE_PAUSE)


def _chores(factory: sessionmaker[Session], sender: Sender) -> None:
    try:
        anchors.anchor_if_missing(factory, now=datetime.now(UTC))
    except Exception:  # the next round tries again
        log.exception("audit anchor failed")
    try:
        idempotency.sweep(factory, now=datetime.now(UTC))
    except Exception:  # expired keys wait for the next round
        log.exception("idempotency key sweep failed")
    try:
        delivered = outbox.deliver_due(factory, now=datetime.now(UTC), sender=sender)
        if delivered.claimed:
            log.info(
                "outbox: %s delivered, %s to retry, %s given up",
                delivered.delivered,
                delivered.retrying,
                delivered.gave_up,
            )
    except Exception:  # undelivered rows stay; the next round retries
        log.exception("outbox delivery failed")


def run(
    factory: sessionmaker[Session],
    sender: Sender,
    *,
    interval: float,
    stop: threading.Event,
    parent: int | None = None,
    sweep: Sweep = sweep_once,
) -> None:
    """Sweep until ``stop`` is set, or, given ``parent`` (a pid), until this process's parent
    is no longer that process (the server died, even by SIGKILL): timers as they fall due,
    at most ``interval`` seconds apart, the chores every ``interval`` seconds."""
    if parent is not None and os.getppid() != parent:
        return
    chores_at = time.monotonic()
    while True:
        chores = time.monotonic() >= chores_at
        if chores:
            chores_at = time.monotonic() + interval
        wait = sweep(factory, sender, chores)
        wait = interval if wait is None else min(wait, interval)
        if _wait(stop, min(wait, max(chores_at - time.monotonic(), 0.0)), parent):
            return


def _wait(stop: threading.Event, seconds: float, parent: int | None) -> bool:
    """Wait ``seconds``; True when it is time to stop."""
    if parent is None:
        return stop.wait(seconds)
    remaining = seconds
    while True:
        if stop.wait(min(PARENT_CHECK_SECONDS, max(remaining, 0.0))):
            return True
        if os.getppid() != parent:
            log.warning("sweeper: the server (pid %s) is gone; stopping", parent)
            return True
        remaining -= PARENT_CHECK_SECONDS
        if remaining <= 0:
            return False
