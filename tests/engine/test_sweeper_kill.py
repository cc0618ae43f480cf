"""A sweeper process killed with SIGKILL in the middle of a batch loses nothing.

A real `laksa timers run-due` runs over ~300 due timers and is killed once it has fired some;
the rows it had claimed stay leased to it until the lease runs out (a short lease here, set
through LAKSA_TIMER_LEASE_SECONDS); the next sweep after that fires every remaining timer, each
exactly once, and `laksa audit verify` still passes. The same holds for a `laksa worker`
(against a private redis-server) killed while its sweep job runs: a new worker fires the rest.
On SQLite and on PostgreSQL (when LAKSA_TEST_POSTGRES_URL is set).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from engine.clock import now as wall_now
from engine.models import PendingTimer
from engine.models import Ticket
from tests.engine.test_timers import OVERDUE
from tests.engine.test_timers import assert_each_fired_once
from tests.engine.test_timers import fired_events
from tests.engine.test_timers import submit_many

TICKETS = 300
LEASE_SECONDS = 2.0
KILL_AFTER = 40  # fired timers; well inside the first batch of 100 claimed rows


def laksa() -> str:
    script = Path(sys.executable).parent / "laksa"
    found = str(script) if script.exists() else shutil.which("laksa")
    if not found:
        pytest.skip("the laksa console script is not installed")
    return found


def cli_env(url: str, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAKSA_")}
    env.update(
        LAKSA_HOME=str(home),
        LAKSA_DATABASE_URL=url,
        LAKSA_SECRET_KEY="test-secret",
        LAKSA_TIMER_LEASE_SECONDS=str(LEASE_SECONDS),
    )
    return env


def fired_count(conn: sa.Connection) -> int:
    """Committed firings so far, read without taking any write lock."""
    return int(
        conn.execute(
            sa.text(
                "SELECT count(*) FROM audit_event"
                " WHERE action = 'element_completed' AND element_id = :element"
            ),
            {"element": OVERDUE},
        ).scalar_one()
    )


def assert_killed_mid_batch(factory: sessionmaker[Session], pid: int) -> int:
    """Some timers fired, some still claimed by the killed process ``pid``; returns the fired."""
    fired = len(fired_events(factory))
    assert 0 < fired < TICKETS
    with factory() as session:
        held = session.scalar(
            select(func.count())
            .select_from(PendingTimer)
            .where(PendingTimer.claimed_by.like(f"%:{pid}"))
        )
    assert held, "killed between two batches: nothing was left claimed"
    return fired


def test_a_sweeper_killed_mid_batch_loses_nothing(backend_url, backend_factory, tmp_path):
    command = laksa()
    submit_many(backend_factory, TICKETS, now=wall_now() - timedelta(days=10))
    env = cli_env(backend_url, tmp_path / "home")

    # a plain engine: no BEGIN IMMEDIATE, so polling never blocks the sweeper on SQLite
    observer = sa.create_engine(backend_url, isolation_level="AUTOCOMMIT")
    sweeper = subprocess.Popen(
        [command, "timers", "run-due"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        with observer.connect() as conn:
            deadline = time.monotonic() + 120
            while fired_count(conn) < KILL_AFTER:
                assert sweeper.poll() is None, sweeper.communicate()
                assert time.monotonic() < deadline, "the sweeper fired nothing in 120 s"
                time.sleep(0.002)
        os.kill(sweeper.pid, signal.SIGKILL)
        sweeper.communicate(timeout=30)
    finally:
        if sweeper.poll() is None:
            sweeper.kill()
            sweeper.wait()
        observer.dispose()
    assert sweeper.returncode == -signal.SIGKILL  # killed, not finished

    killed_at = time.monotonic()
    fired_before = assert_killed_mid_batch(backend_factory, sweeper.pid)

    time.sleep(max(0.0, killed_at + LEASE_SECONDS + 0.5 - time.monotonic()))
    after = subprocess.run(
        [command, "timers", "run-due"], env=env, capture_output=True, text=True, timeout=600
    )
    assert after.returncode == 0, after.stderr
    assert f"{TICKETS - fired_before} instance(s) advanced, 0 failed" in after.stdout

    assert_each_fired_once(backend_factory, TICKETS)
    with backend_factory() as session:
        numbers = session.scalars(select(Ticket.number)).all()
    assert len(numbers) == TICKETS
    verify = subprocess.run(
        [command, "audit", "verify"], env=env, capture_output=True, text=True, timeout=300
    )
    assert verify.returncode == 0, verify.stderr
    assert "audit trail intact" in verify.stdout


def test_the_lease_comes_from_the_environment():
    from engine import timers

    assert timers.lease_from_env({}) == timers.LEASE
    assert timers.lease_from_env({timers.LEASE_ENV: " 2.5 "}) == timedelta(seconds=2.5)
    for bad in ("soon", "0", "-3"):
        with pytest.raises(ValueError, match=timers.LEASE_ENV):
            timers.lease_from_env({timers.LEASE_ENV: bad})


def test_an_rq_worker_killed_mid_sweep_loses_nothing(backend_url, backend_factory, tmp_path):
    """The same with `laksa worker`: SIGKILL while its sweep job runs, then a new worker."""
    from tests.engine.private_redis import PrivateRedis

    command = laksa()
    submit_many(backend_factory, TICKETS, now=wall_now() - timedelta(days=10))
    redis = PrivateRedis(tmp_path / "redis")
    redis.start()
    env = {**cli_env(backend_url, tmp_path / "home"), "LAKSA_REDIS_URL": redis.url}
    env["LAKSA_TIMER_INTERVAL"] = "1"
    observer = sa.create_engine(backend_url, isolation_level="AUTOCOMMIT")
    log = (tmp_path / "worker.log").open("wb")
    workers: list[subprocess.Popen[bytes]] = []

    def start() -> subprocess.Popen[bytes]:
        worker = subprocess.Popen([command, "worker"], env=env, stdout=log, stderr=log)
        workers.append(worker)
        return worker

    try:
        first = start()
        with observer.connect() as conn:
            deadline = time.monotonic() + 120
            while fired_count(conn) < KILL_AFTER:
                assert first.poll() is None, (tmp_path / "worker.log").read_text()
                assert time.monotonic() < deadline, "the worker fired nothing in 120 s"
                time.sleep(0.002)
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=30)
        assert first.returncode == -signal.SIGKILL

        assert_killed_mid_batch(backend_factory, first.pid)

        second = start()
        with observer.connect() as conn:
            deadline = time.monotonic() + 120
            while fired_count(conn) < TICKETS:
                assert second.poll() is None, (tmp_path / "worker.log").read_text()
                assert time.monotonic() < deadline, "the new worker did not fire the rest"
                time.sleep(0.05)
        time.sleep(1.5)  # another sweep or two: none may fire anything twice
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.terminate()
                worker.wait(timeout=30)
        log.close()
        observer.dispose()
        redis.stop()
    assert_each_fired_once(backend_factory, TICKETS)
