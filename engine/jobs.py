"""RQ jobs: module-level functions that take ids, never objects, and never touch Flask."""

from __future__ import annotations

import logging
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from functools import lru_cache

from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from engine import timers
from engine.db import make_engine
from engine.db import make_session_factory
from engine.settings import Settings

log = logging.getLogger(__name__)
QUEUE = "laksa"
SWEEP_JOB_ID = "laksa-timer-sweep"


@lru_cache(maxsize=1)
def _factory() -> sessionmaker[Session]:
    return make_session_factory(make_engine(Settings.from_env().database_url))


def sweep_timers() -> int:
    """Fire due timers, then schedule the next sweep; returns instances advanced."""
    settings = Settings.from_env()
    result = timers.run_due(_factory(), now=datetime.now(UTC))
    _schedule_next(settings)
    return result.fired


def _schedule_next(settings: Settings) -> None:
    from redis import Redis
    from rq import Queue

    queue = Queue(QUEUE, connection=Redis.from_url(settings.redis_url or ""))
    queue.enqueue_in(
        timedelta(seconds=settings.timer_interval_seconds), sweep_timers, job_id=SWEEP_JOB_ID
    )


def run_worker(settings: Settings) -> None:
    """Run an RQ worker with its scheduler; it keeps one sweep job scheduled."""
    from redis import Redis
    from rq import Queue
    from rq import Worker

    connection = Redis.from_url(settings.redis_url or "")
    queue = Queue(QUEUE, connection=connection)
    queue.enqueue(sweep_timers, job_id=SWEEP_JOB_ID)
    Worker([queue], connection=connection).work(with_scheduler=True)
