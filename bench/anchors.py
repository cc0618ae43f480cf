"""What a daily audit anchor costs on a city-sized audit trail.

    .venv/bin/python bench/anchors.py [--tickets 1000000] [--events 6,12] [--backend sqlite]
                                      [--keep]
    LAKSA_BENCH_POSTGRES_URL=postgresql+psycopg://... .venv/bin/python bench/anchors.py \
        --backend postgres

Fills a database (schema from ``Base.metadata.create_all``, ``workflows/`` deployed) with
``--tickets`` tickets, each with its process instance and a real SHA-256 audit chain of 6 to 12
events (``engine.audit``'s digest), ids in time order so that one ticket's events lie among
others' as commands write them. Then times:

- the first anchor (``anchors.anchor_today``): every chain's head in one query, the Merkle root,
  and every head kept (the first anchor keeps them all);
- a day of work (1,400 new tickets and 3,000 events on recent ones), then the next day's anchor:
  the daily cost;
- ``anchors.verify`` over the two anchors (one pass over every event and every kept head);
- ``anchors.proof_for`` of one ticket, without and with its Merkle audit path.

The last line printed is one JSON object. SQLite goes to a temporary folder (``TMPDIR``);
PostgreSQL to a fresh schema of ``LAKSA_BENCH_POSTGRES_URL`` (or ``LAKSA_TEST_POSTGRES_URL``),
dropped at the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import heapq
import json
import os
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine import anchors
from engine import audit
from engine import definitions
from engine import demo
from engine.db import Base
from engine.db import make_engine
from engine.db import make_session_factory
from engine.models import Definition
from engine.settings import REPO_ROOT

START = datetime(2024, 12, 1, tzinfo=UTC)
SPAN = timedelta(days=730)  # two years of tickets
ACTIONS = ("submitted", "task_completed", "status_changed", "timer_fired", "claimed")
SPREAD = 20_000  # a ticket's events come while up to this many later tickets are filed


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def number(i: int) -> str:
    return f"LK-{i:08d}"


def trail(i: int, n: int, rng: random.Random) -> list[tuple[float, int, str, str]]:
    """(time in ticket units, seq, actor, action) of ticket i's n events."""
    offsets = sorted(rng.random() * SPREAD for _ in range(n - 1))
    return [(float(i), 1, "public", "submitted")] + [
        (i + o, k + 2, "officer", ACTIONS[(i + k) % len(ACTIONS)]) for k, o in enumerate(offsets)
    ]


def events(
    first: int, tickets: int, sizes: tuple[int, int], rng: random.Random
) -> Iterator[tuple[Any, ...]]:
    """Audit rows (instance, seq, at, actor, action, element, data, prev, hash) in time order."""
    pending: list[tuple[float, int, int, str, str]] = []
    unit = SPAN / max(tickets, 1)
    heads: dict[int, str] = {}

    def emit(entry: tuple[float, int, int, str, str]) -> tuple[Any, ...]:
        t, i, seq, actor, action = entry
        at = START + unit * t
        prev = heads.pop(i, audit.GENESIS)
        data = "{}"
        digest = audit._digest(prev, number(i), seq, at.isoformat(), actor, action, None, data)
        if seq < counts[i]:
            heads[i] = digest
        return (i, seq, at, actor, action, None, data, prev, digest)

    counts: dict[int, int] = {}
    for i in range(first, first + tickets):
        n = rng.randint(*sizes)
        counts[i] = n
        for t, seq, actor, action in trail(i, n, rng):
            heapq.heappush(pending, (t, i, seq, actor, action))
        while pending and pending[0][0] <= i:
            entry = heapq.heappop(pending)
            yield emit(entry)
            if entry[2] == counts[entry[1]]:
                del counts[entry[1]]
    while pending:
        entry = heapq.heappop(pending)
        yield emit(entry)


def fill(engine: sa.Engine, tickets: int, sizes: tuple[int, int], rng: random.Random) -> int:
    factory = make_session_factory(engine)
    with factory.begin() as session:
        demo.ensure_reference_data(session)
        demo.ensure_demo_city(session)
        files = definitions.read_files(REPO_ROOT / "workflows")
        definitions.deploy(session, files, actor="bench", now=START)
        definition_id = session.scalar(sa.select(sa.func.max(Definition.id)))
    ticket_rows = (
        (
            i,
            number(i),
            "complaint",
            "jalan",
            "Jalan berlubang",
            "Bench",
            "closed",
            START,
            START,
            0,
            False,
            False,
            False,
        )
        for i in range(1, tickets + 1)
    )
    instance_rows = (
        (i, i, definition_id, b"\x00", "x", True, 0, "", START, 1) for i in range(1, tickets + 1)
    )
    write(engine, "ticket", TICKET_COLUMNS, ticket_rows)
    write(engine, "process_instance", INSTANCE_COLUMNS, instance_rows)
    count = write(engine, "audit_event", EVENT_COLUMNS, events(1, tickets, sizes, rng))
    set_heads(engine)
    analyze(engine)
    return count


def analyze(engine: sa.Engine) -> None:
    """Planner statistics, as autovacuum keeps them on a live PostgreSQL (SQLite keeps none)."""
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")


TICKET_COLUMNS = (
    "id",
    "number",
    "kind",
    "category",
    "title",
    "description",
    "status",
    "created_at",
    "updated_at",
    "escalation_level",
    "anonymous",
    "confidential",
    "breached",
)
INSTANCE_COLUMNS = (
    "id",
    "ticket_id",
    "definition_id",
    "state",
    "serializer_version",
    "completed",
    "audit_seq",
    "audit_head",
    "updated_at",
    "version",
)
EVENT_COLUMNS = (
    "instance_id",
    "seq",
    "at",
    "actor",
    "action",
    "element_id",
    "data",
    "prev_hash",
    "hash",
)


def write(engine: sa.Engine, table: str, columns: tuple[str, ...], rows: Any) -> int:
    """Bulk insert with the driver (COPY on PostgreSQL), 50,000 rows a transaction."""
    count = 0
    batch: list[tuple[Any, ...]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == 50_000:
            count += _flush(engine, table, columns, batch)
            batch = []
    if batch:
        count += _flush(engine, table, columns, batch)
    return count


def _flush(engine: sa.Engine, table: str, columns: tuple[str, ...], batch: list[Any]) -> int:
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        if engine.dialect.name == "sqlite":
            marks = ",".join("?" for _ in columns)
            rows = [
                tuple(
                    v.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
                    if isinstance(v, datetime)
                    else v
                    for v in r
                )
                for r in batch
            ]
            cursor.execute("BEGIN")  # the engine's connections autocommit otherwise
            cursor.executemany(f"INSERT INTO {table} ({','.join(columns)}) VALUES ({marks})", rows)
        else:
            with cursor.copy(f"COPY {table} ({','.join(columns)}) FROM STDIN") as copy:  # type: ignore[attr-defined]
                for r in batch:
                    copy.write_row(r)
        raw.commit()
    finally:
        raw.close()
    return len(batch)


def set_heads(engine: sa.Engine, since: int = 0) -> None:
    """audit_seq and audit_head of the instances with events after ``since``, from the newest."""
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE process_instance SET audit_seq = e.seq, audit_head = e.hash"
                " FROM audit_event e WHERE e.id IN (SELECT max(id) FROM audit_event"
                " WHERE id > :since GROUP BY instance_id) AND e.instance_id = process_instance.id"
            ),
            {"since": since},
        )


def a_day_of_work(engine: sa.Engine, tickets: int, rng: random.Random) -> int:
    """1,400 new tickets with their trails and 3,000 events on the last 30,000 tickets."""
    start = tickets + 1
    factory = make_session_factory(engine)
    with factory() as session:
        definition_id = session.scalar(sa.select(sa.func.max(Definition.id)))
    new = range(start, start + 1400)
    later = START + SPAN
    write(
        engine,
        "ticket",
        TICKET_COLUMNS,
        (
            (
                i,
                number(i),
                "complaint",
                "jalan",
                "Jalan",
                "Bench",
                "closed",
                later,
                later,
                0,
                False,
                False,
                False,
            )
            for i in new
        ),
    )
    write(
        engine,
        "process_instance",
        INSTANCE_COLUMNS,
        ((i, i, definition_id, b"\x00", "x", True, 0, "", later, 1) for i in new),
    )
    recent = rng.sample(range(max(1, tickets - 30_000), tickets + 1), 3000)
    with engine.connect() as conn:
        heads = {
            i: (seq, head)
            for i, seq, head in conn.execute(
                sa.text(
                    "SELECT id, audit_seq, audit_head FROM process_instance WHERE id IN "
                    f"({','.join(map(str, recent))})"
                )
            )
        }
    extra = []
    for i in sorted(recent):
        seq, prev = heads[i]
        at = later + timedelta(hours=1)
        digest = audit._digest(
            prev, number(i), seq + 1, at.isoformat(), "officer", "noted", None, "{}"
        )
        extra.append((i, seq + 1, at, "officer", "noted", None, "{}", prev, digest))
    for i in new:
        prev = audit.GENESIS
        for seq in range(1, rng.randint(6, 12) + 1):
            at = later + timedelta(minutes=seq)
            digest = audit._digest(
                prev, number(i), seq, at.isoformat(), "officer", "noted", None, "{}"
            )
            extra.append((i, seq, at, "officer", "noted", None, "{}", prev, digest))
            prev = digest
    with engine.connect() as conn:
        since = conn.scalar(sa.text("SELECT max(id) FROM audit_event")) or 0
    count = write(engine, "audit_event", EVENT_COLUMNS, extra)
    set_heads(engine, since)
    analyze(engine)
    return count


def timed(label: str, fn: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - started
    log(f"  {label}: {seconds:.2f} s")
    return seconds, result


def run(url: str, args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(args.seed)
    sizes = tuple(int(x) for x in args.events.split(","))
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    log(f"filling {args.tickets} tickets ...")
    fill_s, count = timed("fill", lambda: fill(engine, args.tickets, sizes, rng))  # type: ignore[arg-type]
    factory = make_session_factory(engine)
    day1 = START + SPAN
    first_s, _ = timed("first anchor", lambda: anchors.anchor_today(factory, now=day1))
    again_s, again = timed("second run, same day", lambda: anchors.anchor_today(factory, now=day1))
    assert not again.created
    added = a_day_of_work(engine, args.tickets, rng)
    log(f"  a day of work: {added} events")
    day2 = day1 + timedelta(days=1)
    daily_s, daily = timed("next day's anchor", lambda: anchors.anchor_today(factory, now=day2))
    with factory() as session:
        verify_s, problems = timed("anchors.verify", lambda: anchors.verify(session))
        assert problems == [], problems[:5]
        probe = args.tickets // 2
        proof_s, proof = timed("proof_for", lambda: anchors.proof_for(session, probe))
        path_s, with_path = timed(
            "proof_for with_path", lambda: anchors.proof_for(session, probe, with_path=True)
        )
        assert proof is not None
        assert proof.matches, proof
        assert with_path is not None
        assert with_path.path is not None
        assert anchors.root_from_path(with_path.leaf, with_path.path) == daily.anchor.root
        kept = session.scalar(sa.text("SELECT count(*) FROM audit_anchor_head"))
    engine.dispose()
    return {
        "backend": engine.dialect.name,
        "tickets": args.tickets,
        "events": count,
        "fill_s": round(fill_s, 1),
        "first_anchor_s": round(first_s, 2),
        "same_day_again_s": round(again_s, 3),
        "daily_events": added,
        "daily_anchor_s": round(daily_s, 2),
        "chains": daily.anchor.chains,
        "heads_kept": kept,
        "verify_s": round(verify_s, 2),
        "proof_s": round(proof_s, 3),
        "proof_with_path_s": round(path_s, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--events", default="6,12", help="min,max audit events per ticket")
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    if args.backend == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix="laksa-anchors-"))
        url = f"sqlite:///{folder / 'bench.db'}"
        try:
            result = run(url, args)
        finally:
            if args.keep:
                log(f"kept {url}")
            else:
                for f in folder.iterdir():
                    f.unlink()
                folder.rmdir()
    else:
        base = os.environ.get("LAKSA_BENCH_POSTGRES_URL") or os.environ["LAKSA_TEST_POSTGRES_URL"]
        schema = f"bench_anchors_{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(base)
        with admin.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        separator = "&" if "?" in base else "?"
        try:
            result = run(f"{base}{separator}options={quote(f'-csearch_path={schema}')}", args)
        finally:
            if args.keep:
                log(f"kept schema {schema}")
            else:
                with admin.begin() as conn:
                    conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
            admin.dispose()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
