"""`laksa serve --production` as operators run it: a real gunicorn with two workers and the
sweeper beside them, asked over HTTP. Metrics come from every worker (the multiprocess
folder), the sweeper delivers the outbox (its log line, in JSON, names no reporter), and a
sweeper that dies is started again."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.web.test_api import ROAD
from tests.web.test_ops import sample

REPORTER = {"name": "Dewi Lestari", "contact": "dewi.lestari@example.org"}
LAKSA = [sys.executable, "-m", "web.cli"]


@dataclass
class Server:
    url: str
    home: Path
    process: subprocess.Popen[str]
    log: Path

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=10) as answer:
                return answer.status, answer.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def post(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        request = urllib.request.Request(
            self.url + path,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read())

    def lines(self) -> list[dict[str, Any]]:
        text = self.log.read_text()
        return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _until(what: Any, seconds: float = 60.0) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        got = what()
        if got:
            return got
        time.sleep(0.2)
    raise AssertionError(f"not within {seconds} s")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    home = tmp_path / "home"
    env = {
        **os.environ,
        "LAKSA_HOME": str(home),
        "LAKSA_DATABASE_URL": "",
        "LAKSA_REDIS_URL": "",
        "LAKSA_WEB_WORKERS": "2",
        "LAKSA_WEB_THREADS": "2",
        "LAKSA_TIMER_INTERVAL": "1",
        "LAKSA_SUBMIT_LIMIT": "100 per minute",
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    subprocess.run(
        [*LAKSA, "init", "--demo"], env=env, check=True, capture_output=True, timeout=120
    )
    port = _free_port()
    log = tmp_path / "server.log"
    with log.open("w") as err:
        process = subprocess.Popen(
            [*LAKSA, "serve", "--production", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err,
            text=True,
        )
    live = Server(f"http://127.0.0.1:{port}", home, process, log)
    try:
        _until(lambda: _answers(live))
        yield live
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def _answers(server: Server) -> bool:
    try:
        return server.get("/healthz")[0] == 200
    except OSError:
        return False


def test_production_server_counts_every_worker_and_sweeps_once(server: Server) -> None:
    assert server.get("/readyz")[0] == 200
    numbers = []
    for _ in range(6):
        status, body = server.post("/api/v1/tickets", {**ROAD, "reporter": REPORTER})
        assert status == 201
        numbers.append(body["number"])
    # The sweeper delivers every reporter's private-link message: the backlog drains.
    text = _until(lambda: _drained(server))
    assert sample(text, "laksa_tickets", status="verification") == 6
    assert sample(text, "laksa_open_tasks", group="verifier") == 6
    posted = {"endpoint": "tickets.Tickets", "method": "POST", "status": "2xx"}
    assert sample(text, "laksa_http_request_duration_seconds_count", **posted) == 6
    assert sample(text, "laksa_outbox_failed") == 0
    assert sample(text, "laksa_sweep_lag_seconds") == 0
    assert sample(text, "laksa_timer_lateness_seconds_count") is not None
    # Each process wrote its own file into the folder the server made and emptied.
    files = list((server.home / "metrics").glob("histogram_*.db"))
    assert len(files) >= 2, files
    # Two workers answered; the requests spread over them shows in the files.
    lines = server.lines()
    workers = {m.group(1) for m in _booted(lines)}
    assert len(workers) == 2
    notes = _notes(server)
    assert {n for n in numbers if any(n in line["message"] for line in notes)} == set(numbers)
    requests = [line for line in lines if line["logger"] == "laksa.request"]
    assert all(line["request_id"] for line in requests)
    log = server.log.read_text()
    assert REPORTER["contact"] not in log
    assert REPORTER["name"] not in log


def _drained(server: Server) -> str | None:
    status, text = server.get("/metrics")
    assert status == 200
    if sample(text, "laksa_outbox_backlog") == 0 and "notify" in server.log.read_text():
        return text
    return None


def _booted(lines: list[dict[str, Any]]) -> Iterator[re.Match[str]]:
    for line in lines:
        m = re.fullmatch(r"Booting worker with pid: (\d+)", line["message"])
        if m:
            yield m


def _sweepers(server: Server) -> list[int]:
    """The pids of the sweepers the server started, in order."""
    found = [
        re.search(r"sweeper started \(pid (\d+)\)", line["message"]) for line in server.lines()
    ]
    return [int(m.group(1)) for m in found if m]


def test_a_sweeper_that_dies_is_started_again_and_goes_with_the_server(server: Server) -> None:
    (first,) = _until(lambda: _sweepers(server))
    os.kill(first, signal.SIGKILL)
    (_, second) = _until(lambda: _sweepers(server)[1:] and _sweepers(server), seconds=60)
    # The new one sweeps: a ticket's message is delivered.
    status, body = server.post("/api/v1/tickets", {**ROAD, "reporter": REPORTER})
    assert status == 201
    _until(lambda: any(body["number"] in line["message"] for line in _notes(server)))
    # The server killed outright (no hook of gunicorn's runs): the sweeper stops by itself.
    server.process.kill()
    server.process.wait(timeout=10)
    assert _until(lambda: _gone(second), seconds=20)


def _notes(server: Server) -> list[dict[str, Any]]:
    return [line for line in server.lines() if line["logger"] == "engine.notify"]


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:  # a zombie waits for a parent that is gone too: it has stopped
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except OSError:
        return True
