"""The timer sweep on SQLite and PostgreSQL: exactly once, crash-safe, failure-isolated."""

from __future__ import annotations

import threading
from datetime import datetime
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy import update
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from engine import commands
from engine import timers
from engine.clock import now as wall_now
from engine.db import make_engine
from engine.db import make_session_factory
from engine.identity import Actor
from engine.models import AuditEvent
from engine.models import Incident
from engine.models import PendingTimer
from engine.models import ProcessInstance
from engine.models import Ticket
from tests.conftest import NOW

ROAD = commands.TicketInput(
    kind="complaint", category="jalan_rusak", title="Jalan berlubang", description="Lubang"
)
OVERDUE = "verification_overdue"  # the P3D boundary timer on the verification task
LATER = NOW + timedelta(days=4)  # every verification timer is due


class Killed(BaseException):
    """Stands in for SIGKILL: not an Exception, so the sweep does not catch it."""


def submit_many(factory: sessionmaker[Session], count: int, *, now: datetime = NOW) -> None:
    """Submit ``count`` tickets through the engine, 100 per transaction."""
    done = 0
    while done < count:
        with factory.begin() as session:
            for _ in range(min(100, count - done)):
                commands.submit_ticket(session, data=ROAD, actor=Actor.public(), now=now)
                done += 1


def fired_events(factory: sessionmaker[Session]) -> list[int]:
    """Instance ids of every 'verification_overdue' completion in the audit trail."""
    with factory() as session:
        return list(
            session.scalars(
                select(AuditEvent.instance_id).where(
                    AuditEvent.action == "element_completed", AuditEvent.element_id == OVERDUE
                )
            )
        )


def assert_each_fired_once(factory: sessionmaker[Session], count: int) -> None:
    events = fired_events(factory)
    assert len(events) == count
    assert len(set(events)) == count
    with factory() as session:
        levels = session.execute(
            select(Ticket.escalation_level, func.count()).group_by(Ticket.escalation_level)
        ).all()
        assert dict(levels) == {1: count}
        left = session.scalar(
            select(func.count()).select_from(PendingTimer).where(PendingTimer.element_id == OVERDUE)
        )
        assert left == 0


def test_concurrent_sweepers_fire_each_of_1000_timers_exactly_once(backend_url, backend_factory):
    submit_many(backend_factory, 1000)
    assert timers.run_due(backend_factory, now=NOW).instances == 0  # nothing due yet

    sweepers = 4
    start = threading.Barrier(sweepers)
    results: list[timers.SweepResult] = []
    errors: list[BaseException] = []

    def sweep(n: int) -> None:
        engine = make_engine(backend_url)  # each sweeper its own engine and connections
        try:
            start.wait()
            results.append(
                timers.run_due(make_session_factory(engine), now=LATER, owner=f"s{n}", batch=25)
            )
        except BaseException as exc:
            errors.append(exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=sweep, args=(n,)) for n in range(sweepers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sum(r.fired for r in results) == 1000
    assert sum(r.failed for r in results) == 0
    assert_each_fired_once(backend_factory, 1000)
    with backend_factory() as session:
        checked = session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "timers_checked")
        )
        assert checked == 1000
    assert timers.run_due(backend_factory, now=LATER + timedelta(days=1)).fired == 0


def test_firing_an_instance_again_writes_nothing(backend_factory):
    submit_many(backend_factory, 1)
    with backend_factory() as session:
        instance_id = session.scalars(select(ProcessInstance.id)).one()
    with backend_factory.begin() as session:
        assert commands.fire_timers(session, instance_id=instance_id, now=LATER).changed
    with backend_factory() as session:
        version = session.get(ProcessInstance, instance_id).version
        audit_count = session.scalar(select(func.count()).select_from(AuditEvent))
    with backend_factory.begin() as session:
        assert not commands.fire_timers(session, instance_id=instance_id, now=LATER).changed
    with backend_factory() as session:
        assert session.get(ProcessInstance, instance_id).version == version
        assert session.scalar(select(func.count()).select_from(AuditEvent)) == audit_count


def test_claims_of_a_dead_sweeper_expire_and_the_next_sweep_fires_them(backend_factory):
    submit_many(backend_factory, 30)
    with backend_factory.begin() as session:  # a sweeper claims a batch, then dies
        dead = timers.claim_due(session, now=LATER, owner="dead", limit=10)
    assert len(dead) == 10

    live = timers.run_due(backend_factory, now=LATER, owner="live")
    assert (live.fired, live.failed) == (20, 0)  # the leased rows wait for their lease

    after_lease = timers.run_due(backend_factory, now=LATER + timers.LEASE, owner="next")
    assert (after_lease.fired, after_lease.failed) == (10, 0)
    assert_each_fired_once(backend_factory, 30)

    with backend_factory.begin() as session:  # the dead sweeper wakes up: nothing left to do
        assert not any(
            commands.fire_timers(session, instance_id=i, now=LATER).changed for i in dead
        )
    assert len(fired_events(backend_factory)) == 30


def test_a_sweeper_killed_mid_batch_loses_nothing(backend_factory, monkeypatch):
    submit_many(backend_factory, 40)
    real_fire = commands.fire_timers
    calls = 0

    def fire_then_die(session, **kwargs):
        nonlocal calls
        calls += 1
        if calls > 5:
            raise Killed
        return real_fire(session, **kwargs)

    monkeypatch.setattr(timers.commands, "fire_timers", fire_then_die)
    with pytest.raises(Killed):
        timers.run_due(backend_factory, now=LATER, owner="doomed", batch=15)
    monkeypatch.setattr(timers.commands, "fire_timers", real_fire)
    assert len(fired_events(backend_factory)) == 5

    # 10 claimed but unfired rows are leased to the dead sweeper; the other 25 fire now
    assert timers.run_due(backend_factory, now=LATER, owner="next").fired == 25
    # and the rest once the lease has run out
    assert timers.run_due(backend_factory, now=LATER + timers.LEASE, owner="next").fired == 10
    assert_each_fired_once(backend_factory, 40)


def test_a_failing_instance_yields_an_incident_and_the_others_fire(backend_factory):
    submit_many(backend_factory, 10)
    with backend_factory.begin() as session:
        broken = session.scalars(select(ProcessInstance.id).order_by(ProcessInstance.id)).first()
        session.execute(
            update(ProcessInstance)
            .where(ProcessInstance.id == broken)
            .values(state=b"not a workflow")
        )

    result = timers.run_due(backend_factory, now=LATER)
    assert (result.fired, result.failed) == (9, 1)
    assert sorted(set(fired_events(backend_factory))) == sorted(set(range(broken + 1, broken + 10)))
    with backend_factory() as session:
        incident = session.scalars(select(Incident)).one()
        assert (incident.instance_id, incident.kind, incident.at) == (broken, "timer_failed", LATER)
        held = session.scalar(
            select(PendingTimer.claimed_until).where(PendingTimer.instance_id == broken)
        )
        assert held is not None
        assert held > LATER  # held back for a backoff

    # the failing instance is held back, not retried (and re-reported) on every sweep
    assert timers.run_due(backend_factory, now=LATER + timedelta(seconds=10)).instances == 0
    retry = timers.run_due(backend_factory, now=LATER + timers.LEASE)
    assert (retry.instances, retry.failed) == (1, 1)
    with backend_factory() as session:
        assert session.scalar(select(func.count()).select_from(Incident)) == 2


def test_the_claim_reads_due_rows_through_the_due_at_index(tmp_path: Path):
    from tests.engine.conftest import prepare_database

    url = f"sqlite:///{tmp_path / 'plan.db'}"
    prepare_database(url)
    engine = make_engine(url)
    with engine.connect() as conn:
        plan = conn.execute(
            text(
                "EXPLAIN QUERY PLAN SELECT id, instance_id FROM pending_timer"
                " WHERE due_at <= :now AND (claimed_until IS NULL OR claimed_until <= :now)"
                " ORDER BY due_at LIMIT 100"
            ),
            {"now": "2026-01-01 00:00:00.000000"},
        ).all()
    engine.dispose()
    detail = " ".join(str(row[-1]) for row in plan)
    assert "ix_pending_timer_due_at" in detail
    assert "SCAN pending_timer" not in detail.replace("USING INDEX", "")


def test_cli_runs_one_sweep(backend_url, backend_factory, tmp_path, monkeypatch):
    from web import cli

    made: list[sessionmaker[Session]] = []

    def factory(settings):
        made.append(real_factory(settings))
        return made[-1]

    real_factory = cli._factory
    monkeypatch.setattr(cli, "_factory", factory)

    submit_many(backend_factory, 3, now=wall_now() - timedelta(days=10))
    submit_many(backend_factory, 2, now=wall_now())  # not due for three days
    env = {"LAKSA_HOME": str(tmp_path / "home"), "LAKSA_DATABASE_URL": backend_url}
    try:
        result = CliRunner().invoke(cli.main, ["timers", "run-due"], env=env)
    finally:
        for made_factory in made:  # the CLI process would exit here; close its connections
            made_factory.kw["bind"].dispose()
    assert result.exit_code == 0, result.output
    assert "3 instance(s) advanced, 0 failed" in result.output
    assert len(fired_events(backend_factory)) == 3
