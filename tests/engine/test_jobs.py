"""The RQ sweep job against a real Redis: fires due timers, keeps one next sweep scheduled."""

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
INTERVAL = 600  # seconds: the next sweep stays scheduled while the test runs


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
def test_the_sweep_job_fires_due_timers_and_schedules_the_next_sweep(backend_factory, queue):
    submit_many(backend_factory, 3, now=datetime.now(UTC) - timedelta(days=10))
    submit_many(backend_factory, 2, now=datetime.now(UTC))  # not due yet
    job = queue.enqueue(jobs.sweep_timers, queue.name, job_id=f"{queue.name}-first")

    SimpleWorker([queue], connection=queue.connection).work(burst=True)

    assert job.latest_result().return_value == 3
    assert len(fired_events(backend_factory)) == 3
    [next_id] = scheduled(queue)
    assert next_id.startswith(f"{queue.name}-timer-sweep-")
    registry = ScheduledJobRegistry(queue=queue)
    at = registry.get_scheduled_time(next_id)
    assert datetime.now(UTC) < at <= datetime.now(UTC) + timedelta(seconds=INTERVAL + 1)

    # another run in the same slot (a second worker, a restart) does not add a second sweep
    again = queue.enqueue(jobs.sweep_timers, queue.name, job_id=f"{queue.name}-second")
    SimpleWorker([queue], connection=queue.connection).work(burst=True)
    assert again.latest_result().return_value == 0
    assert jobs.schedule_next_sweep(queue, INTERVAL, now=datetime.now(UTC)) is None
    assert scheduled(queue) == [next_id]
    assert len(fired_events(backend_factory)) == 3


@pytest.mark.usefixtures("job_env")
def test_worker_start_schedules_one_sweep(queue):
    settings = Settings.from_env()
    jobs.run_worker(settings, queue_name=queue.name, burst=True)
    jobs.run_worker(settings, queue_name=queue.name, burst=True)
    [job_id] = scheduled(queue)
    assert job_id.startswith(f"{queue.name}-timer-sweep-")
