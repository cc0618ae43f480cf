"""The implementation of bench/http.py (run that): LAKSA over HTTP against the engine floor."""

from __future__ import annotations

import sys
from pathlib import Path

# Run from bench/http.py: this folder comes first on sys.path (bench/http.py hands the
# standard library's ``http`` over when it is imported by that name), and bench/engine.py
# would stand in for the ``engine`` package: put the repository first.
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import argparse  # noqa: E402
import gc  # noqa: E402
import http.client  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import multiprocessing  # noqa: E402
import os  # noqa: E402
import socket  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from typing import Any  # noqa: E402
from urllib.parse import quote  # noqa: E402

import sqlalchemy as sa  # noqa: E402
from sqlalchemy import select  # noqa: E402

from engine import definitions  # noqa: E402
from engine.db import make_engine  # noqa: E402
from engine.db import make_session_factory  # noqa: E402
from engine.models import HumanTask  # noqa: E402
from engine.models import Ticket  # noqa: E402

BIN = Path(sys.executable).parent
TICKET = json.dumps(
    {
        "category": "jalan_rusak",
        "title": "Jalan berlubang",
        "description": "Lubang besar di depan pasar",
        "reporter": {"contact": "budi@example.org"},
    }
).encode()
VERIFY = json.dumps({"data": {"decision": "route"}}).encode()
UNLIMITED = "1000000 per minute"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def load_bench_engine() -> Any:
    """bench/engine.py as a module (its name would shadow the engine package)."""
    spec = importlib.util.spec_from_file_location("bench_engine", HERE / "engine.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def engine_floor(bench_engine: Any, url: str) -> Any:
    """bench/engine.py's floor on the deployed complaint process (parsed once, as LAKSA's
    definition cache holds it)."""
    db_engine = make_engine(url)
    try:
        with make_session_factory(db_engine)() as session:
            definition = definitions.latest_definition(session, "complaint")
            process = definitions.bundle_for(session, definition).processes[definition.key]
    finally:
        db_engine.dispose()
    return bench_engine.Floor.for_process(process)


# -- the instance and its server ------------------------------------------------------------


@contextmanager
def database(folder: Path) -> Iterator[str]:
    """A SQLite file in ``folder``, or a fresh schema in LAKSA_BENCH_POSTGRES_URL."""
    postgres = os.environ.get("LAKSA_BENCH_POSTGRES_URL")
    if not postgres:
        yield f"sqlite:///{folder / 'laksa.db'}"
        return
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(postgres)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    separator = "&" if "?" in postgres else "?"
    try:
        yield f"{postgres}{separator}options={quote(f'-csearch_path={schema}')}"
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.dispose()


def instance_env(home: Path, url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "LAKSA_REDIS_URL"}
    env.update(
        LAKSA_HOME=str(home),
        LAKSA_DATABASE_URL=url,
        LAKSA_SECRET_KEY="bench-" + uuid.uuid4().hex,
        LAKSA_SUBMIT_LIMIT=UNLIMITED,
        LAKSA_SIGN_IN_LIMIT=UNLIMITED,
        LAKSA_PARTNER_LIMIT=UNLIMITED,
    )
    return env


def laksa(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [str(BIN / "laksa"), *args], env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"laksa {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """``laksa serve --production`` with ``workers`` gunicorn workers."""

    def __init__(self, env: dict[str, str], workers: int, threads: int, logfile: Path) -> None:
        self.port = free_port()
        self.log = logfile.open("ab")
        self.process = subprocess.Popen(
            [str(BIN / "laksa"), "serve", "--production", "--port", str(self.port)],
            env={**env, "LAKSA_WEB_WORKERS": str(workers), "LAKSA_WEB_THREADS": str(threads)},
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.workers = workers
        self._wait_ready(logfile)

    def _wait_ready(self, logfile: Path) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"the server stopped:\n{logfile.read_text()[-3000:]}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", "/api/v1/categories")
                if conn.getresponse().status == 200 and len(self.worker_pids()) == self.workers:
                    conn.close()
                    return
                conn.close()
            except OSError:
                pass
            time.sleep(0.2)
        raise SystemExit("the server did not answer within 60 s")

    def worker_pids(self) -> list[int]:
        path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        try:
            return [int(p) for p in path.read_text().split()]
        except OSError:
            return []

    def cpu_seconds(self) -> float:
        """CPU time used so far by the workers (user + system)."""
        tick = os.sysconf("SC_CLK_TCK")
        total = 0
        for pid in self.worker_pids():
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        return total / tick

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


# -- clients --------------------------------------------------------------------------------


class Client:
    """One keep-alive connection."""

    def __init__(self, port: int, token: str | None = None) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.headers = {"Content-Type": "application/json"}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"

    def post(self, path: str, body: bytes, expect: int) -> dict[str, Any]:
        self.conn.request("POST", path, body=body, headers=self.headers)
        response = self.conn.getresponse()
        data = response.read()
        if response.status != expect:
            raise SystemExit(f"POST {path}: {response.status} {data[:500]!r}")
        if response.getheader("Connection", "").lower() == "close":
            raise SystemExit(f"POST {path}: the server closed the keep-alive connection")
        answer: dict[str, Any] = json.loads(data)
        return answer

    def submit(self) -> str:
        return str(self.post("/api/v1/tickets", TICKET, 201)["number"])

    def complete(self, task_id: int) -> None:
        self.post(f"/api/v1/tasks/{task_id}/complete", VERIFY, 200)

    def reconnect(self) -> None:
        """A new connection: the server drops one idle for 5 s (gunicorn's keepalive)."""
        self.conn.close()
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        self.conn.connect()

    def close(self) -> None:
        self.conn.close()


def verify_tasks(url: str, numbers: list[str]) -> list[int]:
    """The open ``verify`` task of each ticket, in the order given."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(Ticket.number, HumanTask.id)
                .join(HumanTask, HumanTask.ticket_id == Ticket.id)
                .where(
                    Ticket.number.in_(numbers),
                    HumanTask.element_id == "verify",
                    HumanTask.completed_at.is_(None),
                )
            ).all()
    finally:
        engine.dispose()
    by_number: dict[str, int] = dict(rows)
    return [by_number[n] for n in numbers]


def _submitter(port: int, n: int, barrier: Any, results: Any) -> None:
    client = Client(port)
    client.submit()  # the connection open and warm before the start
    barrier.wait()
    start = time.monotonic()
    for _ in range(n):
        client.submit()
    results.put((start, time.monotonic()))
    client.close()


def parallel_submissions(port: int, clients: int, per_client: int) -> float:
    """Submissions/s summed over ``clients`` processes, each with its own connection."""
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(clients)
    results = context.Queue()
    processes = [
        context.Process(target=_submitter, args=(port, per_client, barrier, results))
        for _ in range(clients)
    ]
    for p in processes:
        p.start()
    spans = [results.get(timeout=600) for _ in processes]
    for p in processes:
        p.join()
        if p.exitcode != 0:
            raise SystemExit("a client process failed")
    elapsed = max(end for _, end in spans) - min(start for start, _ in spans)
    return clients * per_client / elapsed


# -- timing ---------------------------------------------------------------------------------


def rate(n: int, fn: Any) -> float:
    """``n`` over the seconds ``fn`` takes (after a garbage collection, as bench/engine.py)."""
    gc.collect()
    start = time.perf_counter()
    fn()
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(
        description="LAKSA over HTTP (the production server) against the engine floor"
    )
    parser.add_argument("--n", type=int, default=600, help="requests of each kind per phase")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker")
    args = parser.parse_args()
    per_round = max(args.clients, args.n // args.rounds)
    per_client = per_round // args.clients
    bench_engine = load_bench_engine()

    with tempfile.TemporaryDirectory(prefix="laksa-bench-http-") as tmp, database(Path(tmp)) as url:
        home = Path(tmp) / "home"
        env = instance_env(home, url)
        log(f"setting up {url.split('?')[0]} ...")
        laksa(env, "init", "--demo")
        token = laksa(env, "tokens", "create", "verifikator").strip()
        floor = engine_floor(bench_engine, url)
        for _ in range(args.warmup):
            floor.complete(floor.intake())

        rounds: list[dict[str, float]] = []
        server = Server(env, 1, args.threads, Path(tmp) / "server.log")
        try:
            public, officer = Client(server.port), Client(server.port, token)
            warm = [public.submit() for _ in range(args.warmup)]
            for task_id in verify_tasks(url, warm):
                officer.complete(task_id)
            for r in range(args.rounds):
                result: dict[str, float] = {}

                def run_floor(result: dict[str, float] = result) -> None:
                    wall, cpu, states = bench_engine.timed_both(
                        lambda: [floor.intake() for _ in range(per_round)]
                    )
                    result["floor_intake"] = per_round / wall
                    result["floor_intake_cpu_ms"] = cpu * 1000 / per_round
                    wall, cpu, _ = bench_engine.timed_both(
                        lambda: [floor.complete(s) for s in states]
                    )
                    result["floor_complete"] = per_round / wall
                    result["floor_complete_cpu_ms"] = cpu * 1000 / per_round

                def run_http(result: dict[str, float] = result) -> None:
                    numbers: list[str] = []
                    public.reconnect()
                    cpu = server.cpu_seconds()
                    result["submit"] = rate(
                        per_round, lambda: numbers.extend(public.submit() for _ in range(per_round))
                    )
                    result["submit_cpu_ms"] = (server.cpu_seconds() - cpu) * 1000 / per_round
                    tasks = verify_tasks(url, numbers)
                    officer.reconnect()
                    cpu = server.cpu_seconds()
                    result["complete"] = rate(
                        per_round, lambda: [officer.complete(t) for t in tasks]
                    )
                    result["complete_cpu_ms"] = (server.cpu_seconds() - cpu) * 1000 / per_round

                for step in (run_floor, run_http) if r % 2 == 0 else (run_http, run_floor):
                    step()
                rounds.append(result)
                log(
                    f"round {r + 1} (1 worker, 1 client): submissions/s {result['submit']:.0f}"
                    f" (floor intakes/s {result['floor_intake']:.0f}),"
                    f" completions/s {result['complete']:.0f}"
                    f" (floor {result['floor_complete']:.0f})"
                )
            public.close()
            officer.close()
        finally:
            server.stop()

        server = Server(env, 2, args.threads, Path(tmp) / "server.log")
        try:
            parallel_submissions(server.port, args.clients, max(1, args.warmup // args.clients))
            for r in range(args.rounds):
                result = rounds[r]

                def run_floor4(result: dict[str, float] = result) -> None:
                    result["floor_intake_4x2"] = rate(
                        per_round, lambda: [floor.intake() for _ in range(per_round)]
                    )

                def run_http4(result: dict[str, float] = result) -> None:
                    result["submit_4x2"] = parallel_submissions(
                        server.port, args.clients, per_client
                    )

                for step in (run_floor4, run_http4) if r % 2 == 0 else (run_http4, run_floor4):
                    step()
                log(
                    f"round {r + 1} (2 workers, {args.clients} clients): submissions/s"
                    f" {result['submit_4x2']:.0f} (floor intakes/s"
                    f" {result['floor_intake_4x2']:.0f})"
                )
        finally:
            server.stop()

    def median(key: str) -> float:
        return round(statistics.median(r[key] for r in rounds), 1)

    def ratio(key: str, floor_key: str) -> float:
        return round(statistics.median(r[key] / r[floor_key] for r in rounds), 3)

    def cpu_ratio(server_key: str, floor_key: str) -> float:
        """The floor's CPU per operation over the server's per request (as a rate ratio)."""
        return round(statistics.median(r[floor_key] / r[server_key] for r in rounds), 3)

    out = {
        "backend": "postgresql" if url.startswith("postgresql") else "sqlite",
        "n_per_round": per_round,
        "rounds": args.rounds,
        "threads_per_worker": args.threads,
        "clients_4x2": args.clients,
        "cpus": os.cpu_count(),
        "load_average": round(os.getloadavg()[0], 2),
        "floor_intakes_per_s": median("floor_intake"),
        "floor_completions_per_s": median("floor_complete"),
        "http_submissions_per_s": median("submit"),
        "http_completions_per_s": median("complete"),
        "http_submissions_4x2_per_s": median("submit_4x2"),
        "server_cpu_ms_per_submission": median("submit_cpu_ms"),
        "server_cpu_ms_per_completion": median("complete_cpu_ms"),
        "http_submit_ratio": ratio("submit", "floor_intake"),
        "http_complete_ratio": ratio("complete", "floor_complete"),
        "http_submit_4x2_ratio": ratio("submit_4x2", "floor_intake_4x2"),
        "floor_cpu_ms_per_intake": round(
            statistics.median(r["floor_intake_cpu_ms"] for r in rounds), 3
        ),
        "floor_cpu_ms_per_completion": round(
            statistics.median(r["floor_complete_cpu_ms"] for r in rounds), 3
        ),
        "http_submit_ratio_cpu": cpu_ratio("submit_cpu_ms", "floor_intake_cpu_ms"),
        "http_complete_ratio_cpu": cpu_ratio("complete_cpu_ms", "floor_complete_cpu_ms"),
        "targets": {
            "http_submit_ratio": 0.3,
            "http_complete_ratio": 0.35,
            "http_submit_4x2_ratio": 0.6,
        },
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
