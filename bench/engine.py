"""LAKSA against the bare SpiffWorkflow engine, on the same parsed BPMN, in one run.

    .venv/bin/python bench/engine.py [--n 1000] [--rounds 5]

Bare engine: ``BpmnWorkflow(spec, subprocess_specs)`` + ``do_engine_steps()`` +
``serialize_json`` (SPIFF_CONFIG serializer, SpiffWorkflow's default script environment
with the ``working_days`` helper the timers call); a completion deserializes
the waiting workflow, completes ``verify`` with ``{"decision": "route"}``, runs on and serializes.

LAKSA: ``commands.submit_ticket`` and ``commands.complete_task`` on a SQLite file in a temporary
folder, each command in its own committed transaction (``factory.begin()``).

Both sides run in interleaved rounds (the order alternates) after a warm-up; each ratio is the
median of the per-round ratios. The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import re
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from pathlib import Path
from typing import Any

from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine import TaskDataEnvironment
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import event
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

# bench/engine.py would shadow the engine package: put the repository first.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine import calendar
from engine import commands
from engine import definitions
from engine import demo
from engine.db import Base
from engine.db import make_engine
from engine.db import make_session_factory
from engine.identity import Actor
from engine.identity import actor_for
from engine.identity import create_user
from engine.models import HumanTask
from engine.models import ProcessInstance
from engine.models import User
from engine.runtime.environment import SpeclessWorkflowConverter
from engine.settings import REPO_ROOT

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # Monday 09:00 in Jakarta
LATER = NOW + timedelta(hours=1)
ROAD = commands.TicketInput(
    kind="complaint",
    category="jalan_rusak",
    title="Jalan berlubang",
    description="Lubang besar di depan pasar",
    reporter_contact="budi@example.org",
)
START_DATA = {  # what submit_ticket gives the process, so both sides run the same paths
    "ticket": "LK-BENCH000",
    "kind": ROAD.kind,
    "category": ROAD.category,
    "infrastructure": True,
    "kecamatan": None,
}


class Counter:
    """SQL statements and commits seen by the engine."""

    def __init__(self) -> None:
        self.statements = 0
        self.commits = 0

    def attach(self, engine: Any) -> None:
        def on_execute(*_args: Any) -> None:
            self.statements += 1

        def on_commit(*_args: Any) -> None:
            self.commits += 1

        event.listen(engine, "before_cursor_execute", on_execute)
        event.listen(engine, "commit", on_commit)

    def snapshot(self) -> tuple[int, int]:
        return self.statements, self.commits


# -- the bare engine ------------------------------------------------------------------------


class Bare:
    def __init__(self, spec: Any, subprocess_specs: Any) -> None:
        self.spec = spec
        self.subprocess_specs = subprocess_specs
        self.serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))
        # SpiffWorkflow's own unsandboxed environment, given the same helpers the diagram's
        # timers call (working_days), with the same calendar as LAKSA's.
        self.script_engine = PythonScriptEngine(
            environment=TaskDataEnvironment(calendar.script_helpers(calendar.default_calendar()))
        )

    def intake(self) -> str:
        wf = BpmnWorkflow(self.spec, self.subprocess_specs, script_engine=self.script_engine)
        wf.task_tree.set_data(**START_DATA)
        wf.do_engine_steps()
        return str(self.serializer.serialize_json(wf))

    def complete(self, state: str) -> str:
        wf = self.serializer.deserialize_json(state)
        wf.script_engine = self.script_engine
        task = next(
            t
            for t in wf.get_tasks(state=TaskState.READY, manual=True)
            if t.task_spec.bpmn_id == "verify"
        )
        task.set_data(decision="route")
        task.run()
        wf.do_engine_steps()
        return str(self.serializer.serialize_json(wf))


# -- the engine floor -----------------------------------------------------------------------


class Floor:
    """Bare SpiffWorkflow as a persisting engine needs it at the least: the parsed spec held in
    memory, only the workflow's own state serialized and restored (no spec, no database).

    The state goes through the same spec-less converter LAKSA stores with
    (``engine.runtime.environment.SpeclessWorkflowConverter``) as plain JSON, so the floor is
    LAKSA's engine work minus LAKSA (sandbox, database, projections, audit, compression).
    Importable: ``from bench.engine import Floor, floor_rates`` (bench/http.py does).
    """

    def __init__(self, spec: Any, subprocess_specs: Any) -> None:
        self.spec = spec
        self.subprocess_specs = subprocess_specs
        config = dict(SPIFF_CONFIG)
        config[BpmnWorkflow] = SpeclessWorkflowConverter
        self.serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(config))
        self.script_engine = PythonScriptEngine(
            environment=TaskDataEnvironment(calendar.script_helpers(calendar.default_calendar()))
        )

    @classmethod
    def for_process(cls, process: Any) -> Floor:
        """The floor of a compiled process (``engine.runtime.CompiledProcess``)."""
        return cls(process.spec, process.subprocess_specs)

    def intake(self) -> str:
        wf = BpmnWorkflow(self.spec, self.subprocess_specs, script_engine=self.script_engine)
        wf.task_tree.set_data(**START_DATA)
        wf.do_engine_steps()
        return json.dumps(self.serializer.to_dict(wf))

    def complete(self, state: str) -> str:
        wf = self.serializer.from_dict(
            json.loads(state), spec=self.spec, subprocess_specs=self.subprocess_specs
        )
        wf.script_engine = self.script_engine
        task = next(
            t
            for t in wf.get_tasks(state=TaskState.READY, manual=True)
            if t.task_spec.bpmn_id == "verify"
        )
        task.set_data(decision="route")
        task.run()
        wf.do_engine_steps()
        return json.dumps(self.serializer.to_dict(wf))


def floor_rates(floor: Floor, n: int) -> tuple[float, float, list[str]]:
    """Intakes/s and completions/s (wall clock) of ``n`` floor intakes then ``n`` completions
    of them (the states after completion are returned too)."""
    rates, done = floor_timings(floor, n)
    return rates["floor_intake"], rates["floor_complete"], done


def floor_timings(floor: Floor, n: int) -> tuple[dict[str, float], list[str]]:
    """``floor_intake``/``floor_complete`` per second, wall clock and (``_cpu``) this
    process's CPU time."""
    wall, cpu, states = timed_both(lambda: [floor.intake() for _ in range(n)])
    rates = {"floor_intake": n / wall, "floor_intake_cpu": n / cpu}
    wall, cpu, done = timed_both(lambda: [floor.complete(s) for s in states])
    rates.update(floor_complete=n / wall, floor_complete_cpu=n / cpu)
    return rates, done


# -- LAKSA ----------------------------------------------------------------------------------


def setup_database(folder: Path) -> tuple[sessionmaker[Session], Any, Actor]:
    engine = make_engine(f"sqlite:///{folder / 'bench.db'}")
    Base.metadata.create_all(engine)
    factory = make_session_factory(engine)
    with factory.begin() as session:
        demo.ensure_reference_data(session)
        demo.ensure_demo_city(session)
        create_user(
            session,
            username="verifikator",
            password="password-verifikator",
            role="verifier",
            groups=["verifier"],
            now=NOW,
        )
        definitions.deploy(
            session, definitions.read_files(REPO_ROOT / "workflows"), actor="bench", now=NOW
        )
    with factory() as session:
        user = session.scalars(select(User).where(User.username == "verifikator")).one()
        verifier = actor_for(session, user)
    return factory, engine, verifier


class Laksa:
    def __init__(self, factory: sessionmaker[Session], verifier: Actor) -> None:
        self.factory = factory
        self.verifier = verifier
        self.public = Actor.public()

    def intake(self) -> int:
        with self.factory.begin() as session:
            return commands.submit_ticket(session, data=ROAD, actor=self.public, now=NOW).ticket.id

    def verify_task_ids(self, ticket_ids: list[int]) -> list[int]:
        with self.factory() as session:
            rows = session.execute(
                select(HumanTask.ticket_id, HumanTask.id).where(
                    HumanTask.ticket_id.in_(ticket_ids),
                    HumanTask.element_id == "verify",
                    HumanTask.completed_at.is_(None),
                )
            ).all()
        by_ticket = dict(rows)
        return [by_ticket[t] for t in ticket_ids]

    def complete(self, task_id: int) -> None:
        with self.factory.begin() as session:
            commands.complete_task(
                session,
                task_id=task_id,
                actor=self.verifier,
                data={"decision": "route"},
                now=LATER,
            )


# -- the database's share: LAKSA's statements replayed through the bare driver ---------------


class Recorder:
    """The statements one command sends to the driver (after SQLAlchemy's processing), its
    BEGIN and PRAGMAs left out, recorded with a ``before_cursor_execute`` listener."""

    def __init__(self) -> None:
        self.statements: list[tuple[str, Any, bool]] = []

    def __call__(
        self, _conn: Any, _cursor: Any, sql: str, params: Any, _ctx: Any, many: bool
    ) -> None:
        if not sql.startswith(("BEGIN", "PRAGMA")):
            self.statements.append((sql, params, many))

    def record(self, engine: Any, command: Callable[[], Any]) -> list[tuple[str, Any, bool]]:
        self.statements = []
        event.listen(engine, "before_cursor_execute", self)
        try:
            command()
        finally:
            event.remove(engine, "before_cursor_execute", self)
        return self.statements


class Replay:
    """One recorded intake's and one completion's statements run again through sqlite3 alone,
    on a copy of the bench database, each in one ``BEGIN IMMEDIATE`` ... ``COMMIT``.

    No SQLAlchemy and no LAKSA logic: what reading and writing those rows costs the database
    and its driver at the least. The unique columns get fresh values (ticket number, task
    guids, audit sequence) and an intake's rows the new ticket's and instance's ids. A replayed
    completion completes the same instance each time: the rows it added to that instance are
    deleted after it (not timed), so its reads find what the real one found; its UPDATEs and
    DELETE find their rows changed already, so it is if anything cheaper than the real one.
    ``floor / (floor + replay)`` is then the best ratio to the floor any LAKSA that keeps these
    rows in one transaction could reach.
    """

    def __init__(self, path: Path, intake: list[Any], complete: list[Any]) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None)
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON"):
            self.conn.execute(f"PRAGMA {pragma}")
        self.intake_statements, self.complete_statements = intake, complete
        self.fresh = itertools.count(FRESH)

    def intake(self) -> None:
        self._run(self.intake_statements, new=True)

    def complete(self) -> float:
        """One replayed completion; its CPU seconds (the clean-up after it not counted)."""
        start = time.process_time()
        self._run(self.complete_statements, new=False)
        spent = time.process_time() - start
        # The replays complete the same instance: the rows they add to it would make its reads
        # slower each time (the real completions each read their own ticket's few rows).
        self.conn.execute("BEGIN IMMEDIATE")
        self.conn.execute(f"DELETE FROM audit_event WHERE seq >= {FRESH}")
        for table in ("human_task", "pending_timer"):
            self.conn.execute(f"DELETE FROM {table} WHERE task_guid LIKE 'R%'")
        self.conn.execute("COMMIT")
        return spent

    def _run(self, statements: list[tuple[str, Any, bool]], *, new: bool) -> None:
        ids: dict[str, int] = {}
        self.conn.execute("BEGIN IMMEDIATE")
        for sql, params, many in statements:
            insert = _INSERT.match(sql)
            if insert is None:
                self.conn.execute(sql, params).fetchall()
                continue
            table = insert.group(1)
            columns = [c.strip().strip('"') for c in insert.group(2).split(",")]
            rows = [self._fresh(columns, row, ids, new) for row in (params if many else [params])]
            if many:
                self.conn.executemany(sql, rows)
            else:
                cursor = self.conn.execute(sql, rows[0])
                if new and table in ("ticket", "process_instance"):
                    ids["ticket_id" if table == "ticket" else "instance_id"] = cursor.lastrowid or 0
        self.conn.execute("COMMIT")

    def _fresh(self, columns: list[str], row: Any, ids: dict[str, int], new: bool) -> list[Any]:
        values = list(row)
        for i, column in enumerate(columns):
            if column in ("number", "task_guid"):
                values[i] = f"R{next(self.fresh)}"
            elif column == "seq":
                values[i] = next(self.fresh)
            elif new and column in ids:
                values[i] = ids[column]
        return values


FRESH = 10**9  # the first of the fresh values (task guids are 'R' and one of them)
_INSERT = re.compile(r"INSERT INTO (\w+) \(([^)]*)\) VALUES")


def replay_for(folder: Path, engine: Any, laksa: Laksa) -> Replay:
    """Record one intake and one completion of ``laksa``, then a Replay of them on a copy of
    its database (so the replays leave LAKSA's own tables as they were)."""
    recorder = Recorder()
    ticket: list[int] = []
    intake = recorder.record(engine, lambda: ticket.append(laksa.intake()))
    (task_id,) = laksa.verify_task_ids(ticket)
    complete = recorder.record(engine, lambda: laksa.complete(task_id))
    copy = folder / "replay.db"
    source, target = sqlite3.connect(folder / "bench.db"), sqlite3.connect(copy)
    source.backup(target)
    source.close()
    target.close()
    return Replay(copy, intake, complete)


def replay_timings(replay: Replay, n: int) -> dict[str, float]:
    """Replayed intakes and completions per second of this process's CPU time."""
    _, cpu, _ = timed_both(lambda: [replay.intake() for _ in range(n)])
    rates = {"replay_intake_cpu": n / cpu}
    gc.collect()
    rates["replay_complete_cpu"] = n / max(sum(replay.complete() for _ in range(n)), 1e-9)
    return rates


# -- timing ---------------------------------------------------------------------------------


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    wall, _, result = timed_both(fn)
    return wall, result


def timed_both(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    """Wall-clock and CPU seconds of ``fn()`` (CPU: this process, all threads; the machine's
    other load barely moves it, while it moves the wall clock a lot), and its result."""
    gc.collect()
    start, start_cpu = time.perf_counter(), time.process_time()
    result = fn()
    return time.perf_counter() - start, max(time.process_time() - start_cpu, 1e-9), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="intakes and completions per side")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument(
        "--profile", choices=("intake", "complete"), help="cProfile LAKSA's side, print top costs"
    )
    args = parser.parse_args()
    per_round = max(1, args.n // args.rounds)

    with tempfile.TemporaryDirectory(prefix="laksa-bench-") as tmp:
        factory, db_engine, verifier = setup_database(Path(tmp))
        with factory() as session:
            definition = definitions.latest_definition(session, "complaint")
            process = definitions.bundle_for(session, definition).processes[definition.key]
        bare = Bare(process.spec, process.subprocess_specs)  # the spec LAKSA runs: parsed once
        floor = Floor.for_process(process)
        laksa = Laksa(factory, verifier)
        counter = Counter()
        counter.attach(db_engine)

        # warm-up: every side, both operations
        for _ in range(args.warmup):
            bare.complete(bare.intake())
            floor.complete(floor.intake())
        warm = [laksa.intake() for _ in range(args.warmup)]
        for task_id in laksa.verify_task_ids(warm):
            laksa.complete(task_id)

        if args.profile:
            profile(laksa, args.profile, args.n)
            db_engine.dispose()
            return
        replay = replay_for(Path(tmp), db_engine, laksa)
        replay_timings(replay, args.warmup)

        rounds: list[dict[str, float]] = []
        intake_stmts = intake_commits = complete_stmts = complete_commits = 0
        bare_state_bytes = floor_state_bytes = 0
        for r in range(args.rounds):
            result: dict[str, float] = {}

            def run_bare(result: dict[str, float] = result) -> None:
                nonlocal bare_state_bytes
                t, cpu, states = timed_both(lambda: [bare.intake() for _ in range(per_round)])
                result["bare_intake"], result["bare_intake_cpu"] = per_round / t, per_round / cpu
                bare_state_bytes = len(states[-1].encode())
                t, cpu, _ = timed_both(lambda: [bare.complete(s) for s in states])
                result["bare_complete"] = per_round / t
                result["bare_complete_cpu"] = per_round / cpu

            def run_floor(result: dict[str, float] = result) -> None:
                nonlocal floor_state_bytes
                result.update(floor_timings(floor, per_round)[0])
                floor_state_bytes = len(floor.intake().encode())

            def run_laksa(result: dict[str, float] = result) -> None:
                nonlocal intake_stmts, intake_commits, complete_stmts, complete_commits
                s0, c0 = counter.snapshot()
                t, cpu, tickets = timed_both(lambda: [laksa.intake() for _ in range(per_round)])
                s1, c1 = counter.snapshot()
                result["laksa_intake"], result["laksa_intake_cpu"] = per_round / t, per_round / cpu
                task_ids = laksa.verify_task_ids(tickets)
                s2, c2 = counter.snapshot()
                t, cpu, _ = timed_both(lambda: [laksa.complete(i) for i in task_ids])
                s3, c3 = counter.snapshot()
                result["laksa_complete"] = per_round / t
                result["laksa_complete_cpu"] = per_round / cpu
                intake_stmts += s1 - s0
                intake_commits += c1 - c0
                complete_stmts += s3 - s2
                complete_commits += c3 - c2

            def run_replay(result: dict[str, float] = result) -> None:
                result.update(replay_timings(replay, per_round))

            sides = [run_floor, run_laksa, run_bare, run_replay]
            for side in sides[r % 4 :] + sides[: r % 4]:  # the order rotates each round
                side()
            rounds.append(result)
            print(
                f"round {r + 1}: intakes/s floor {result['floor_intake']:.0f}"
                f" bare {result['bare_intake']:.0f} laksa {result['laksa_intake']:.0f};"
                f" completions/s floor {result['floor_complete']:.0f}"
                f" bare {result['bare_complete']:.0f} laksa {result['laksa_complete']:.0f}",
                flush=True,
            )

        # a ticket waiting at verification
        waiting = laksa.intake()
        with factory() as session:
            state_bytes = len(
                session.scalars(
                    select(ProcessInstance.state).where(ProcessInstance.ticket_id == waiting)
                ).one()
            )
        db_engine.dispose()
        replay.conn.close()

    def median(key: str) -> float:
        return statistics.median(r[key] for r in rounds)

    def ratio(laksa_key: str, base_key: str) -> float:
        return statistics.median(r[laksa_key] / r[base_key] for r in rounds)

    def best(what: str) -> float:
        """floor / (floor + replay), per round (CPU): the floor's engine work plus the
        database's own share of LAKSA's rows, and nothing else."""
        return statistics.median(
            (1 / r[f"floor_{what}_cpu"])
            / (1 / r[f"floor_{what}_cpu"] + 1 / r[f"replay_{what}_cpu"])
            for r in rounds
        )

    def ms(key: str) -> float:
        return round(1000 / median(key), 3)

    total = per_round * args.rounds
    out = {
        "n": total,
        "rounds": args.rounds,
        "floor_intakes_per_s": round(median("floor_intake"), 1),
        "bare_intakes_per_s": round(median("bare_intake"), 1),
        "laksa_intakes_per_s": round(median("laksa_intake"), 1),
        "intake_floor_ratio": round(ratio("laksa_intake", "floor_intake"), 3),
        "intake_ratio": round(ratio("laksa_intake", "bare_intake"), 3),
        "floor_completions_per_s": round(median("floor_complete"), 1),
        "bare_completions_per_s": round(median("bare_complete"), 1),
        "laksa_completions_per_s": round(median("laksa_complete"), 1),
        "complete_floor_ratio": round(ratio("laksa_complete", "floor_complete"), 3),
        "complete_ratio": round(ratio("laksa_complete", "bare_complete"), 3),
        "intake_floor_ratio_cpu": round(ratio("laksa_intake_cpu", "floor_intake_cpu"), 3),
        "complete_floor_ratio_cpu": round(ratio("laksa_complete_cpu", "floor_complete_cpu"), 3),
        "floor_intake_ms_cpu": ms("floor_intake_cpu"),
        "replay_intake_ms_cpu": ms("replay_intake_cpu"),
        "laksa_intake_ms_cpu": ms("laksa_intake_cpu"),
        "floor_complete_ms_cpu": ms("floor_complete_cpu"),
        "replay_complete_ms_cpu": ms("replay_complete_cpu"),
        "laksa_complete_ms_cpu": ms("laksa_complete_cpu"),
        "best_intake_floor_ratio_cpu": round(best("intake"), 3),
        "best_complete_floor_ratio_cpu": round(best("complete"), 3),
        "state_bytes": state_bytes,
        "floor_state_bytes": floor_state_bytes,
        "bare_state_bytes": bare_state_bytes,
        "statements_per_intake": round(intake_stmts / total, 2),
        "statements_per_completion": round(complete_stmts / total, 2),
        "commits_per_intake": round(intake_commits / total, 2),
        "commits_per_completion": round(complete_commits / total, 2),
    }
    print(
        f"intake: LAKSA {out['laksa_intakes_per_s']}/s vs floor {out['floor_intakes_per_s']}/s"
        f" -> ratio {out['intake_floor_ratio']} (target >= 0.5);"
        f" vs bare {out['bare_intakes_per_s']}/s -> {out['intake_ratio']}"
    )
    print(
        f"complete: LAKSA {out['laksa_completions_per_s']}/s vs floor"
        f" {out['floor_completions_per_s']}/s -> ratio {out['complete_floor_ratio']}"
        f" (target >= 0.6); vs bare {out['bare_completions_per_s']}/s -> {out['complete_ratio']}"
    )
    print(
        f"CPU time only: intake ratio {out['intake_floor_ratio_cpu']},"
        f" completion ratio {out['complete_floor_ratio_cpu']} (to the floor)"
    )
    print(
        f"the database's own share (LAKSA's statements replayed through sqlite3 alone):"
        f" {out['replay_intake_ms_cpu']} ms per intake, {out['replay_complete_ms_cpu']} ms per"
        f" completion; the floor plus it alone reaches {out['best_intake_floor_ratio_cpu']} and"
        f" {out['best_complete_floor_ratio_cpu']} of the floor (CPU), LAKSA"
        f" {out['intake_floor_ratio_cpu']} and {out['complete_floor_ratio_cpu']}"
    )
    print(
        f"state of a ticket at verification: {state_bytes} bytes (target <= 1024);"
        f" floor JSON {floor_state_bytes} bytes; bare serialize_json with spec:"
        f" {bare_state_bytes} bytes"
    )
    print(
        f"per command: {out['statements_per_intake']} statements / {out['commits_per_intake']}"
        f" commits (intake), {out['statements_per_completion']} statements /"
        f" {out['commits_per_completion']} commits (completion), BEGIN included"
    )
    print(json.dumps(out))


def profile(laksa: Laksa, which: str, n: int) -> None:
    """cProfile ``n`` LAKSA intakes (or completions of ``n`` fresh intakes); top 30 by own
    and by cumulative time to stdout."""
    import cProfile
    import pstats

    tickets = [laksa.intake() for _ in range(n)] if which == "complete" else []
    task_ids = laksa.verify_task_ids(tickets) if tickets else []
    prof = cProfile.Profile()
    prof.enable()
    if which == "intake":
        for _ in range(n):
            laksa.intake()
    else:
        for task_id in task_ids:
            laksa.complete(task_id)
    prof.disable()
    stats = pstats.Stats(prof, stream=sys.stdout).strip_dirs()
    stats.sort_stats("tottime").print_stats(30)
    stats.sort_stats("cumulative").print_stats(45)


if __name__ == "__main__":
    main()
