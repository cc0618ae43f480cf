"""What Prometheus reads: the engine's state from the database, and the timers' lateness.

The gauges (tickets by status, open tasks, due timers, sweep lag, outbox, incidents) are read
from the database when ``/metrics`` is scraped, by one ``DatabaseCollector`` in the process
that answers, so several web workers never report them twice. Each is one query on an index or
a projection table; counts of rows that can grow without bound (due timers, the outbox's
backlog) stop at ``COUNT_CAP``, so a scrape during a backlog of millions costs no more than one
of ten thousand. Open tickets are counted by status on the status index (open tickets only:
the closed ones, most of a city's tickets after a few years, would make every scrape read them
all); closed tickets by outcome come from the statistics' kept counts (``engine.tally``).

The timer lateness histogram (fired - due) is observed where timers fire (``engine.timers``).
prometheus-client is imported on first use, never at import time: in multiprocess mode
(``PROMETHEUS_MULTIPROC_DIR``, set by ``laksa serve --production``) it must be imported after
that variable is set.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import TYPE_CHECKING
from typing import Any

from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from engine import tally
from engine.errors import NotDeployed
from engine.models import Incident
from engine.models import OpenTaskCount
from engine.models import OutboxMessage
from engine.models import PendingTimer
from engine.models import StatCount
from engine.models import Ticket
from engine.outbox import MAX_ATTEMPTS
from engine.reference import status_labels

if TYPE_CHECKING:
    from prometheus_client import Histogram
    from prometheus_client.metrics_core import Metric

log = logging.getLogger(__name__)
COUNT_CAP = 10_000  # counts of due timers, the outbox's backlog and incidents stop here
QUERY_MS = 5000  # PostgreSQL's limit on a scrape's queries; SQLite never waits (read_only)
OVERDUE_AFTER = timedelta(minutes=1)  # a due timer not fired this long after is overdue
# Seconds late a timer fired: a sweep every 10 s puts most under 10 s.
LATENESS_BUCKETS = (0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 900, 3600, float("inf"))

# Open tickets by status cost a count over the open tickets' index entries (some 100-250 ms at
# 200,000 open tickets): counted at most once a minute per process, the rest read at each scrape.
STATUS_TTL = 60.0

_lateness: Histogram | None = None
_status_cache: dict[tuple[str, str], tuple[float, dict[str, int]]] = {}
_status_lock = threading.Lock()


@dataclass(frozen=True)
class Snapshot:
    """The engine's state at ``at``, as the gauges report it."""

    at: datetime
    tickets_by_status: dict[str, int] = field(default_factory=dict)  # open statuses only
    closed_by_outcome: dict[str, int] = field(default_factory=dict)  # engine.tally's counts
    open_tasks_by_group: dict[str, int] = field(default_factory=dict)
    timers_due: int = 0
    timers_overdue: int = 0
    sweep_lag_seconds: float = 0.0
    outbox_backlog: int = 0
    outbox_failed: int = 0
    incidents_open: int = 0


def _capped_count(session: Session, query: Any) -> int:
    """``COUNT(*)`` of ``query``'s rows, stopping at COUNT_CAP."""
    inner = query.limit(COUNT_CAP).subquery()
    return int(session.scalar(select(func.count()).select_from(inner)) or 0)


def open_tickets_by_status(session: Session, process_key: str) -> dict[str, int]:
    """Open tickets by status (every open status of the latest lifecycle, 0 when none is)."""
    try:
        open_statuses = [s.code for s in status_labels(session, process_key) if s.open]
    except NotDeployed:
        return {}
    counts = dict.fromkeys(open_statuses, 0)
    for status, n in session.execute(
        select(Ticket.status, func.count())
        .where(Ticket.status.in_(open_statuses))
        .group_by(Ticket.status)
    ):
        counts[str(status)] = int(n)
    return counts


def snapshot(
    session: Session,
    *,
    now: datetime,
    process_key: str = "complaint",
    tickets_by_status: dict[str, int] | None = None,
) -> Snapshot:
    """Read every gauge: a handful of indexed queries, none growing with closed tickets.

    ``tickets_by_status`` given (counted a moment ago) is used instead of counting again.
    """
    if tickets_by_status is None:
        tickets_by_status = open_tickets_by_status(session, process_key)
    closed: dict[str, int] = {}
    for state, n in session.execute(
        select(StatCount.state, func.sum(StatCount.count))
        .where(StatCount.dimension == "all", StatCount.state.startswith(tally.CLOSED))
        .group_by(StatCount.state)
    ):
        closed[state.removeprefix(tally.CLOSED)] = int(n or 0)
    tasks = {
        str(group): int(n or 0)
        for group, n in session.execute(
            select(OpenTaskCount.candidate_group, func.sum(OpenTaskCount.count)).group_by(
                OpenTaskCount.candidate_group
            )
        )
    }
    due = select(PendingTimer.id).where(PendingTimer.due_at <= now)
    overdue = select(PendingTimer.id).where(PendingTimer.due_at <= now - OVERDUE_AFTER)
    oldest = session.scalar(select(func.min(PendingTimer.due_at)))
    if oldest is not None and oldest.tzinfo is None:  # SQLite's MIN() skips the column type
        oldest = oldest.replace(tzinfo=UTC)
    lag = max((now - oldest).total_seconds(), 0.0) if oldest is not None else 0.0
    waiting = select(OutboxMessage.id).where(OutboxMessage.delivered_at.is_(None))
    return Snapshot(
        at=now,
        tickets_by_status=tickets_by_status,
        closed_by_outcome=closed,
        open_tasks_by_group={g: n for g, n in tasks.items() if n},
        timers_due=_capped_count(session, due),
        timers_overdue=_capped_count(session, overdue),
        sweep_lag_seconds=lag,
        outbox_backlog=_capped_count(
            session,
            waiting.where(
                OutboxMessage.deliver_after <= now, OutboxMessage.attempts < MAX_ATTEMPTS
            ),
        ),
        outbox_failed=_capped_count(session, waiting.where(OutboxMessage.attempts >= MAX_ATTEMPTS)),
        incidents_open=_capped_count(
            session, select(Incident.id).where(Incident.resolved_at.is_(None))
        ),
    )


class DatabaseCollector:
    """A prometheus-client collector of ``snapshot``: read at scrape time, once per scrape.

    When the database does not answer, only ``laksa_database_up 0`` is reported.
    """

    def __init__(self, factory: sessionmaker[Session], process_key: str = "complaint") -> None:
        self.factory = factory
        self.process_key = process_key

    def _cached_statuses(self, session: Session) -> dict[str, int]:
        """Open tickets by status, counted at most once per STATUS_TTL in this process."""
        key = (str(self.factory.kw["bind"].url), self.process_key)
        with _status_lock:
            at, counts = _status_cache.get(key, (-STATUS_TTL, {}))
            if time.monotonic() - at < STATUS_TTL:
                return counts
        counts = open_tickets_by_status(session, self.process_key)
        with _status_lock:
            _status_cache[key] = (time.monotonic(), counts)
        return counts

    def collect(self) -> Iterator[Metric]:
        from prometheus_client.core import GaugeMetricFamily

        started = time.perf_counter()
        try:
            with self.factory() as session:
                connection = session.connection(execution_options={"read_only": True})
                if connection.dialect.name == "postgresql":  # a slow count fails the scrape
                    connection.exec_driver_sql(f"SET LOCAL statement_timeout = {QUERY_MS}")
                s = snapshot(
                    session,
                    now=datetime.now(UTC),
                    process_key=self.process_key,
                    tickets_by_status=self._cached_statuses(session),
                )
        except Exception as exc:  # the scrape still answers, saying the database is down
            log.warning("metrics: the database did not answer: %s", type(exc).__name__)
            yield GaugeMetricFamily("laksa_database_up", "Whether the database answered.", 0)
            return
        took = time.perf_counter() - started
        yield GaugeMetricFamily("laksa_database_up", "Whether the database answered.", 1)
        yield GaugeMetricFamily(
            "laksa_metrics_database_seconds", "Time the database gauges took to read.", took
        )
        tickets = GaugeMetricFamily(
            "laksa_tickets", "Open tickets by status (statuses.json).", labels=["status"]
        )
        for status, n in s.tickets_by_status.items():
            tickets.add_metric([status], n)
        yield tickets
        closed = GaugeMetricFamily(
            "laksa_tickets_closed", "Closed tickets by outcome.", labels=["outcome"]
        )
        for outcome, n in sorted(s.closed_by_outcome.items()):
            closed.add_metric([outcome], n)
        yield closed
        tasks = GaugeMetricFamily(
            "laksa_open_tasks", "Open human tasks by candidate group.", labels=["group"]
        )
        for group, n in sorted(s.open_tasks_by_group.items()):
            tasks.add_metric([group], n)
        yield tasks
        yield GaugeMetricFamily(
            "laksa_timers_due",
            f"Pending timers due now and not fired yet (counted up to {COUNT_CAP}).",
            s.timers_due,
        )
        yield GaugeMetricFamily(
            "laksa_timers_overdue",
            f"Pending timers due more than {int(OVERDUE_AFTER.total_seconds())} s ago "
            f"(counted up to {COUNT_CAP}).",
            s.timers_overdue,
        )
        yield GaugeMetricFamily(
            "laksa_sweep_lag_seconds",
            "Now minus the due time of the oldest timer not yet fired (0 if none is due).",
            s.sweep_lag_seconds,
        )
        yield GaugeMetricFamily(
            "laksa_outbox_backlog",
            f"Undelivered outbox messages due now (counted up to {COUNT_CAP}).",
            s.outbox_backlog,
        )
        yield GaugeMetricFamily(
            "laksa_outbox_failed",
            "Outbox messages given up on after every retry (`laksa outbox failed`).",
            s.outbox_failed,
        )
        yield GaugeMetricFamily(
            "laksa_incidents_open", "Incidents not resolved yet.", s.incidents_open
        )


def earliest_due(session: Session, instance_id: int, now: datetime) -> datetime | None:
    """The due time of the instance's earliest timer due at ``now`` (before it fires)."""
    return session.scalar(
        select(func.min(PendingTimer.due_at)).where(
            PendingTimer.instance_id == instance_id, PendingTimer.due_at <= now
        )
    )


def observe_timer_lateness(due: datetime | None, fired: datetime | None = None) -> None:
    """Observe one instance's timers fired ``fired - due`` seconds late (now by default)."""
    if due is None:
        return
    if due.tzinfo is None:
        due = due.replace(tzinfo=UTC)
    late = ((fired or datetime.now(UTC)) - due).total_seconds()
    try:
        timer_lateness().observe(max(late, 0.0))
    except Exception:  # a metric never stops a sweep
        log.exception("could not observe a timer's lateness")


def timer_lateness() -> Histogram:
    """The process's timer lateness histogram (created on first use)."""
    global _lateness
    if _lateness is None:
        from prometheus_client import Histogram

        _lateness = Histogram(
            "laksa_timer_lateness_seconds",
            "Seconds from a timer's due time to its firing.",
            buckets=LATENESS_BUCKETS,
        )
    return _lateness
