"""The heatmap's query and page over a year of a million tickets, on SQLite and PostgreSQL.

    .venv/bin/python bench/heatmap.py [--tickets 1000000] [--backend sqlite|postgres|both]
                                      [--samples 30] [--warmup 3] [--seed 1] [--keep]

Fills ``element_stay`` and ``element_breach`` as the commands would have kept them for
``--tickets`` tickets received over the last 365 days: each ticket's path through
``workflows/complaint.bpmn`` (element by element, as the engine's ``element_completed`` audit
events name them) is simulated with the distributions of bench/reads.py (categories weighted
like a city's, each routed to its OPD; verification, acknowledgement and handling times
log-normal; the closed states' mix; deadlines breached when a stage outlasts its deadline;
events after now dropped, so recent tickets are still open), and every path is attributed by
``engine.stays.attribute``, the very code every command runs. Then ``engine.heatmap.read``
and ``GET /audit/heatmap`` (an auditor signed in, through the Flask test client: query,
deployed diagram, rendering) are timed for the last year, all OPDs, one OPD (dpupr) and one
category. The last line printed is one JSON object; ``pass`` when every p95 is under 2 s.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import re
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import reads

from engine import definitions
from engine import demo
from engine import heatmap
from engine import stays
from engine.calendar import JAKARTA
from engine.db import Base
from engine.db import make_engine
from engine.db import make_session_factory
from engine.identity import create_user
from engine.settings import REPO_ROOT
from engine.settings import Settings

YEAR_H = 365 * 24.0
TARGET_S = 2.0
EPOCH = date(1970, 1, 1)
AUDITOR = ("auditor_bench", "sandi-auditor-bench")
ONE_OPD = "dpupr"
ONE_CATEGORY = "sampah"
log = reads.log

VERIFIED = ("verify", "verification_clock_stopped", "verification_outcome")
ROUTED = ("prepare_routing", "route", "routing_found", "ack_clock_started")
ACKNOWLEDGED = (
    "acknowledge",
    "ack_clock_stopped",
    "ack_outcome",
    "resolution_target",
    "resolution_clock_started",
)
RESOLVED = (
    "handle",
    "handling_ended",
    "handle_outcome",
    "resolution_clock_fulfilled",
    "photo_check",
    "resolved",
)
ASKED = ("handle", "handle_outcome", "resolution_clock_paused", "info_requested")


@dataclass(frozen=True)
class Scenario:
    name: str
    opd: str | None = None
    category: str | None = None


SCENARIOS = (
    Scenario("year_all"),
    Scenario("year_one_opd", opd=ONE_OPD),
    Scenario("year_one_category", category=ONE_CATEGORY),
)


class City:
    """Ticket paths: (hours after receipt, element) in the order the engine completes them."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.categories = list(reads.CATEGORY_WEIGHTS)
        self.category_cum = reads._cumulative(reads.CATEGORY_WEIGHTS.values())
        self.closed = list(reads.CLOSED_STATES)
        self.closed_cum = reads._cumulative(reads.CLOSED_STATES.values())

    def path(self) -> tuple[str, str, list[tuple[float, str]]]:
        rng = self.rng
        category = self.categories[reads._pick(rng, self.category_cum)]
        state = self.closed[reads._pick(rng, self.closed_cum)]
        steps: list[tuple[float, str]] = [(0.0, "received"), (0.0, "verification_clock_started")]
        t = reads.lognormal_h(rng, 18, 1.0, 0.2, 600)
        if t > 100:  # the verification deadline (3 working days) passed while it waited
            steps += [(100.0, e) for e in ("verification_overdue", "escalate_verification")]
            steps.append((100.0, "verification_escalated"))
        steps += [(t, e) for e in VERIFIED]
        if state in ("archived", "forwarded", "duplicate"):
            steps.append((t, state))
            return category, state, steps
        steps += [(t, e) for e in ROUTED]
        ack = reads.lognormal_h(rng, 20, 1.0, 0.2, 600)
        if ack > 170:
            steps += [(t + 170, "acknowledgement_overdue"), (t + 170, "acknowledgement_escalated")]
        t += ack
        steps += [(t, e) for e in ACKNOWLEDGED]
        if state == "closed_no_reply":
            t += reads.lognormal_h(rng, 48, 1.0, 1, 600)
            steps += [(t, e) for e in ASKED]
            t += 336 + 48 * rng.random()
            steps += [(t, "reply_overdue"), (t, "closed_no_reply")]
            return category, state, steps
        complexity = rng.choices(("simple", "medium", "complex"), cum_weights=(55, 90, 100))[0]
        target = reads.COMPLEXITY_TARGET_H[complexity]
        handle = reads.lognormal_h(
            rng, reads.COMPLEXITY_HANDLE_MEDIAN_H[complexity], 0.8, 1, 300 * 24
        )
        if handle > target / 2:
            steps += [(t + target / 2, "resolution_reminder"), (t + target / 2, "opd_reminded")]
        late = handle > target
        if late:
            steps += [(t + target, "resolution_overdue"), (t + target, "escalated_to_head")]
        t += handle
        steps += [(t, e) for e in RESOLVED]
        if late:
            steps += [(t, "head_review_withdrawn"), (t, "head_review_closed")]
        if state == "confirmed":
            t += reads.lognormal_h(rng, 30, 1.0, 0.5, 330)
            steps += [(t, "await_confirmation"), (t, "confirmed")]
        else:
            t += 336 + 48 * rng.random()
            steps += [(t, "confirmation_timeout"), (t, "closed")]
        return category, state, steps


def simulate(tickets: int, seed: int, flow: stays.Flow, now: datetime) -> stays.Tally:
    """The stays and breaches of ``tickets`` paths received over the last year.

    ``engine.stays.attribute``'s rule, run on integer seconds (Jakarta is UTC+7 all year) and
    counted in one dimension, then spread over the three: the same rows, many times faster.
    ``check`` holds the two equal on a sample.
    """
    city = City(seed)
    preds = {k: tuple(v) for k, v in flow.predecessors.items()}
    hosts = dict(flow.hosts)
    breaches = flow.breaches
    now_s = int(now.timestamp())
    stays_by: Counter[tuple[int, str, str, str, int]] = Counter()
    breaches_by: Counter[tuple[int, str, str, str]] = Counter()
    log2 = math.log2
    started = time.perf_counter()
    for i in range(tickets):
        category, _, steps = city.path()
        created = now_s - int(city.rng.random() * YEAR_H * 3600)
        routed_to = reads.OPD_OF[category]
        opd = ""
        last: dict[str, int] = {}
        for hours, element in steps:
            at = created + int(hours * 3600)
            if at > now_s:
                break  # still open
            day = (at + 7 * 3600) // 86400
            host = hosts.get(element)
            waited = (host[0], element) if host is not None and host[1] else (element,)
            for e in waited:
                entered = None
                for p in preds.get(e, ()):
                    t = last.get(p)
                    if t is not None and (entered is None or t > entered):
                        entered = t
                seconds = 0 if entered is None else max(0, at - entered)
                b = 0 if seconds < 60 else 1 + int(4 * log2(seconds / 60))
                stays_by[(day, e, opd, category, b)] += 1
            if element in breaches:
                breaches_by[(day, host[0] if host else element, opd, category)] += 1
            last[element] = at
            if element == "route":
                opd = routed_to
        if (i + 1) % 200_000 == 0:
            log(f"  {i + 1:,} tickets simulated ({time.perf_counter() - started:.0f} s)")
    return spread(flow.key, stays_by, breaches_by)


def spread(
    key: str,
    stays_by: Counter[tuple[int, str, str, str, int]],
    breaches_by: Counter[tuple[int, str, str, str]],
) -> stays.Tally:
    """Counts by (day number, element, OPD, category[, bucket]) in the three dimensions and
    both spans, as ``engine.stays`` keeps them."""
    tally = stays.Tally()
    days: dict[int, tuple[tuple[str, date], ...]] = {}

    def spans_of(d: int) -> tuple[tuple[str, date], ...]:
        found = days.get(d)
        if found is None:
            day = EPOCH + timedelta(days=d)
            found = days[d] = ((stays.DAY, day), (stays.MONTH, day.replace(day=1)))
        return found

    for (d, element, opd, category, b), n in stays_by.items():
        for span, first in spans_of(d):
            for dimension, k in ((stays.ALL, ""), (stays.OPD, opd), (stays.CATEGORY, category)):
                tally.stays[(key, dimension, k, span, first, element, b)] += n
    for (d, element, opd, category), n in breaches_by.items():
        for span, first in spans_of(d):
            for dimension, k in ((stays.ALL, ""), (stays.OPD, opd), (stays.CATEGORY, category)):
                tally.breaches[(key, dimension, k, span, first, element)] += n
    return tally


def check(flow: stays.Flow, now: datetime, tickets: int = 2000) -> None:
    """The fast simulation counts exactly what ``engine.stays.attribute`` counts."""
    fast = simulate(tickets, 99, flow, now)
    city = City(99)
    slow = stays.Tally()
    now_s = int(now.timestamp())
    for _ in range(tickets):
        category, _, steps = city.path()
        created = now_s - int(city.rng.random() * YEAR_H * 3600)
        completions = []
        for hours, element in steps:
            at = created + int(hours * 3600)
            if at > now_s:
                break
            opd = reads.OPD_OF[category] if element == "route" else None
            completions.append(stays.Completion(datetime.fromtimestamp(at, UTC), element, opd))
        stays.attribute(flow, stays.Trail(), category, completions, slow)
    assert fast.stays == slow.stays, "the fast simulation differs from engine.stays"
    assert fast.breaches == slow.breaches, "the fast simulation differs from engine.stays"


def fill(url: str, tally: stays.Tally) -> sa.Engine:
    """Bulk-write the rows: COPY on PostgreSQL, one executemany on SQLite."""
    engine = make_engine(url)
    stay_columns = (
        "process_key",
        "dimension",
        "key",
        "span",
        "day",
        "element_id",
        "bucket",
        "count",
    )
    breach_columns = ("process_key", "dimension", "key", "span", "day", "element_id", "count")
    parts = (
        ("element_stay", stay_columns, [(*k, n) for k, n in tally.stays.items()]),
        ("element_breach", breach_columns, [(*k, n) for k, n in tally.breaches.items()]),
    )
    if engine.dialect.name == "postgresql":
        raw = engine.raw_connection()
        try:
            with raw.cursor() as cur:
                for name, columns, rows in parts:
                    with cur.copy(f"COPY {name} ({', '.join(columns)}) FROM STDIN") as copy:  # type: ignore[attr-defined]
                        for row in rows:
                            copy.write_row(row)
            raw.commit()
        finally:
            raw.close()
    else:
        with engine.begin() as conn:
            for name, columns, rows in parts:
                marks = ", ".join("?" * len(columns))
                text_rows = [
                    tuple(v.isoformat() if isinstance(v, date) else v for v in r) for r in rows
                ]
                conn.exec_driver_sql(
                    f"INSERT INTO {name} ({', '.join(columns)}) VALUES ({marks})", text_rows
                )
    with engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")
    return engine


def prepare(url: str, now: datetime) -> stays.Flow:
    engine = make_engine(url)
    try:
        Base.metadata.create_all(engine)
        with make_session_factory(engine).begin() as session:
            demo.ensure_reference_data(session)
            demo.ensure_demo_city(session)
            definitions.deploy(
                session, definitions.read_files(REPO_ROOT / "workflows"), actor="bench", now=now
            )
            username, password = AUDITOR
            create_user(
                session, username=username, password=password, role="auditor", groups=[], now=now
            )
            definition = definitions.latest_definition(session, heatmap.PROCESS)
            return stays.flow_for(session, definition.id)
    finally:
        engine.dispose()


def sign_in(client: Any) -> None:
    form = client.get("/masuk").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*\bvalue="([^"]+)"', form)
    assert token, "no csrf_token on /masuk"
    username, password = AUDITOR
    answer = client.post(
        "/masuk", data={"username": username, "password": password, "csrf_token": token[1]}
    )
    assert answer.status_code == 302, f"signing in answered {answer.status_code}"


def timed(fn: Callable[[], Any], *, samples: int, warmup: int) -> list[float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(samples):
        started = time.perf_counter()
        fn()
        out.append(time.perf_counter() - started)
    return out


def summary(samples: list[float]) -> dict[str, Any]:
    p95 = reads.percentile(samples, 95)
    return {
        "p50_ms": round(reads.percentile(samples, 50) * 1000, 1),
        "p95_ms": round(p95 * 1000, 1),
        "under_2s": p95 < TARGET_S,
    }


def measure(
    backend: reads.Backend, engine: sa.Engine, *, start: date, end: date, args: Any
) -> dict[str, Any]:
    from web.app import create_app

    settings = Settings(
        home=backend.home,
        database_url=backend.url,
        redis_url=None,
        secret_key="bench",
        workflows_dir=REPO_ROOT / "workflows",
    )
    app = create_app({"SETTINGS": settings, "TESTING": False})
    client = app.test_client()
    sign_in(client)
    factory = make_session_factory(engine)
    results: dict[str, Any] = {}
    for s in SCENARIOS:
        filters = heatmap.Filters(start=start, end=end, opd=s.opd, category=s.category)

        def query(filters: heatmap.Filters = filters) -> None:
            with factory() as session:
                assert heatmap.read(session, filters)

        query_string = f"dari={start.isoformat()}&sampai={end.isoformat()}"
        if s.opd:
            query_string += f"&opd={s.opd}"
        if s.category:
            query_string += f"&kategori={s.category}"

        def page(query_string: str = query_string) -> None:
            answer = client.get(f"/audit/heatmap?{query_string}")
            assert answer.status_code == 200, answer.status_code

        results[s.name] = {
            "query": summary(timed(query, samples=args.samples, warmup=args.warmup)),
            "page": summary(timed(page, samples=args.samples, warmup=args.warmup)),
        }
        log(f"  {s.name}: {json.dumps(results[s.name])}")
    return results


def run_backend(backend: reads.Backend, tally: stays.Tally, now: datetime, args: Any) -> dict:
    log(f"{backend.name}: filling {len(tally.stays):,} stay rows")
    started = time.perf_counter()
    engine = fill(backend.url, tally)
    filled = time.perf_counter() - started
    end = now.astimezone(JAKARTA).date()
    start = end - timedelta(days=364)
    try:
        with make_session_factory(engine)() as session:
            year = heatmap.read(session, heatmap.Filters(start=start, end=end))
        sanity = {
            e: {
                "passed": year[e].passed,
                "median_h": round((year[e].median_seconds or 0) / 3600, 1),
                "p90_h": round((year[e].p90_seconds or 0) / 3600, 1),
                "breaches": year[e].breaches,
            }
            for e in ("verify", "acknowledge", "handle", "await_confirmation")
            if e in year
        }
        log(f"  a year: {json.dumps(sanity)}")
        results = measure(backend, engine, start=start, end=end, args=args)
    finally:
        engine.dispose()
    return {
        "stay_rows": len(tally.stays),
        "breach_rows": len(tally.breaches),
        "fill_s": round(filled, 1),
        "year": sanity,
        "scenarios": results,
        "pass": all(r[k]["under_2s"] for r in results.values() for k in ("query", "page")),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"))
    parser.add_argument("--samples", type=int, default=30, help="timed runs per scenario")
    parser.add_argument("--warmup", type=int, default=3, help="untimed runs per scenario first")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the databases")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    now = datetime.now(UTC).replace(microsecond=0)
    places = reads.Places(keep=args.keep)
    report: dict[str, Any] = {
        "bench": "heatmap",
        "tickets": args.tickets,
        "samples": args.samples,
        "date": now.strftime("%Y-%m-%d"),
        "code": reads.code_version(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs,"
        f" Python {platform.python_version()}",
        "backends": {},
    }
    try:
        tally: stays.Tally | None = None
        for backend in reads.backends_of(args, places):
            flow = prepare(backend.url, now)
            if tally is None:
                check(flow, now)
                log(f"simulating {args.tickets:,} tickets over the last year")
                started = time.perf_counter()
                tally = simulate(args.tickets, args.seed, flow, now)
                report["simulate_s"] = round(time.perf_counter() - started, 1)
                # each stay is kept six times (three dimensions, two spans): count one
                report["stays"] = sum(
                    n for k, n in tally.stays.items() if k[1] == stays.ALL and k[3] == stays.DAY
                )
                report["breaches"] = sum(
                    n for k, n in tally.breaches.items() if k[1] == stays.ALL and k[3] == stays.DAY
                )
            report["backends"][backend.name] = run_backend(backend, tally, now, args)
    finally:
        places.cleanup()
    report["pass"] = all(b["pass"] for b in report["backends"].values())
    print(json.dumps(report))


if __name__ == "__main__":
    main()
