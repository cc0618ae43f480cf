"""RQ jobs: module-level functions that take ids, never objects, and never touch Flask.

The timer sweep keeps itself scheduled: each run first schedules the next one, then sweeps.
Runs fall on fixed slots (multiples of ``LAKSA_TIMER_INTERVAL`` seconds since the epoch) and a
run's job id names its queue and slot, scheduled with RQ's ``unique=True`` (an atomic "only if
no job with this id exists"). So however many workers start or sweeps overlap, each slot holds
at most one sweep job: a second ``enqueue_at`` for the same slot raises ``DuplicateJobError``,
which is the expected answer. (A plain ``enqueue_in`` with an existing job id would overwrite
that job's hash in place, the running job's included, so a self-rescheduling job must not reuse
its own id.) A sweep that dies leaves its successor already scheduled; ``laksa worker`` also
schedules the next slot when it starts. After sweeping (or failing to), a sweep enqueues its
slot's outbox delivery (``deliver_outbox``) as a separate job, unique per slot the same way, so
slow SMTP never delays timers and a failed sweep still lets messages go out. The first sweep of
each Asia/Jakarta day also publishes the day's audit anchor (``engine.anchors``); later sweeps
find it with one index probe. Each sweep also forgets expired Idempotency-Keys.
"""

from __future__ import annotations

import logging
import math
from datetime import UTC
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from engine import anchors
from engine import idempotency
from engine import outbox
from engine import partner_hooks
from engine import timers
from engine.db import make_engine
from engine.db import make_session_factory
from engine.settings import Settings

if TYPE_CHECKING:
    from redis import Redis
    from rq import Queue
    from rq.job import Job

log = logging.getLogger(__name__)
QUEUE = "laksa"
FAILURE_TTL = 24 * 3600  # seconds a failed sweep job stays visible

_engines: dict[str, Engine] = {}


def _factory(database_url: str) -> sessionmaker[Session]:
    """One engine (connection pool) per database for the worker process."""
    if database_url not in _engines:
        _engines[database_url] = make_engine(database_url)
    return make_session_factory(_engines[database_url])


def close_engines() -> None:
    """Dispose of the worker's engines (tests; a worker process just exits)."""
    while _engines:
        _engines.popitem()[1].dispose()


def sweep_job_id(queue_name: str, slot: int) -> str:
    return f"{queue_name}-timer-sweep-{slot}"


def sweep_timers(queue_name: str = QUEUE) -> int:
    """Schedule the next sweep, then fire due timers; returns instances advanced."""
    settings = Settings.from_env()
    if settings.redis_url:
        schedule_next_sweep(
            _queue(settings.redis_url, queue_name),
            settings.timer_interval_seconds,
            now=datetime.now(UTC),
        )
    factory = _factory(settings.database_url)
    try:
        result = timers.run_due(factory, now=datetime.now(UTC))
        _anchor_if_missing(factory)
        _forget_expired_keys(factory)
    finally:
        if settings.redis_url:  # the slot's outbox delivery, as its own job, after the sweep
            enqueue_delivery(
                _queue(settings.redis_url, queue_name),
                now=datetime.now(UTC),
                interval_seconds=settings.timer_interval_seconds,
            )
    if result.instances:
        log.info(
            "timer sweep: %s fired, %s failed, %s skipped",
            result.fired,
            result.failed,
            result.skipped,
        )
    return result.fired


def _anchor_if_missing(factory: sessionmaker[Session]) -> None:
    """Publish today's audit anchor on the first sweep of the day (one index probe after)."""
    try:
        made = anchors.anchor_if_missing(factory, now=datetime.now(UTC))
    except Exception:  # the next sweep tries again
        log.exception("audit anchor failed")
        return
    if made is not None:
        log.info("audit anchor of %s published: %s chains", made.day, made.chains)


def _forget_expired_keys(factory: sessionmaker[Session]) -> None:
    """Sweep expired Idempotency-Keys (engine.idempotency) with the timers."""
    try:
        idempotency.sweep(factory, now=datetime.now(UTC))
    except Exception:  # the next sweep tries again
        log.exception("idempotency key sweep failed")


def delivery_job_id(queue_name: str, slot: int) -> str:
    return f"{queue_name}-outbox-delivery-{slot}"


def enqueue_delivery(queue: Queue, *, now: datetime, interval_seconds: float = 1.0) -> Job | None:
    """Enqueue one outbox delivery for the slot of ``now``; None if that slot already has one."""
    from rq.exceptions import DuplicateJobError

    slot = math.floor(now.timestamp() / max(float(interval_seconds), 1.0))
    try:
        job: Job = queue.enqueue(
            deliver_outbox,
            job_id=delivery_job_id(queue.name, slot),
            unique=True,
            result_ttl=60,
            failure_ttl=FAILURE_TTL,
            description="laksa outbox delivery",
        )
    except DuplicateJobError:
        return None
    return job


def deliver_outbox() -> int:
    """Send the outbox messages that are due; returns how many were delivered."""
    settings = Settings.from_env()
    factory = _factory(settings.database_url)
    result = outbox.deliver_due(
        factory,
        now=datetime.now(UTC),
        sender=partner_hooks.sender_for(settings, factory),
    )
    if result.claimed:
        log.info(
            "outbox: %s delivered, %s to retry, %s given up",
            result.delivered,
            result.retrying,
            result.gave_up,
        )
    return result.delivered


def schedule_next_sweep(queue: Queue, interval_seconds: float, *, now: datetime) -> Job | None:
    """Schedule the sweep of the next slot after ``now``; None if it is already scheduled."""
    from rq.exceptions import DuplicateJobError

    interval = max(float(interval_seconds), 1.0)
    slot = math.floor(now.timestamp() / interval) + 1
    at = datetime.fromtimestamp(slot * interval, UTC)
    try:
        job: Job = queue.enqueue_at(
            at,
            sweep_timers,
            queue.name,
            job_id=sweep_job_id(queue.name, slot),
            unique=True,
            result_ttl=max(60, math.ceil(3 * interval)),
            failure_ttl=FAILURE_TTL,
            description="laksa timer sweep",
        )
    except DuplicateJobError:
        return None
    return job


def _connection(redis_url: str) -> Redis:
    from redis import Redis

    return Redis.from_url(redis_url)


def _queue(redis_url: str, queue_name: str = QUEUE) -> Queue:
    from rq import Queue

    return Queue(queue_name, connection=_connection(redis_url))


def run_worker(settings: Settings, *, queue_name: str = QUEUE, burst: bool = False) -> None:
    """Run an RQ worker with its scheduler; it keeps one sweep job scheduled."""
    from rq import Worker

    if not settings.redis_url:
        raise ValueError("the worker needs LAKSA_REDIS_URL")
    queue = _queue(settings.redis_url, queue_name)
    schedule_next_sweep(queue, settings.timer_interval_seconds, now=datetime.now(UTC))
    Worker([queue], connection=queue.connection).work(with_scheduler=True, burst=burst)
