"""Timer lateness of the embedded sweeper: fired - due for timers falling due in one minute.

    .venv/bin/python bench/timers.py --lateness [--timers 1000] [--spread 60] [--lead 60]
        [--interval 10] [--poll]

Real time, real sweeper: ``workflows/`` is deployed with the verification timer's
``working_days(3)`` (a deadline at the end of a Jakarta day) replaced by a fixed ``PT600S``, and
``--timers`` tickets are submitted through the engine with their clocks set so that their
timers fall due one after another, evenly over ``--spread`` seconds starting ``--lead`` seconds
after the bench began (the submissions must be done by then). Then the embedded sweeper runs in
a thread, the same ``engine.sweeper.run`` that ``laksa serve`` starts without Redis, with
``LAKSA_TIMER_INTERVAL`` = ``--interval``. Each firing's commit time is recorded (an
``after_commit`` hook on the session that fired it); its lateness is that time minus the
timer's ``due_at``. ``--poll`` runs the loop as it was before instead: sleep ``--interval``,
sweep, repeat. The last line on stdout is one JSON object.
"""

from __future__ import annotations

import os
import re
import statistics
import threading
import time
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from engine import commands
from engine import definitions
from engine import demo
from engine import outbox
from engine import sweeper
from engine import timers
from engine.db import Base
from engine.db import make_engine
from engine.db import make_session_factory
from engine.identity import Actor
from engine.models import PendingTimer
from engine.settings import REPO_ROOT

TIMER = "verification_overdue"
DURATION = timedelta(seconds=600)
TARGET_P99 = 10.0  # seconds (issue 10)
ROAD = commands.TicketInput(
    kind="complaint", category="jalan_rusak", title="Jalan berlubang", description="Lubang"
)


class Discard:
    """An outbox channel that takes every message (the bench measures timers, not mail)."""

    def send(self, message: outbox.Message) -> None:
        return None


def workflows_with_fixed_timer() -> dict[str, str]:
    files = definitions.read_files(REPO_ROOT / "workflows")
    pattern = re.compile(
        r'(<bpmn:timerEventDefinition id="verification_overdue_timer">\s*'
        r"<bpmn:timeDuration>)working_days\(3\)(</bpmn:timeDuration>)"
    )
    text, found = pattern.subn(
        rf'\1"PT{int(DURATION.total_seconds())}S"\2', files["complaint.bpmn"]
    )
    assert found == 1, "the verification timer of complaint.bpmn changed; update the bench"
    return {**files, "complaint.bpmn": text}


def setup(url: str, count: int, first_due: datetime, spread: float) -> sessionmaker[Session]:
    factory = make_session_factory(make_engine(url))
    Base.metadata.create_all(factory.kw["bind"])
    with factory.begin() as session:
        demo.ensure_reference_data(session)
        demo.ensure_demo_city(session)
        definitions.deploy(
            session, workflows_with_fixed_timer(), actor="bench", now=datetime.now(UTC)
        )
    step = spread / count
    for start in range(0, count, 100):
        with factory.begin() as session:
            for i in range(start, min(start + 100, count)):
                due = first_due + timedelta(seconds=i * step)
                commands.submit_ticket(session, data=ROAD, actor=Actor.public(), now=due - DURATION)
    return factory


def record_firings(fired: dict[int, float]) -> Any:
    """Wrap ``commands.fire_timers`` to note each firing's commit time; returns the original."""
    original = commands.fire_timers

    def recording(session: Session, *, instance_id: int, now: datetime) -> Any:
        result = original(session, instance_id=instance_id, now=now)
        if result.changed:

            def committed(_: Session) -> None:
                fired[instance_id] = time.time()

            event.listen(session, "after_commit", committed, once=True)
        return result

    commands.fire_timers = recording  # type: ignore[assignment]
    return original


def poll(factory: sessionmaker[Session], *, interval: float, stop: threading.Event) -> None:
    """The embedded loop as it was: sleep a fixed interval, then sweep."""
    while not stop.wait(interval):
        timers.run_due(factory, now=datetime.now(UTC))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def run(
    url: str, *, count: int, spread: float, lead: float, interval: float, fixed_poll: bool
) -> dict[str, object]:
    began = time.time()
    first_due = datetime.fromtimestamp(began + lead, UTC)
    factory = setup(url, count, first_due, spread)
    setup_seconds = time.time() - began
    if time.time() > first_due.timestamp() - 1:
        raise SystemExit(f"setup took {setup_seconds:.0f} s, past --lead {lead:.0f} s: raise it")
    with factory() as session:
        due = dict(
            session.execute(
                select(PendingTimer.instance_id, PendingTimer.due_at).where(
                    PendingTimer.element_id == TIMER
                )
            ).all()
        )
    assert len(due) == count, len(due)
    fired: dict[int, float] = {}
    original = record_firings(fired)
    stop = threading.Event()
    loop = (
        threading.Thread(target=poll, args=(factory,), kwargs={"interval": interval, "stop": stop})
        if fixed_poll
        else threading.Thread(
            target=sweeper.run,
            args=(factory, Discard()),
            kwargs={"interval": interval, "stop": stop},
        )
    )
    loop.start()
    deadline = first_due.timestamp() + spread + interval + 120
    try:
        while len(fired) < count and time.time() < deadline:
            time.sleep(0.5)
    finally:
        stop.set()
        loop.join()
        commands.fire_timers = original  # type: ignore[assignment]
        factory.kw["bind"].dispose()
    late = [fired[i] - due[i].timestamp() for i in fired]
    report: dict[str, object] = {
        "bench": "timer_lateness",
        "backend": sa.make_url(url).get_backend_name(),
        "loop": "poll" if fixed_poll else "sweeper",
        "timers": count,
        "fired": len(fired),
        "spread_s": spread,
        "interval_s": interval,
        "setup_s": round(setup_seconds, 1),
        "lateness_s": {
            "p50": round(statistics.median(late), 3) if late else None,
            "p95": round(percentile(late, 0.95), 3) if late else None,
            "p99": round(percentile(late, 0.99), 3) if late else None,
            "max": round(max(late), 3) if late else None,
            "min": round(min(late), 3) if late else None,
        },
        "target_p99_s": TARGET_P99,
        # firings per second from the first due time to the last firing: below count/spread,
        # the sweeper cannot keep up and lateness is queueing behind the firing itself
        "fired_per_s": round(len(fired) / max(max(fired.values()) - first_due.timestamp(), 1e-3), 1)
        if fired
        else 0.0,
        "load_avg_1m": round(os.getloadavg()[0], 2),  # others' work on the machine meanwhile
    }
    report["met"] = bool(late) and len(fired) == count and percentile(late, 0.99) <= TARGET_P99
    return report
