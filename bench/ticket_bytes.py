"""What a ticket costs on disk: bytes and rows per ticket, table by table, for tickets the engine
made (filed and driven through the API), on SQLite and PostgreSQL.

    .venv/bin/python bench/ticket_bytes.py [--waiting 1000] [--fixed 300] [--overdue 100]
                                           [--backend sqlite|postgres|both]

Three scenarios, each on a fresh database (SQLite file in a temporary folder; PostgreSQL: a
fresh schema in LAKSA_BENCH_POSTGRES_URL or LAKSA_TEST_POSTGRES_URL, dropped at the end):
``waiting`` tickets filed through ``POST /api/v1/tickets`` and left at verification; ``fixed``
ones driven to the end of the happy path (routed, accepted, an after-photo, resolved,
confirmed by the reporter: ``tests.web.pages.Driven.to_fixed``); ``overdue`` ones routed and
accepted, then swept once a day for 30 days while nobody handles them (what those days add:
sizes are first taken after the acceptance). Sizes are taken before and after, each
after a compacting ``VACUUM`` (``VACUUM FULL`` on PostgreSQL): SQLite's ``dbstat`` pages of a
table and its indexes, PostgreSQL's ``pg_total_relation_size`` (heap, indexes, TOAST). Tables
with a ``ticket_id`` or ``instance_id`` column count per ticket; the shared counters
(statistics, heatmap, open-task counts) grow with categories and days, not tickets, and are
reported apart. Photos' bytes live in the media store, not the database.

The last line on stdout is one JSON object: per backend and scenario, per table
``rows_per_ticket`` and ``bytes_per_ticket``, ``bytes_per_ticket`` in all, ``shared_bytes``,
``state_bytes`` (average stored workflow state), ``audit_rows_per_ticket``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine import timers
from engine.clock import now as wall_now
from engine.db import Base
from engine.db import make_engine
from engine.db import make_session_factory
from engine.identity import create_token
from engine.settings import Settings
from tests.conftest import NOW
from tests.conftest import USERS
from tests.conftest import WORKFLOWS
from tests.conftest import add_users
from tests.engine.conftest import POSTGRES_ENV
from tests.engine.conftest import prepared_database
from tests.web.pages import Driven

BENCH_ENV = "LAKSA_BENCH_POSTGRES_URL"
OVERDUE_DAYS = 30
PER_TICKET = {
    t.name for t in Base.metadata.sorted_tables if {"ticket_id", "instance_id"} & set(t.c.keys())
} | {"ticket"}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def sizes(url: str) -> dict[str, tuple[int, int]]:
    """(rows, bytes) of every table of the schema, after compacting it."""
    names = [t.name for t in Base.metadata.sorted_tables]
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")  # VACUUM outside a transaction
    with engine.connect() as conn:
        rows = {n: conn.execute(sa.text(f'SELECT count(*) FROM "{n}"')).scalar_one() for n in names}
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("VACUUM")
            pages = conn.exec_driver_sql(
                "SELECT m.tbl_name, sum(d.pgsize) FROM dbstat d"
                " JOIN sqlite_master m ON m.name = d.name GROUP BY m.tbl_name"
            ).all()
            size = {name: int(total) for name, total in pages}
        else:
            for n in names:
                conn.exec_driver_sql(f'VACUUM FULL "{n}"')
            size = {
                n: conn.execute(
                    sa.text("SELECT pg_total_relation_size(CAST(:t AS regclass))"), {"t": n}
                ).scalar_one()
                for n in names
            }
    engine.dispose()
    return {n: (rows[n], size.get(n, 0)) for n in names}


def drive(
    scenario: str, client: Any, tokens: dict[str, str], tickets: int
) -> Callable[[sessionmaker[Session]], None]:
    """File and drive the scenario's tickets; return what is measured after the first sizes
    (the overdue days of ``overdue``; nothing for the others)."""
    started = time.monotonic()
    for index in range(tickets):
        ticket = Driven(client, tokens, title=f"Jalan berlubang nomor {index}")
        if scenario == "fixed":
            ticket.to_fixed()
        elif scenario == "overdue":
            ticket.to_handling()
    log(f"  {scenario}: {tickets} tickets in {time.monotonic() - started:.1f} s")
    if scenario != "overdue":
        return lambda factory: None

    def overdue_days(factory: sessionmaker[Session]) -> None:
        # One sweep a day (an hour after the 23:59:59 of each working-day deadline) for
        # OVERDUE_DAYS days: the deadlines pass, then the daily reminders fire.
        start = wall_now()
        for day in range(1, OVERDUE_DAYS + 1):
            timers.run_due(factory, now=start + timedelta(days=day, hours=1))

    return overdue_days


def measure(url: str, home: Path, scenario: str, tickets: int) -> dict[str, Any]:
    from web.app import create_app

    engine = make_engine(url)
    try:
        with make_session_factory(engine).begin() as session:
            add_users(session)
            tokens = {n: create_token(session, username=n, name="bench", now=NOW) for n in USERS}
        settings = Settings(
            home=home, database_url=url, redis_url=None, secret_key="x", workflows_dir=WORKFLOWS
        )
        app = create_app(
            {"SETTINGS": settings, "DB_ENGINE": engine, "TESTING": True, "RATELIMIT_ENABLED": False}
        )
        if scenario == "overdue":  # what the days overdue add to tickets being handled
            then = drive(scenario, app.test_client(), tokens, tickets)
            before = sizes(url)
        else:  # what the tickets add to an empty database
            before = sizes(url)
            then = drive(scenario, app.test_client(), tokens, tickets)
        then(make_session_factory(engine))
        after = sizes(url)
        with engine.connect() as conn:
            state = conn.exec_driver_sql("SELECT avg(length(state)) FROM process_instance")
            state_bytes = float(state.scalar_one())
    finally:
        engine.dispose()
    tables: dict[str, dict[str, float]] = {}
    shared = 0
    for name, (rows, size) in after.items():
        grew_rows, grew = rows - before[name][0], size - before[name][1]
        if name not in PER_TICKET:
            shared += max(grew, 0)
        elif grew_rows or grew:
            tables[name] = {
                "rows_per_ticket": round(grew_rows / tickets, 2),
                "bytes_per_ticket": round(grew / tickets),
            }
    return {
        "tickets": tickets,
        "tables": dict(sorted(tables.items(), key=lambda t: -t[1]["bytes_per_ticket"])),
        "bytes_per_ticket": sum(int(t["bytes_per_ticket"]) for t in tables.values()),
        "shared_bytes": shared,
        "state_bytes": round(state_bytes),
        "audit_rows_per_ticket": tables.get("audit_event", {}).get("rows_per_ticket", 0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--waiting", type=int, default=1000, help="tickets left at verification")
    parser.add_argument("--fixed", type=int, default=300, help="tickets closed as fixed")
    parser.add_argument("--overdue", type=int, default=100, help="tickets overdue 30 days")
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"))
    args = parser.parse_args()
    postgres = os.environ.get(BENCH_ENV) or os.environ.get(POSTGRES_ENV)
    if postgres:
        os.environ[POSTGRES_ENV] = postgres  # prepared_database's schema goes there
    backend = args.backend or ("both" if postgres else "sqlite")
    kinds = ["sqlite", "postgres"] if backend == "both" else [backend]
    if "postgres" in kinds and not postgres:
        parser.error(f"--backend postgres needs {BENCH_ENV} or {POSTGRES_ENV}")
    result: dict[str, Any] = {"bench": "ticket_bytes", "date": time.strftime("%Y-%m-%d")}
    for kind in kinds:
        result[kind] = {}
        scenarios = (("waiting", args.waiting), ("fixed", args.fixed), ("overdue", args.overdue))
        for scenario, tickets in ((name, n) for name, n in scenarios if n > 0):
            log(f"{kind}, {scenario}")
            with (
                tempfile.TemporaryDirectory() as folder,
                prepared_database(kind, Path(folder)) as url,
            ):
                result[kind][scenario] = measure(url, Path(folder), scenario, tickets)
            summary = result[kind][scenario]
            log(f"  {summary['bytes_per_ticket']} B a ticket, state {summary['state_bytes']} B")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
