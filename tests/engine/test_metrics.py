"""The gauges read from the database, and the timer lateness observed where timers fire."""

from __future__ import annotations

import os
import threading
import time
from datetime import UTC
from datetime import datetime
from datetime import timedelta

from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from engine import metrics
from engine import sweeper
from engine import timers
from engine.models import Incident
from engine.models import OutboxMessage
from engine.models import PendingTimer
from engine.models import StatCount
from engine.models import Ticket
from engine.outbox import MAX_ATTEMPTS
from tests.conftest import NOW
from tests.factories import submit


def _lateness() -> tuple[float, float]:
    histogram = metrics.timer_lateness()
    samples = {s.name: s.value for m in histogram.collect() for s in m.samples}
    return samples["laksa_timer_lateness_seconds_count"], samples[
        "laksa_timer_lateness_seconds_sum"
    ]


def test_snapshot_counts_tickets_tasks_and_due_timers(
    backend_factory: sessionmaker[Session],
) -> None:
    with backend_factory() as session:
        empty = metrics.snapshot(session, now=NOW)
    assert set(empty.tickets_by_status.values()) == {0}
    assert {"received", "verification", "in_progress"} <= set(empty.tickets_by_status)
    assert (empty.timers_due, empty.sweep_lag_seconds) == (0, 0.0)
    for _ in range(3):
        submit(backend_factory)
    with backend_factory() as session:
        first_due = session.scalar(select(func.min(PendingTimer.due_at)))
        pending = session.scalar(select(func.count()).select_from(PendingTimer))
        now = metrics.snapshot(session, now=NOW)
        later = metrics.snapshot(session, now=NOW + timedelta(days=30))
    assert first_due is not None
    assert pending
    assert {k: n for k, n in now.tickets_by_status.items() if n} == {"verification": 3}
    assert now.open_tasks_by_group == {"verifier": 3}
    assert (now.timers_due, now.timers_overdue, now.sweep_lag_seconds) == (0, 0, 0.0)
    # Thirty days on, every pending timer is due, overdue, and the oldest says how late.
    assert later.timers_due == later.timers_overdue == pending
    lag = (NOW + timedelta(days=30) - first_due.astimezone(UTC)).total_seconds()
    assert later.sweep_lag_seconds == lag


def test_closed_tickets_count_by_outcome_from_the_kept_counts_not_by_status(
    backend_factory: sessionmaker[Session],
) -> None:
    first, second = submit(backend_factory), submit(backend_factory)
    with backend_factory.begin() as session:
        session.execute(update(Ticket).where(Ticket.number == first).values(status="closed"))
        session.add_all(
            [
                StatCount(dimension="all", key="", state="closed:fixed", late=False, count=5),
                StatCount(dimension="all", key="", state="closed:fixed", late=True, count=2),
                StatCount(dimension="all", key="", state="closed:duplicate", late=False, count=1),
                StatCount(dimension="opd", key="dpupr", state="closed:fixed", late=False, count=9),
            ]
        )
    with backend_factory() as session:
        s = metrics.snapshot(session, now=NOW)
    assert second
    assert s.tickets_by_status["verification"] == 1
    assert "closed" not in s.tickets_by_status
    assert s.closed_by_outcome == {"fixed": 7, "duplicate": 1}


def test_outbox_backlog_failures_and_open_incidents(
    backend_factory: sessionmaker[Session],
) -> None:
    with backend_factory.begin() as session:
        for attempts in (0, 1, MAX_ATTEMPTS):
            session.add(
                OutboxMessage(
                    topic="notify.group",
                    payload={},
                    created_at=NOW,
                    deliver_after=NOW,
                    attempts=attempts,
                )
            )
        session.add(
            OutboxMessage(
                topic="notify.group",
                payload={},
                created_at=NOW,
                deliver_after=NOW + timedelta(hours=1),
            )
        )
        session.add(
            OutboxMessage(
                topic="notify.group",
                payload={},
                created_at=NOW,
                deliver_after=NOW,
                delivered_at=NOW,
            )
        )
        session.add(Incident(at=NOW, kind="timer_failed", message="x"))
        session.add(Incident(at=NOW, kind="timer_failed", message="y", resolved_at=NOW))
    with backend_factory() as session:
        s = metrics.snapshot(session, now=NOW)
    assert (s.outbox_backlog, s.outbox_failed, s.incidents_open) == (2, 1, 1)


def test_counts_stop_at_the_cap(backend_factory: sessionmaker[Session], monkeypatch) -> None:
    for _ in range(3):
        submit(backend_factory)
    monkeypatch.setattr(metrics, "COUNT_CAP", 2)
    with backend_factory() as session:
        s = metrics.snapshot(session, now=NOW + timedelta(days=30))
    assert s.timers_due == 2


def test_a_sweep_observes_how_late_each_fired_instance_was(
    backend_factory: sessionmaker[Session],
) -> None:
    number = submit(backend_factory)  # at NOW, days before the wall clock: its timers are due
    with backend_factory() as session:
        due = session.scalar(select(func.min(PendingTimer.due_at)))
    assert due is not None
    count, total = _lateness()
    result = timers.run_due(backend_factory, now=datetime.now(UTC))
    after_count, after_total = _lateness()
    assert number
    assert result.fired == 1
    assert after_count == count + 1
    late = (datetime.now(UTC) - due.astimezone(UTC)).total_seconds()
    assert late - 60 < after_total - total <= late


def test_an_instance_with_nothing_due_observes_nothing(
    backend_factory: sessionmaker[Session],
) -> None:
    submit(backend_factory)
    with backend_factory.begin() as session:  # claimable, but SpiffWorkflow sees nothing due
        session.execute(update(PendingTimer).values(due_at=NOW - timedelta(days=1)))
    count, _ = _lateness()
    result = timers.run_due(backend_factory, now=NOW)
    assert result.skipped == 1
    assert _lateness()[0] == count


def test_a_sweeper_started_by_a_server_stops_when_the_server_is_gone() -> None:
    rounds: list[float] = []
    started = time.monotonic()
    sweeper.run(
        None,  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
        interval=0.2,
        stop=threading.Event(),
        parent=os.getppid() + 100_000,  # not our parent: as if it had died
        sweep=lambda *_: rounds.append(time.monotonic()),
    )
    assert time.monotonic() - started < 2
    assert rounds == []


def test_the_sweeper_sweeps_every_interval_until_stopped() -> None:
    stop = threading.Event()
    rounds: list[int] = []

    def sweep(*_: object) -> None:
        rounds.append(1)
        if len(rounds) == 3:
            stop.set()

    sweeper.run(None, None, interval=0.05, stop=stop, sweep=sweep)  # type: ignore[arg-type]
    assert len(rounds) == 3
