"""RQ jobs and ``laksa worker``: module-level jobs that take ids, never objects, and no Flask.

Sweeps fall on fixed slots (multiples of ``LAKSA_TIMER_INTERVAL`` seconds since the epoch). A
small ticker thread in every ``laksa worker`` enqueues the current slot's sweep at the start of
each slot, with a job id naming the queue and the slot and RQ's ``unique=True`` (an atomic "only
if no job with this id exists"): however many workers tick, each slot gets one sweep job, and a
second ``enqueue`` for the slot raises ``DuplicateJobError``, the expected answer. A finished
sweep's job hash is kept for a few intervals so that a late ticker of the same slot still finds
it. After sweeping (or failing to), a sweep enqueues its slot's outbox delivery
(``deliver_outbox``) as a separate job, unique per slot the same way, so slow SMTP never delays
timers and a failed sweep still lets messages go out. The first sweep of each Asia/Jakarta day
also publishes the day's audit anchor (``engine.anchors``); each sweep also forgets expired
Idempotency-Keys.

Healing. Nothing here depends on state kept in Redis between slots, so Redis may stop, restart
with its data or come back empty: the ticker logs the outage once, keeps ticking, and enqueues
the first slot after Redis returns. (An earlier design had each sweep schedule the next one
through RQ's scheduler process; that process dies with the connection and RQ restarts it only
in its 10-minute maintenance, and a Redis that came back empty had no sweep scheduled at all.)
RQ's worker retries a lost connection while it waits for jobs, with a doubling pause that
``run_worker`` caps at half an interval (RQ's default cap is 60 s), and quits on a connection
error anywhere else (between jobs, while watching a job); ``run_worker`` then starts a fresh RQ
worker after a short pause, until SIGINT/SIGTERM. So sweeps and deliveries resume within two
intervals of Redis returning.

The RQ worker is RQ's ``SimpleWorker``: jobs run in the worker process itself, not in a process
forked per job, so the database pool and the parsed workflow specs stay warm between sweeps (a
forked job started cold: half a second to two seconds before it fired anything) and a worker
killed mid-sweep takes its sweep with it (the claimed timers' lease then lets the next sweep
fire them).
"""

from __future__ import annotations

import logging
import math
import signal
import threading
import time
from datetime import UTC
from datetime import datetime
from types import FrameType
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
RESTART_PAUSE = 5.0  # seconds at most between an RQ worker quitting and the next one starting

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


def _interval(seconds: float) -> float:
    return max(float(seconds), 1.0)


def slot_of(now: datetime, interval_seconds: float) -> int:
    return math.floor(now.timestamp() / _interval(interval_seconds))


def sweep_job_id(queue_name: str, slot: int) -> str:
    return f"{queue_name}-timer-sweep-{slot}"


def delivery_job_id(queue_name: str, slot: int) -> str:
    return f"{queue_name}-outbox-delivery-{slot}"


def sweep_timers(queue_name: str = QUEUE) -> int:
    """Fire due timers, then enqueue the slot's outbox delivery; returns instances advanced."""
    settings = Settings.from_env()
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


def enqueue_delivery(queue: Queue, *, now: datetime, interval_seconds: float = 1.0) -> Job | None:
    """Enqueue one outbox delivery for the slot of ``now``; None if that slot already has one."""
    from rq.exceptions import DuplicateJobError

    interval = _interval(interval_seconds)
    try:
        job: Job = queue.enqueue(
            deliver_outbox,
            job_id=delivery_job_id(queue.name, slot_of(now, interval)),
            unique=True,
            result_ttl=max(60, math.ceil(3 * interval)),
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


def enqueue_sweep(queue: Queue, interval_seconds: float, *, now: datetime) -> Job | None:
    """Enqueue the sweep of the slot of ``now``; None if that slot already has one."""
    from rq.exceptions import DuplicateJobError

    interval = _interval(interval_seconds)
    try:
        job: Job = queue.enqueue(
            sweep_timers,
            queue.name,
            job_id=sweep_job_id(queue.name, slot_of(now, interval)),
            unique=True,
            result_ttl=max(60, math.ceil(3 * interval)),
            failure_ttl=FAILURE_TTL,
            description="laksa timer sweep",
        )
    except DuplicateJobError:
        return None
    return job


class SweepTicker:
    """Enqueues each slot's sweep at the slot's start, from a daemon thread.

    While Redis is away a tick fails: the first failure is logged, later ones are not, and the
    return of Redis is logged once. The next tick then enqueues that slot's sweep as usual.
    """

    def __init__(self, queue: Queue, interval_seconds: float) -> None:
        self.queue = queue
        self.interval = _interval(interval_seconds)
        self.redis_down = False
        self.stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="laksa-sweep-ticker", daemon=True)

    def tick(self, now: datetime | None = None) -> Job | None:
        from redis.exceptions import RedisError

        try:
            job = enqueue_sweep(self.queue, self.interval, now=now or datetime.now(UTC))
        except RedisError as exc:
            if not self.redis_down:
                log.warning("Redis unreachable, timer sweeps wait for it: %s", exc)
            self.redis_down = True
            return None
        if self.redis_down:
            log.warning("Redis reachable again, timer sweeps resume")
            self.redis_down = False
        return job

    def _run(self) -> None:
        while not self.stopping.is_set():
            self.tick()
            now = time.time()
            self.stopping.wait((math.floor(now / self.interval) + 1) * self.interval - now + 0.01)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self._thread.join(timeout=10)


def _connection(redis_url: str, *, socket_timeout: float | None = None) -> Redis:
    """A client that fails fast while Redis is away (the callers retry, not redis-py)."""
    from redis import Redis
    from redis.backoff import ExponentialBackoff
    from redis.retry import Retry

    return Redis.from_url(
        redis_url,
        socket_connect_timeout=5,
        socket_timeout=socket_timeout,
        retry=Retry(ExponentialBackoff(cap=0.25, base=0.05), 2),
    )


def _queue(
    redis_url: str, queue_name: str = QUEUE, *, socket_timeout: float | None = None
) -> Queue:
    from rq import Queue

    return Queue(queue_name, connection=_connection(redis_url, socket_timeout=socket_timeout))


def run_worker(settings: Settings, *, queue_name: str = QUEUE, burst: bool = False) -> None:
    """Run RQ workers on the queue and a ticker that enqueues one sweep per slot.

    ``burst``: enqueue this slot's sweep, work until the queue is empty, return. Otherwise an
    RQ worker that quits for any reason but a stop signal (a connection error outside its wait
    for jobs, or Redis unreachable when it starts) is replaced by a fresh one after a pause.
    """
    from rq import SimpleWorker as Worker

    if not settings.redis_url:
        raise ValueError("the worker needs LAKSA_REDIS_URL")
    interval = _interval(settings.timer_interval_seconds)
    queue = _queue(settings.redis_url, queue_name)
    ticker = SweepTicker(_queue(settings.redis_url, queue_name, socket_timeout=5), interval)
    if burst:
        ticker.tick()
        Worker([queue], connection=queue.connection).work(burst=True)
        return
    stopping = threading.Event()
    pause = min(RESTART_PAUSE, interval / 2)
    ticker.start()
    try:
        while not stopping.is_set():
            _stop_on_signal(stopping)  # until the RQ worker installs its own handlers
            worker = None
            try:
                worker = Worker([queue], connection=queue.connection)  # asks Redis its address
                # RQ doubles its pause between reconnection attempts up to 60 s by default
                worker.max_connection_wait_time = max(1.0, interval / 2)
                worker.work()
            except Exception as exc:  # Redis unreachable when starting, registering, tearing down
                log.warning("RQ worker stopped: %s: %s", type(exc).__name__, exc)
            if getattr(worker, "_shutdown_requested_date", None) is not None:
                break  # SIGINT/SIGTERM reached the RQ worker: a warm shutdown
            if not stopping.is_set():
                log.warning("RQ worker quit; starting a fresh one in %.1f s", pause)
                stopping.wait(pause)
    finally:
        ticker.stop()


def _stop_on_signal(stopping: threading.Event) -> None:
    def handler(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
