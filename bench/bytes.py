"""Bytes a ticket waiting at verification costs in the database, per table and its indexes.

    .venv/bin/python bench/bytes.py [--n 2000] [--backend sqlite|postgres|both]

Submits ``--n`` tickets through ``commands.submit_ticket`` (each in its own transaction, so
each waits at verification) into a fresh database that already holds ``n`` such tickets, and
divides each table's growth by ``n``:
on SQLite from the ``dbstat`` virtual table (pages of every table and index, after a WAL
checkpoint); on PostgreSQL from ``pg_table_size`` (heap, TOAST, free-space and visibility
maps) and ``pg_indexes_size`` after ``VACUUM ANALYZE``, in a fresh schema of
``LAKSA_BENCH_POSTGRES_URL`` or ``LAKSA_TEST_POSTGRES_URL`` (dropped at the end). The last line
is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import uuid
from datetime import UTC
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

# bench/ would shadow the engine package: put the repository first.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine import commands
from engine import definitions
from engine import demo
from engine.db import Base
from engine.db import make_engine
from engine.db import make_session_factory
from engine.identity import Actor
from engine.settings import REPO_ROOT

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
ROAD = commands.TicketInput(
    kind="complaint",
    category="jalan_rusak",
    title="Jalan berlubang",
    description="Lubang besar di depan pasar",
    reporter_contact="budi@example.org",
)
TARGET = 4096
STATE = "process_instance"
AUDIT = "audit_event"


def sizes(engine: sa.Engine) -> dict[str, tuple[int, int]]:
    """Bytes of each table and of its indexes."""
    if engine.dialect.name == "sqlite":
        raw = engine.raw_connection()  # outside a transaction (the engine's BEGIN IMMEDIATE)
        try:
            cur = raw.cursor()
            cur.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            cur.execute("SELECT name, tbl_name FROM sqlite_master WHERE type IN ('table', 'index')")
            owner = dict(cur.fetchall())
            found: dict[str, list[int]] = {}
            cur.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name")
            for name, size in cur.fetchall():
                table = owner.get(name, name)
                entry = found.setdefault(table, [0, 0])
                entry[0 if name == table else 1] += size
            cur.close()
        finally:
            raw.close()
        return {t: (v[0], v[1]) for t, v in found.items()}
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE")
        rows = conn.exec_driver_sql(
            "SELECT c.relname, pg_table_size(c.oid), pg_indexes_size(c.oid) FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = current_schema() AND c.relkind = 'r'"
        ).all()
        return {name: (table, indexes) for name, table, indexes in rows}


def submit(factory: sessionmaker[Session], n: int, backend: str) -> None:
    for i in range(n):
        with factory.begin() as session:
            commands.submit_ticket(session, data=ROAD, actor=Actor.public(), now=NOW)
        if (i + 1) % 500 == 0:
            print(f"{backend}: {i + 1} tickets", file=sys.stderr, flush=True)


def run(url: str, n: int) -> dict[str, Any]:
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    factory = make_session_factory(engine)
    with factory.begin() as session:
        demo.ensure_reference_data(session)
        demo.ensure_demo_city(session)
        definitions.deploy(
            session, definitions.read_files(REPO_ROOT / "workflows"), actor="bench", now=NOW
        )
    # A first batch makes the counters' rows (statistics, stays, open tasks: a few rows all
    # tickets share, updated in place) and, on PostgreSQL, their dead versions, which the
    # VACUUM before measuring frees for the second batch to reuse: the measured batch shows
    # what a ticket adds in a database already in use, not a new table's first pages.
    submit(factory, n, engine.dialect.name)
    before = sizes(engine)
    submit(factory, n, engine.dialect.name)
    after = sizes(engine)
    with engine.connect() as conn:
        state = conn.exec_driver_sql(f"SELECT AVG(LENGTH(state)) FROM {STATE}").scalar_one()
        conn.rollback()
    engine.dispose()

    tables: dict[str, dict[str, float]] = {}
    for name in sorted(after):
        t0, i0 = before.get(name, (0, 0))
        t1, i1 = after[name]
        # A shared counter table can shrink (VACUUM gives back the first batch's dead rows at
        # its end): it costs a ticket nothing, not less than nothing.
        grew = {"table": max(t1 - t0, 0) / n, "indexes": max(i1 - i0, 0) / n}
        if grew["table"] or grew["indexes"]:
            tables[name] = {k: round(v, 1) for k, v in grew.items()}
    groups = {"state": 0.0, "projections": 0.0, "audit": 0.0, "indexes": 0.0}
    for name, grew in tables.items():
        key = "state" if name == STATE else "audit" if name == AUDIT else "projections"
        groups[key] += grew["table"]
        groups["indexes"] += grew["indexes"]
    total = sum(groups.values())
    return {
        "backend": engine.dialect.name,
        "tickets": n,
        "state_column_bytes": round(float(state), 1),
        "per_ticket": {k: round(v, 1) for k, v in groups.items()},
        "total_per_ticket": round(total, 1),
        "target": TARGET,
        "pass": total <= TARGET,
        "tables": tables,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    postgres = os.environ.get("LAKSA_BENCH_POSTGRES_URL") or os.environ.get(
        "LAKSA_TEST_POSTGRES_URL"
    )
    parser.add_argument(
        "--backend",
        choices=("sqlite", "postgres", "both"),
        default="both" if postgres else "sqlite",
    )
    args = parser.parse_args()
    reports = []
    if args.backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory(prefix="laksa-bench-") as folder:
            reports.append(run(f"sqlite:///{Path(folder) / 'bench.db'}", args.n))
    if args.backend in ("postgres", "both"):
        if not postgres:
            parser.error("PostgreSQL needs LAKSA_BENCH_POSTGRES_URL or LAKSA_TEST_POSTGRES_URL")
        schema = f"bench_{uuid.uuid4().hex[:10]}"
        admin = sa.create_engine(postgres)
        with admin.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        separator = "&" if "?" in postgres else "?"
        try:
            url = f"{postgres}{separator}options={quote(f'-csearch_path={schema}')}"
            reports.append(run(url, args.n))
        finally:
            with admin.begin() as conn:
                conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            admin.dispose()
    for r in reports:
        print(
            f"{r['backend']}: {r['total_per_ticket']} bytes per ticket at verification"
            f" (target <= {TARGET}): {r['per_ticket']}; state column {r['state_column_bytes']} B"
        )
        for name, grew in sorted(r["tables"].items(), key=lambda kv: -sum(kv[1].values())):
            print(f"  {name:24} table {grew['table']:8.1f}  indexes {grew['indexes']:8.1f}")
    print(json.dumps({r["backend"]: r for r in reports}))


if __name__ == "__main__":
    main()
