"""The embedded sweeper (`laksa serve` without Redis) fires timers as they fall due.

Real time on SQLite: the verification timer is redeployed as a fixed ``PT2S`` so that a ticket
submitted now has a timer due two seconds later; with a 30-second interval the old loop would
have fired it up to 30 seconds late, the sweeper fires it within a second of its due time.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC
from datetime import datetime
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from engine import definitions
from engine import sweeper
from engine.models import AuditEvent
from engine.models import OutboxMessage
from engine.models import PendingTimer
from tests.conftest import WORKFLOWS
from tests.engine.test_outbox import Recording
from tests.engine.test_timers import OVERDUE
from tests.factories import submit

INTERVAL = 30.0  # seconds: far longer than any wait in these tests


def redeploy_with_timer(factory: sessionmaker[Session], seconds: int) -> None:
    """Deploy workflows/ with the verification timer a fixed ``PT<seconds>S``."""
    files = definitions.read_files(WORKFLOWS)
    pattern = r'(id="verification_overdue_timer">\s*<bpmn:timeDuration>)working_days\(3\)'
    text, found = re.subn(pattern, rf'\1"PT{seconds}S"', files["complaint.bpmn"])
    assert found == 1
    with factory.begin() as session:
        definitions.deploy(
            session, {**files, "complaint.bpmn": text}, actor="test", now=datetime.now(UTC)
        )


def fired_at(factory: sessionmaker[Session]) -> list[datetime]:
    """When each verification timer fired, as the audit trail says."""
    with factory() as session:
        return list(
            session.scalars(
                select(AuditEvent.at).where(
                    AuditEvent.action == "element_completed", AuditEvent.element_id == OVERDUE
                )
            )
        )


@contextmanager
def sweeping(factory: sessionmaker[Session], sender: Recording) -> Iterator[None]:
    """The sweeper in its thread, as `laksa serve` starts it, stopped on leaving."""
    stop = threading.Event()
    thread = threading.Thread(
        target=sweeper.run,
        args=(factory, sender),
        kwargs={"interval": INTERVAL, "stop": stop},
        daemon=True,
    )
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not thread.is_alive()


def wait_for(condition: Callable[[], bool], timeout: float) -> float:
    """Poll every 20 ms; return the seconds it took."""
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < timeout, f"not within {timeout} s"
        time.sleep(0.02)
    return time.monotonic() - start


def test_a_timer_fires_when_it_falls_due_not_at_the_next_poll(session_factory):
    redeploy_with_timer(session_factory, 3)
    submit(session_factory, now=datetime.now(UTC))
    with session_factory() as session:
        [due] = session.scalars(
            select(PendingTimer.due_at).where(PendingTimer.element_id == OVERDUE)
        )
    with sweeping(session_factory, Recording()):  # its first round finds nothing due yet
        wait_for(lambda: len(fired_at(session_factory)) == 1, timeout=20)
        late = (datetime.now(UTC) - due).total_seconds()
    assert 0 <= late < 1.5, late  # the old loop: up to INTERVAL seconds
    [at] = fired_at(session_factory)
    assert at >= due


def test_overdue_timers_and_waiting_mail_go_out_at_start(session_factory):
    for _ in range(3):
        submit(session_factory, now=datetime.now(UTC) - timedelta(days=10))
    sender = Recording()
    with sweeping(session_factory, sender):
        took = wait_for(
            lambda: len(fired_at(session_factory)) == 3 and len(sender.sent) >= 3, timeout=20
        )
    assert took < INTERVAL / 3  # not one interval after starting
    with session_factory() as session:
        rows = session.execute(select(OutboxMessage.id, OutboxMessage.delivered_at)).all()
    assert len(rows) >= 3  # the private links, and the escalations the timers wrote
    assert all(delivered for _, delivered in rows)  # the first round's chores sent them all
    assert sorted(sender.sent) == sorted(id_ for id_, _ in rows)


def test_next_due_skips_timers_another_sweeper_holds(session_factory):
    now = datetime.now(UTC)
    with session_factory() as session:
        assert sweeper.next_due(session, now=now) is None
    submit(session_factory, now=now - timedelta(days=10))
    submit(session_factory, now=now)
    with session_factory() as session:
        dues = sorted(session.scalars(select(PendingTimer.due_at)))
        assert sweeper.next_due(session, now=now) == dues[0]
    with session_factory.begin() as session:
        session.execute(
            update(PendingTimer)
            .where(PendingTimer.due_at == dues[0])
            .values(claimed_by="other", claimed_until=now + timedelta(minutes=5))
        )
    with session_factory() as session:
        assert sweeper.next_due(session, now=now) == dues[1]
        assert sweeper.next_due(session, now=now + timedelta(minutes=6)) == dues[0]
