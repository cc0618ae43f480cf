"""The cost of a /metrics scrape's database gauges (``engine.metrics.snapshot``) at scale.

    .venv/bin/python bench/metrics.py [--tickets 1000000] [--timers 200000]
                                      [--backend sqlite|postgres|both] [--repeats 21]

Fills the tables the gauges read with synthetic rows through SQL alone (schema from the
metadata, foreign keys to rows the gauges never read left out): ``--tickets`` tickets over
the statuses of ``workflows/statuses.json`` (a fifth open), ``--timers`` pending timers (a
tenth of them due, as during a sweeper's outage), 50,000 undelivered outbox rows (half due,
1% given up), 1,000 incidents and the inbox's kept counts, then times ``snapshot`` ``--repeats``
times and prints its median and worst, one JSON object last. PostgreSQL runs in a fresh schema
(``LAKSA_BENCH_POSTGRES_URL`` or ``LAKSA_TEST_POSTGRES_URL``), ``ANALYZE``d after the fill.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine import definitions
from engine import demo
from engine import metrics
from engine.db import Base
from engine.db import make_engine
from engine.db import make_session_factory

REPO = Path(__file__).resolve().parent.parent
STATUSES = json.loads((REPO / "workflows/statuses.json").read_text())
NOW = datetime(2026, 12, 1, tzinfo=UTC)
FK_FREE = ("pending_timer", "incident", "outbox_message")  # rows pointing at nothing real


def fill(engine: sa.Engine, tickets: int, timers: int) -> None:
    sqlite = engine.dialect.name == "sqlite"
    Base.metadata.create_all(engine)
    with make_session_factory(engine).begin() as session:  # the lifecycle's statuses
        demo.ensure_reference_data(session)
        definitions.deploy(
            session, definitions.read_files(REPO / "workflows"), actor="bench", now=NOW
        )
    open_statuses = [s for s, v in STATUSES.items() if v["open"]]
    closed = [s for s, v in STATUSES.items() if not v["open"]]
    # status by i: a fifth open, spread over the open statuses; the rest closed.
    cases = " ".join(
        f"WHEN i % 5 = 0 AND (i / 5) % {len(open_statuses)} = {k} THEN '{s}'"
        for k, s in enumerate(open_statuses)
    )
    cases += " " + " ".join(
        f"WHEN i % {len(closed)} = {k} THEN '{s}'" for k, s in enumerate(closed)
    )
    series = (
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {n}) "
        "SELECT i FROM n"
        if sqlite
        else "SELECT i FROM generate_series(1, {n}) AS i"
    )
    stamp = "'2026-06-01 00:00:00.000000'" if sqlite else "TIMESTAMPTZ '2026-06-01 00:00:00+00'"
    later = stamp.replace("2026-06-01", "2027-01-01")
    false = "0" if sqlite else "false"
    with engine.begin() as c:

        def run(sql: str) -> None:
            c.execute(sa.text(sql))

        if not sqlite:
            for table in FK_FREE:
                for fk in sa.inspect(c).get_foreign_keys(table):
                    c.exec_driver_sql(f'ALTER TABLE {table} DROP CONSTRAINT "{fk["name"]}"')
        run(
            "INSERT INTO ticket (id, number, kind, category, title, description, anonymous, "
            "confidential, status, escalation_level, created_at, updated_at, breached) "
            f"SELECT i, 'LK-' || i, 'complaint', 'jalan_rusak', 't', 'd', {false}, {false}, "
            f"CASE {cases} ELSE 'closed' END, 0, {stamp}, {stamp}, {false} "
            f"FROM ({series.format(n=tickets)}) AS s"
        )
        # Due times spread over 300 days from 30 days before NOW: a tenth due.
        due = (
            "strftime('%Y-%m-%d %H:%M:%f', '2026-11-01', '+' || (i * 432000 / {n}) || ' minutes')"
            if sqlite
            else "TIMESTAMPTZ '2026-11-01 00:00:00+00'"
            " + make_interval(mins => (i::bigint * 432000 / {n})::int)"
        )
        run(
            "INSERT INTO pending_timer (id, instance_id, task_guid, element_id, due_at, attempts) "
            f"SELECT i, i, 'g' || i, 'sla', {due.format(n=timers)}, 0 "
            f"FROM ({series.format(n=timers)}) AS s"
        )
        run(
            "INSERT INTO outbox_message (id, topic, payload, created_at, deliver_after, attempts) "
            f"SELECT i, 'notify.group', '{{}}', {stamp}, "
            f"CASE WHEN i % 2 = 0 THEN {stamp} ELSE {later} END, "
            "CASE WHEN i % 100 = 0 THEN 10 ELSE 0 END "
            f"FROM ({series.format(n=50_000)}) AS s"
        )
        run(
            "INSERT INTO incident (id, at, kind, message) "
            f"SELECT i, {stamp}, 'timer_failed', 'm' FROM ({series.format(n=1000)}) AS s"
        )
        run(
            "INSERT INTO open_task_count (candidate_group, category, kecamatan, count) "
            f"SELECT 'g' || (i % 40), 'c' || (i % 30), 'k' || i, 7 "
            f"FROM ({series.format(n=12_000)}) AS s"
        )
        c.exec_driver_sql("ANALYZE")
    if not sqlite:  # as autovacuum would have: the visibility map lets counts read the index only
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.exec_driver_sql("VACUUM ANALYZE ticket, pending_timer, outbox_message, incident")


def measure(engine: sa.Engine, repeats: int) -> dict[str, object]:
    factory = make_session_factory(engine)
    times = []
    per_query: dict[str, list[float]] = {}
    started_at: list[float] = []

    def before(*_: object) -> None:
        started_at.append(time.perf_counter())

    def after(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        key = " ".join(statement.split())[:90]
        per_query.setdefault(key, []).append((time.perf_counter() - started_at.pop()) * 1000)

    sa.event.listen(engine, "before_cursor_execute", before)
    sa.event.listen(engine, "after_cursor_execute", after)
    snap = None
    for _ in range(repeats):
        started = time.perf_counter()
        with factory() as session:
            session.connection(execution_options={"read_only": True})
            snap = metrics.snapshot(session, now=NOW)
        times.append((time.perf_counter() - started) * 1000)
    assert snap is not None
    cached = []
    for _ in range(repeats):  # within the minute: open tickets by status not counted again
        started = time.perf_counter()
        with factory() as session:
            session.connection(execution_options={"read_only": True})
            metrics.snapshot(session, now=NOW, tickets_by_status=snap.tickets_by_status)
        cached.append((time.perf_counter() - started) * 1000)
    for key, ms in sorted(per_query.items(), key=lambda kv: -statistics.median(kv[1])):
        print(f"{statistics.median(ms):8.1f} ms  {key}", file=sys.stderr)
    return {
        "median_ms": round(statistics.median(times), 1),
        "max_ms": round(max(times), 1),
        "within_the_minute_median_ms": round(statistics.median(cached), 1),
        "open_tickets": sum(snap.tickets_by_status.values()),
        "closed_tickets": sum(snap.closed_by_outcome.values()),
        "timers_due": snap.timers_due,
        "outbox_backlog": snap.outbox_backlog,
        "outbox_failed": snap.outbox_failed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--timers", type=int, default=200_000)
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--repeats", type=int, default=21)
    args = parser.parse_args()
    report: dict[str, object] = {"bench": "metrics", "tickets": args.tickets}
    if args.backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite:///{folder}/metrics.db"
            started = time.perf_counter()
            plain = sa.create_engine(url)  # without make_engine's foreign keys, for the fill
            fill(plain, args.tickets, args.timers)
            plain.dispose()
            engine = make_engine(url)
            print(f"sqlite filled in {time.perf_counter() - started:.1f} s", file=sys.stderr)
            report["sqlite"] = measure(engine, args.repeats)
            engine.dispose()
    pg = os.environ.get("LAKSA_BENCH_POSTGRES_URL") or os.environ.get("LAKSA_TEST_POSTGRES_URL")
    if args.backend in ("postgres", "both") and pg:
        schema = f"bench_metrics_{uuid.uuid4().hex[:8]}"
        admin = make_engine(pg)
        with admin.begin() as c:
            c.exec_driver_sql(f"CREATE SCHEMA {schema}")
        engine = make_engine(pg, connect_args={"options": f"-csearch_path={schema}"})
        try:
            started = time.perf_counter()
            fill(engine, args.tickets, args.timers)
            print(f"postgres filled in {time.perf_counter() - started:.1f} s", file=sys.stderr)
            report["postgres"] = measure(engine, args.repeats)
        finally:
            engine.dispose()
            with admin.begin() as c:
                c.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
            admin.dispose()
    print(json.dumps(report))


if __name__ == "__main__":
    main()
