"""`laksa worker` heals itself when Redis goes away: sweeps resume within two intervals.

A real `laksa worker` (LAKSA_TIMER_INTERVAL=2) runs against PostgreSQL and a private
redis-server. Redis is stopped for a few intervals, while a ticket with an overdue timer and an
outbox message is submitted; then Redis comes back, once with its data (an append-only file)
and once empty. Each time the overdue timer must fire and the message must be delivered within
two intervals of Redis answering again (plus a little slack for the observer's polling). The
web app keeps taking submissions and task completions while Redis is down.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Callable
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from engine import commands
from engine.clock import now as wall_now
from engine.db import make_engine
from engine.db import make_session_factory
from engine.identity import Actor
from engine.identity import create_token
from engine.models import OutboxMessage
from engine.settings import Settings
from tests.conftest import WORKFLOWS
from tests.conftest import add_users
from tests.engine.conftest import prepared_database
from tests.engine.private_redis import PrivateRedis
from tests.engine.test_sweeper_kill import laksa
from tests.engine.test_timers import ROAD
from tests.engine.test_timers import fired_events
from tests.web.test_api import ROAD as API_ROAD

pytestmark = pytest.mark.postgres
INTERVAL = 2.0
SLACK = 1.0  # seconds for the observer's polling and a loaded machine
OUTAGE = 2.5 * INTERVAL


@pytest.fixture
def postgres_url(tmp_path: Path) -> Iterator[str]:
    with prepared_database("postgres", tmp_path) as url:
        yield url


@pytest.fixture
def factory(postgres_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(postgres_url)
    yield make_session_factory(engine)
    engine.dispose()


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


def worker_env(database_url: str, redis_url: str, home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAKSA_")}
    env.update(
        LAKSA_HOME=str(home),
        LAKSA_DATABASE_URL=database_url,
        LAKSA_REDIS_URL=redis_url,
        LAKSA_SECRET_KEY="test-secret",
        LAKSA_TIMER_INTERVAL=str(INTERVAL),
    )
    env.update(extra)
    return env


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen([laksa(), "worker"], env=env, stdout=out, stderr=subprocess.STDOUT)


def stop_worker(worker: subprocess.Popen[bytes]) -> None:
    if worker.poll() is None:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


def wait_until(condition: Callable[[], bool], *, timeout: float, what: str) -> float:
    """Poll ``condition`` every 50 ms; return the seconds it took."""
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < timeout, f"{what}: not within {timeout} s"
        time.sleep(0.05)
    return time.monotonic() - start


def submit_overdue(factory: sessionmaker[Session]) -> None:
    """A ticket whose verification timer is long due, with a private link in the outbox."""
    data = commands.TicketInput(**{**ROAD.__dict__, "reporter_contact": "budi@example.org"})
    with factory.begin() as session:
        commands.submit_ticket(
            session, data=data, actor=Actor.public(), now=wall_now() - timedelta(days=10)
        )


def delivered(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.delivered_at.is_not(None))
            )
            or 0
        )


def test_sweeps_resume_within_two_intervals_of_redis_returning(
    postgres_url, factory, redis, tmp_path
):
    env = worker_env(postgres_url, redis.url, tmp_path / "home")
    logs = [tmp_path / "worker-1.log", tmp_path / "worker-2.log"]
    workers = [start_worker(env, log) for log in logs]  # two, as a province would run

    def all_logs() -> str:
        return "\n".join(log.read_text() for log in logs)

    try:
        submit_overdue(factory)
        wait_until(
            lambda: len(fired_events(factory)) == 1 and delivered(factory) == 1,
            timeout=60,
            what="the first sweep",
        )
        for count, empty in ((2, False), (3, True)):
            redis.stop()
            submit_overdue(factory)  # the engine needs no Redis
            time.sleep(OUTAGE)
            assert all(w.poll() is None for w in workers), all_logs()
            assert len(fired_events(factory)) == count - 1
            redis.start(empty=empty)
            took = wait_until(
                lambda n=count: len(fired_events(factory)) == n and delivered(factory) == n,
                timeout=120,
                what=f"a sweep after Redis came back {'empty' if empty else 'with its data'}",
            )
            print(f"sweeps resumed {took:.2f} s after Redis came back (empty: {empty})")
            assert took <= 2 * INTERVAL + SLACK, (empty, took, all_logs())
        assert all(w.poll() is None for w in workers)
    finally:
        for worker in workers:
            stop_worker(worker)
    assert [w.returncode for w in workers] == [0, 0], all_logs()
    assert sorted(fired_events(factory)) == sorted(set(fired_events(factory)))
    # one sweep per slot, whichever worker took it: at least the three that fired the timers
    swept = re.findall(r"Job OK \((\S+-timer-sweep-\d+)\)", all_logs())
    assert len(swept) >= 3
    assert len(swept) == len(set(swept))


def test_the_web_app_takes_submissions_and_completions_while_redis_is_down(
    postgres_url, factory, redis, tmp_path
):
    from web.app import create_app

    with factory.begin() as session:
        add_users(session)
    settings = Settings(
        home=tmp_path / "home",
        database_url=postgres_url,
        redis_url=redis.url,
        secret_key="test-secret",
        workflows_dir=WORKFLOWS,
    )
    app = create_app(
        {
            "SETTINGS": settings,
            "TESTING": True,
            "RATELIMIT_ENABLED": True,  # counted in Redis, as in production
            "DB_ENGINE": factory.kw["bind"],
        }
    )
    client = app.test_client()
    with factory.begin() as session:
        token = create_token(session, username="verifikator", name="test", now=wall_now())
    redis.stop()

    response = client.post("/api/v1/tickets", json=API_ROAD)
    assert response.status_code == 201, response.get_data(as_text=True)
    number = response.get_json()["number"]
    headers = {"Authorization": f"Bearer {token}"}
    tasks = client.get("/api/v1/tasks", headers=headers)
    assert tasks.status_code == 200, tasks.get_data(as_text=True)
    [task] = [t for t in tasks.get_json() if t["ticket"] == number]
    done = client.post(
        f"/api/v1/tasks/{task['id']}/complete",
        json={"data": {"decision": "route"}, "version": task["version"]},
        headers=headers,
    )
    assert done.status_code == 200, done.get_data(as_text=True)
    assert done.get_json()["status"] == "dispatched"
