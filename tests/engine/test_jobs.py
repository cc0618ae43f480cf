"""The RQ sweep job against a real Redis: fires due timers, one sweep job per slot."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC
from datetime import datetime
from datetime import timedelta

import pytest
from redis import Redis
from rq import Queue
from rq import SimpleWorker
from rq.registry import ScheduledJobRegistry

from engine import jobs
from engine.settings import Settings
from tests.engine.test_timers import fired_events
from tests.engine.test_timers import submit_many

pytestmark = pytest.mark.redis
INTERVAL = 600  # seconds: the test runs inside one slot


@pytest.fixture
def queue(redis_url: str) -> Iterator[Queue]:
    connection = Redis.from_url(redis_url)
    queue = Queue(f"laksa-test-{uuid.uuid4().hex[:10]}", connection=connection)
    yield queue
    for key in connection.scan_iter(match=f"*{queue.name}*"):
        connection.delete(key)
    connection.close()


@pytest.fixture
def job_env(monkeypatch, backend_url, redis_url, tmp_path) -> Iterator[None]:
    monkeypatch.setenv("LAKSA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("LAKSA_DATABASE_URL", backend_url)
    monkeypatch.setenv("LAKSA_REDIS_URL", redis_url)
    monkeypatch.setenv("LAKSA_TIMER_INTERVAL", str(INTERVAL))
    monkeypatch.setenv("LAKSA_SECRET_KEY", "test")
    yield
    jobs.close_engines()


def scheduled(queue: Queue) -> list[str]:
    return ScheduledJobRegistry(queue=queue).get_job_ids()


@pytest.mark.usefixtures("job_env")
def test_the_sweep_job_fires_due_timers_then_enqueues_the_slots_delivery(backend_factory, queue):
    submit_many(backend_factory, 3, now=datetime.now(UTC) - timedelta(days=10))
    submit_many(backend_factory, 2, now=datetime.now(UTC))  # not due yet
    job = jobs.enqueue_sweep(queue, INTERVAL, now=datetime.now(UTC))
    assert job is not None

    SimpleWorker([queue], connection=queue.connection).work(burst=True)

    assert job.latest_result().return_value == 3
    assert len(fired_events(backend_factory)) == 3
    finished = queue.finished_job_registry.get_job_ids()
    assert any(j.startswith(f"{queue.name}-outbox-delivery-") for j in finished)
    assert scheduled(queue) == []  # nothing waits in RQ's scheduler: the ticker enqueues


@pytest.mark.usefixtures("job_env")
def test_each_slot_gets_one_sweep_however_many_tickers(queue):
    now = datetime.now(UTC)
    first = jobs.SweepTicker(queue, INTERVAL).tick(now)
    assert first is not None
    assert first.id == jobs.sweep_job_id(queue.name, jobs.slot_of(now, INTERVAL))
    assert jobs.SweepTicker(queue, INTERVAL).tick(now) is None  # a second worker, same slot
    SimpleWorker([queue], connection=queue.connection).work(burst=True)
    assert jobs.enqueue_sweep(queue, INTERVAL, now=now) is None  # finished: still the slot's
    later = jobs.enqueue_sweep(queue, INTERVAL, now=now + timedelta(seconds=INTERVAL))
    assert later is not None
    assert later.id != first.id


def test_a_ticker_waits_for_redis_without_raising(caplog):
    dead = Queue("laksa-test-dead", connection=jobs._connection("redis://127.0.0.1:9/0"))
    ticker = jobs.SweepTicker(dead, INTERVAL)
    with caplog.at_level("WARNING", logger="engine.jobs"):
        assert ticker.tick() is None
        assert ticker.tick() is None
    assert ticker.redis_down
    # logged once per outage, not once per tick
    assert sum("Redis unreachable" in r.message for r in caplog.records) == 1


@pytest.mark.usefixtures("job_env")
def test_a_burst_worker_sweeps_the_current_slot_once(queue, backend_factory):
    submit_many(backend_factory, 2, now=datetime.now(UTC) - timedelta(days=10))
    settings = Settings.from_env()
    jobs.run_worker(settings, queue_name=queue.name, burst=True)
    jobs.run_worker(settings, queue_name=queue.name, burst=True)
    sweeps = [
        j
        for j in queue.finished_job_registry.get_job_ids()
        if j.startswith(f"{queue.name}-timer-sweep-")
    ]
    assert len(sweeps) == 1
    assert len(fired_events(backend_factory)) == 2
