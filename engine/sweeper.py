"""The sweep without Redis: timers, the day's audit anchor, expired Idempotency-Keys, the outbox.

One loop, run by the development server's thread (``laksa serve``) and by ``laksa sweeper``,
the process ``laksa serve --production`` starts beside gunicorn's workers so that one sweeper
runs however many workers serve. With Redis, RQ workers sweep instead (``engine.jobs``).
Every part is guarded: a failing part is logged and the next round tries again.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from datetime import UTC
from datetime import datetime

from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from engine import anchors
from engine import idempotency
from engine import outbox
from engine import timers
from engine.outbox import Sender

log = logging.getLogger(__name__)
PARENT_ENV = "LAKSA_SWEEPER_PARENT"  # set by the server that starts a sweeper: its pid
PARENT_CHECK_SECONDS = 1.0  # how often a sweeper started by a server checks that it still runs


def sweep_once(factory: sessionmaker[Session], sender: Sender) -> None:
    """One round: fire due timers, publish the day's anchor, forget expired keys, deliver."""
    try:
        result = timers.run_due(factory, now=datetime.now(UTC))
        if result.instances:
            log.info(
                "timer sweep: %s fired, %s failed, %s skipped",
                result.fired,
                result.failed,
                result.skipped,
            )
    except Exception:  # keep sweeping; the next round retries
        log.exception("timer sweep failed")
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
    sweep: Callable[[sessionmaker[Session], Sender], None] = sweep_once,
) -> None:
    """Sweep every ``interval`` seconds until ``stop`` is set, or, given ``parent`` (a pid),
    until this process's parent is no longer that process (the server died, even by SIGKILL)."""
    while not _wait(stop, interval, parent):
        sweep(factory, sender)


def _wait(stop: threading.Event, seconds: float, parent: int | None) -> bool:
    """Wait ``seconds``; True when it is time to stop."""
    if parent is None:
        return stop.wait(seconds)
    remaining = seconds
    while remaining > 0:
        if stop.wait(min(PARENT_CHECK_SECONDS, remaining)):
            return True
        if os.getppid() != parent:
            log.warning("sweeper: the server (pid %s) is gone; stopping", parent)
            return True
        remaining -= PARENT_CHECK_SECONDS
    return False
