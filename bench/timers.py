"""Timer sweep cost: flat in the number of waiting tickets, linear in the number of due timers.

    .venv/bin/python bench/timers.py [--sizes 10000,100000,1000000] [--repeats 31] [--fire 200]

Sets up a database (a SQLite file in a temporary folder; PostgreSQL in a fresh, dropped-after
schema when LAKSA_BENCH_POSTGRES_URL is set) with the schema, reference data, demo city and
``workflows/`` deployed, and submits one real ticket through the engine. The waiting tickets are
then bulk-inserted in SQL (``INSERT ... SELECT`` over a generated series): a ticket, a process
instance and one ``pending_timer`` row each, with due times spread over the weeks after a month
from now. The instances share a small placeholder state: a sweep with nothing due never reads
them, which is the point being measured. After each size (the table grows 10k -> 100k -> 1M)
and ``ANALYZE``, ``timers.run_due`` with nothing due runs ``--repeats`` times; the median counts.

Then ``--fire`` tickets are submitted through the engine and one sweep fires their (and the
template ticket's) verification timers among the 1M waiting rows; its time over the number of
timers fired is the cost per fired timer. The last line printed is one JSON object.

``--lateness`` measures instead how late the embedded sweeper fires 1,000 timers falling due
within one minute, in real time (bench/timer_lateness.py).
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
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import sqlalchemy as sa
from sqlalchemy import bindparam
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine import commands
from engine import definitions
from engine import demo
from engine import timers
from engine.db import Base
from engine.db import UTCDateTime
from engine.db import make_engine
from engine.db import make_session_factory
from engine.identity import Actor
from engine.models import ProcessInstance
from engine.settings import REPO_ROOT

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # Monday 09:00 in Jakarta
LATER = NOW + timedelta(days=4)  # the submitted tickets' P3D verification timers are due
WAITING_FROM = NOW + timedelta(days=30)  # bulk rows: never due during the bench
FIRST_ID = 1_000  # bulk ids start here, clear of the engine-made rows
ROAD = commands.TicketInput(
    kind="complaint", category="jalan_rusak", title="Jalan berlubang", description="Lubang"
)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def setup(url: str) -> sessionmaker[Session]:
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    factory = make_session_factory(engine)
    with factory.begin() as session:
        demo.ensure_reference_data(session)
        demo.ensure_demo_city(session)
        definitions.deploy(
            session, definitions.read_files(REPO_ROOT / "workflows"), actor="bench", now=NOW
        )
        commands.submit_ticket(session, data=ROAD, actor=Actor.public(), now=NOW)
    return factory


def series(dialect: str) -> str:
    """SQL for a row source ``n(i)`` over :lo..:hi."""
    if dialect == "sqlite":
        return (
            "WITH RECURSIVE n(i) AS (SELECT :lo UNION ALL SELECT i + 1 FROM n WHERE i < :hi) "
            "SELECT {cols} FROM n"
        )
    return "SELECT {cols} FROM generate_series(CAST(:lo AS integer), CAST(:hi AS integer)) AS n(i)"


def due_expression(dialect: str) -> str:
    """:base plus (i mod 4 weeks) seconds, in the column's stored form."""
    if dialect == "sqlite":  # SQLAlchemy stores 'YYYY-MM-DD HH:MM:SS.ffffff'
        return (
            "strftime('%Y-%m-%d %H:%M:%S', :base, '+' || (i % 2419200) || ' seconds') || '.000000'"
        )
    return ":base + make_interval(secs => i % 2419200)"


def bulk_insert(
    factory: sessionmaker[Session], lo: int, hi: int, template: ProcessInstance
) -> None:
    """Waiting tickets lo..hi: ticket, process instance and pending timer rows."""
    engine = factory.kw["bind"]
    dialect = engine.dialect.name
    source = series(dialect)
    stamp = bindparam("now", NOW, type_=UTCDateTime())
    base = bindparam("base", WAITING_FROM, type_=UTCDateTime())
    statements = [
        "INSERT INTO ticket (id, number, kind, category, title, description, anonymous,"
        " confidential, status, escalation_level, created_at, updated_at) "
        + source.format(
            cols="i + :offset, 'BN' || i, 'complaint', 'jalan_rusak', 'Jalan berlubang',"
            " 'Lubang', false, false, 'verification', 0, :now, :now"
        ),
        "INSERT INTO process_instance (id, ticket_id, definition_id, state, serializer_version,"
        " completed, audit_seq, audit_head, updated_at, version) "
        + source.format(
            cols="i + :offset, i + :offset, :definition, :state, :serializer, false, 0, '', :now, 1"
        ),
        "INSERT INTO pending_timer (id, instance_id, task_guid, element_id, due_at, attempts) "
        + source.format(
            cols=f"i + :offset, i + :offset, 'bench-' || i, 'verification_overdue',"
            f" {due_expression(dialect)}, 0"
        ),
    ]
    with engine.begin() as conn:
        for sql in statements:
            statement = text(sql).bindparams(*(b for b in (stamp, base) if f":{b.key}" in sql))
            params = {
                "lo": lo,
                "hi": hi,
                "offset": FIRST_ID,
                "definition": template.definition_id,
                "state": b"bench placeholder state",
                "serializer": template.serializer_version,
            }
            used = {k: v for k, v in params.items() if f":{k}" in sql}
            conn.execute(statement, used)
        if dialect == "postgresql":
            for table in ("ticket", "process_instance", "pending_timer"):
                conn.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"
                )
    with engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        conn.commit()


def time_empty_sweep(factory: sessionmaker[Session], repeats: int) -> float:
    """Median seconds of a sweep with nothing due (after one warm-up)."""
    timers.run_due(factory, now=NOW)
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = timers.run_due(factory, now=NOW)
        samples.append(time.perf_counter() - start)
        assert result.instances == 0, result
    return statistics.median(samples)


def run(url: str, sizes: list[int], repeats: int, fire: int) -> dict[str, object]:
    factory = setup(url)
    with factory() as session:
        template = session.scalars(select(ProcessInstance)).one()
    empty_ms: dict[str, float] = {}
    inserted = 0
    for size in sizes:
        start = time.perf_counter()
        bulk_insert(factory, inserted + 1, size, template)
        log(f"{size:>9} waiting tickets (inserted in {time.perf_counter() - start:.1f} s)")
        inserted = size
        with factory() as session:
            count = session.scalar(text("SELECT count(*) FROM pending_timer"))
        assert count == size + 1, (count, size)
        seconds = time_empty_sweep(factory, repeats)
        empty_ms[str(size)] = round(seconds * 1000, 4)
        log(f"          empty sweep: {seconds * 1000:.3f} ms (median of {repeats})")

    start = time.perf_counter()
    with factory.begin() as session:
        for _ in range(fire):
            commands.submit_ticket(session, data=ROAD, actor=Actor.public(), now=NOW)
    submit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    result = timers.run_due(factory, now=LATER)
    fire_seconds = time.perf_counter() - start
    assert result.fired == fire + 1, result
    assert result.failed == 0, result
    log(f"fired {result.fired} timers among {inserted} waiting in {fire_seconds:.2f} s")
    factory.kw["bind"].dispose()

    smallest, largest = str(sizes[0]), str(sizes[-1])
    return {
        "bench": "timers",
        "backend": sa.make_url(url).get_backend_name(),
        "empty_sweep_ms": empty_ms,
        "flat_ratio": round(empty_ms[largest] / empty_ms[smallest], 3),
        "flat_ratio_sizes": [sizes[0], sizes[-1]],
        "flat_ratio_target": 2.0,
        "fired": result.fired,
        "cost_per_fired_timer_ms": round(fire_seconds * 1000 / result.fired, 3),
        "submit_per_ticket_ms": round(submit_seconds * 1000 / fire, 3),
        "waiting_during_fire": inserted,
        "repeats": repeats,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--repeats", type=int, default=31)
    parser.add_argument("--fire", type=int, default=200)
    lateness = parser.add_argument_group("lateness (bench/timer_lateness.py)")
    lateness.add_argument("--lateness", action="store_true", help="measure fired - due instead")
    lateness.add_argument("--timers", type=int, default=1000)
    lateness.add_argument("--spread", type=float, default=60.0, help="seconds the dues span")
    lateness.add_argument("--lead", type=float, default=60.0, help="seconds before the first")
    lateness.add_argument("--interval", type=float, default=10.0, help="LAKSA_TIMER_INTERVAL")
    lateness.add_argument("--poll", action="store_true", help="the old fixed-interval loop")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    if args.lateness:
        from bench import timer_lateness

        def measure(url: str) -> dict[str, object]:
            return timer_lateness.run(
                url,
                count=args.timers,
                spread=args.spread,
                lead=args.lead,
                interval=args.interval,
                fixed_poll=args.poll,
            )
    else:

        def measure(url: str) -> dict[str, object]:
            return run(url, sizes, args.repeats, args.fire)

    postgres = os.environ.get("LAKSA_BENCH_POSTGRES_URL")
    if postgres:
        schema = f"bench_{uuid.uuid4().hex[:10]}"
        admin = sa.create_engine(postgres)
        with admin.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        separator = "&" if "?" in postgres else "?"
        try:
            report = measure(f"{postgres}{separator}options={quote(f'-csearch_path={schema}')}")
        finally:
            with admin.begin() as conn:
                conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            admin.dispose()
    else:
        with tempfile.TemporaryDirectory(prefix="laksa-bench-") as folder:
            report = measure(f"sqlite:///{Path(folder) / 'bench.db'}")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
