"""Faults the production server (gunicorn, ``laksa serve --production``) survives, on PostgreSQL.

- SIGKILLed (master and workers at once) in the middle of a burst of submissions from four
  keep-alive clients: after a restart every ticket that was answered 201 is there whole, every
  submission left without an answer is whole or absent, nothing is half-written, and the
  server takes the rest of the burst.
- Twenty officers completing one task at the same moment: one 200, nineteen 409 ``conflict``,
  the ticket moved once (tests/engine/test_commands.py has the same race between two sessions
  in-process; here it goes through HTTP, gunicorn's threads and PostgreSQL's row locks).

Skipped unless LAKSA_TEST_POSTGRES_URL is set; each test has a schema of its own.
"""

from __future__ import annotations

import json
import queue
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from engine import tally
from engine.db import Base
from engine.db import make_engine
from engine.db import make_session_factory
from engine.identity import create_token
from engine.media import media_store
from engine.models import Attachment
from engine.models import AuditEvent
from engine.models import HumanTask
from engine.models import OpenTaskCount
from engine.models import ProcessInstance
from engine.models import Ticket
from tests.conftest import NOW
from tests.conftest import add_users
from tests.engine.conftest import prepared_database
from tests.engine.test_sweeper_kill import laksa
from tests.web import server
from tests.web.pages import jpeg
from tests.web.test_api import ROAD

pytestmark = pytest.mark.postgres

TICKETS = "/api/v1/tickets"
BURST = 500
CLIENTS = 4
KILL_AFTER = 150  # answered submissions before the kill: part-way through the burst
PHOTO_EVERY = 10  # every tenth submission is multipart with a photo
BACKGROUND_TABLES = {"audit_anchor_head"}  # written by the sweeper, not by a submission
TIMEOUT = 30.0  # seconds a client waits for one answer


@dataclass(frozen=True)
class Database:
    url: str
    home: Path
    factory: sessionmaker[Session]
    tokens: dict[str, str]

    def env(self, **extra: str) -> dict[str, str]:
        # Rate limits stay on, raised above the burst (the limiter's memory is per worker).
        limit = {"LAKSA_SUBMIT_LIMIT": "100000 per minute"}
        return server.server_env(self.url, self.home, **{**limit, **extra})


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    """A fresh PostgreSQL schema with workflows/ deployed, the test users and a token each."""
    with prepared_database("postgres", tmp_path) as url:
        engine = make_engine(url)
        factory = make_session_factory(engine)
        with factory.begin() as session:
            add_users(session)
            tokens = {
                "verifikator": create_token(session, username="verifikator", name="t", now=NOW)
            }
        try:
            yield Database(url, tmp_path / "home", factory, tokens)
        finally:
            engine.dispose()


# -- the burst ------------------------------------------------------------------------------------


def title(run: str, index: int) -> str:
    return f"Jalan berlubang {run} #{index:03d}"


def submit(http: requests.Session, url: str, run: str, index: int) -> requests.Response:
    body = {**ROAD, "title": title(run, index)}
    if index % PHOTO_EVERY:
        return http.post(url + TICKETS, json=body, timeout=TIMEOUT)
    files = {"photos": ("lubang.jpg", jpeg((index % 250, 90, 60)), "image/jpeg")}
    return http.post(url + TICKETS, data={"ticket": json.dumps(body)}, files=files, timeout=TIMEOUT)


class Burst:
    """Submissions taken from one queue by ``CLIENTS`` threads, each with its own keep-alive
    connection. A client whose request gets no answer (the server died) records that and stops."""

    def __init__(self, run: str, indexes: range) -> None:
        self.run = run
        self.todo: queue.Queue[int] = queue.Queue()
        for index in indexes:
            self.todo.put(index)
        self.answers: dict[int, tuple[int, str | None]] = {}  # index: (status, number)
        self.unanswered: set[int] = set()
        self.lock = threading.Lock()

    def answered(self) -> int:
        with self.lock:
            return len(self.answers)

    def run_clients(self, url: str) -> list[threading.Thread]:
        threads = [threading.Thread(target=self._client, args=(url,)) for _ in range(CLIENTS)]
        for thread in threads:
            thread.start()
        return threads

    def _client(self, url: str) -> None:
        with requests.Session() as http:
            while True:
                try:
                    index = self.todo.get_nowait()
                except queue.Empty:
                    return
                try:
                    response = submit(http, url, self.run, index)
                except requests.RequestException:
                    with self.lock:
                        self.unanswered.add(index)
                    return
                number = response.json().get("number") if response.status_code == 201 else None
                with self.lock:
                    self.answers[index] = (response.status_code, number)


def join(threads: list[threading.Thread]) -> None:
    for thread in threads:
        thread.join(timeout=120)
        assert not thread.is_alive(), "a client hung"


def shapes(session: Session) -> dict[int, dict[str, int]]:
    """Per ticket id, how many rows each table holds for it (tables with a ticket_id or an
    instance_id column; an instance's rows count for its ticket). The daily audit anchor's
    heads are left out: the sweeper writes them for whichever tickets exist when it anchors,
    which no submission decides."""
    pairs = session.execute(select(ProcessInstance.id, ProcessInstance.ticket_id)).all()
    instance_ticket = dict(pairs)
    found: dict[int, Counter[str]] = {t: Counter() for t in session.scalars(select(Ticket.id))}
    for table in Base.metadata.sorted_tables:
        column = "ticket_id" if "ticket_id" in table.c else "instance_id"
        if column not in table.c or table.name in BACKGROUND_TABLES:
            continue
        rows = session.execute(
            select(table.c[column], func.count()).group_by(table.c[column])
        ).all()
        for key, count in rows:
            ticket = key if column == "ticket_id" else instance_ticket.get(key)
            assert ticket in found, f"{count} {table.name} row(s) of no ticket ({column} {key})"
            found[ticket][table.name] = count
    return {ticket: dict(counts) for ticket, counts in found.items()}


def assert_all_whole(db: Database, run: str) -> dict[str, int]:
    """Every ticket of the run is whole: the rows a submission writes, each as many times as in
    a ticket submitted undisturbed of the same kind (JSON or with a photo), waiting at
    verification with its verify task open; the kept counts agree with the tickets; every
    photo's bytes are in the media store; `laksa audit verify` passes. Returns title: ticket
    number."""
    with db.factory() as session:
        tickets = {t.id: t for t in session.scalars(select(Ticket))}
        by_shape = shapes(session)
        reference = {
            kind: by_shape[next(i for i, t in tickets.items() if t.title == title(run, index))]
            for kind, index in (("json", 1), ("photo", 0))
        }
        assert reference["photo"]["attachment"] == 1
        assert reference["json"]["human_task"] == reference["json"]["process_instance"] == 1
        for ticket_id, ticket in tickets.items():
            index = int(ticket.title.rsplit("#", 1)[1])
            kind = "json" if index % PHOTO_EVERY else "photo"
            assert by_shape[ticket_id] == reference[kind], (ticket.number, by_shape[ticket_id])
            assert ticket.status == "verification", ticket.number
        tasks = session.scalars(select(HumanTask)).all()
        assert {(t.element_id, t.completed_at) for t in tasks} == {("verify", None)}
        instances = session.scalars(select(ProcessInstance)).all()
        assert all(i.state and i.audit_seq > 0 and not i.completed for i in instances)
        open_counts = session.scalar(select(func.sum(OpenTaskCount.count)))
        assert open_counts == len(tasks) == len(tickets)
        assert tally.stored(session) == tally.recount(tickets.values())
        store = media_store(db.home)
        for photo in session.scalars(select(Attachment)):
            assert store.get(photo.sha256)
            assert store.get(photo.thumb_sha256)
            assert photo.linked_at is not None
        titles = {t.title: t.number for t in tickets.values()}
    assert_audit_verifies(db)
    return titles


def assert_audit_verifies(db: Database) -> None:
    verify = subprocess.run(
        [laksa(), "audit", "verify"], env=db.env(), capture_output=True, text=True, timeout=120
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "audit trail intact" in verify.stdout


def test_a_server_killed_mid_burst_leaves_each_ticket_whole_or_absent(database: Database):
    run = uuid.uuid4().hex[:8]
    live = server.start(database.env())
    try:
        with requests.Session() as http:  # the reference tickets, undisturbed
            for index in (0, 1):
                assert submit(http, live.url, run, index).status_code == 201
        burst = Burst(run, range(2, BURST))
        clients = burst.run_clients(live.url)
        deadline = time.monotonic() + 120
        while burst.answered() < KILL_AFTER:
            assert time.monotonic() < deadline, f"{burst.answered()} answers in 120 s"
            assert live.process.poll() is None, live.output()[-3000:]
            time.sleep(0.01)
        server.kill(live)
        join(clients)
        statuses = Counter(status for status, _ in burst.answers.values())
        assert set(statuses) == {201}, statuses
        assert burst.unanswered, "the kill caught no request in flight"
        left = burst.todo.qsize()
        assert left > 0, "the burst was over before the kill"

        # The restarted server (on the same port if still free) takes the rest of the burst.
        live = server.start(database.env(), port=live.port)
        join(burst.run_clients(live.url))
        assert burst.todo.empty()
        statuses = Counter(status for status, _ in burst.answers.values())
        assert set(statuses) == {201}, statuses
    finally:
        server.stop(live)

    answered = {title(run, i): n for i, (_, n) in burst.answers.items()}
    assert len(answered) + len(burst.unanswered) == BURST - 2
    stored = assert_all_whole(database, run)
    # Every 201 is there, under the number it was given; no unknown ticket.
    assert {t: stored.get(t) for t in answered} == answered
    unanswered = {title(run, i) for i in burst.unanswered}
    assert set(stored) - set(answered) <= unanswered | {title(run, 0), title(run, 1)}
    assert len(stored) == 2 + len(answered) + len(unanswered & set(stored))


# -- twenty officers, one task --------------------------------------------------------------------

OFFICERS = 20


def test_twenty_officers_completing_one_task_at_once_one_wins(database: Database):
    desk = {"Authorization": f"Bearer {database.tokens['verifikator']}"}
    with server.running(database.env(LAKSA_WEB_THREADS="10")) as live:
        with requests.Session() as http:
            created = http.post(live.url + TICKETS, json=ROAD, timeout=TIMEOUT)
            number = created.json()["number"]
            (task,) = [
                t
                for t in http.get(live.url + "/api/v1/tasks", headers=desk, timeout=TIMEOUT).json()
                if t["ticket"] == number
            ]
        path = f"{live.url}/api/v1/tasks/{task['id']}/complete"
        start = threading.Barrier(OFFICERS)
        answers: list[requests.Response] = []

        def complete(officer: int) -> None:
            body: dict[str, Any] = {"data": {"decision": "route"}}
            if officer % 2:  # half check the version they read, half complete whatever it is
                body["version"] = task["version"]
            with requests.Session() as http:
                http.get(live.url + "/", timeout=TIMEOUT)  # the connection is open before
                start.wait(timeout=60)
                answers.append(http.post(path, json=body, headers=desk, timeout=TIMEOUT))

        threads = [threading.Thread(target=complete, args=(i,)) for i in range(OFFICERS)]
        for thread in threads:
            thread.start()
        join(threads)

    assert sorted(a.status_code for a in answers) == [200] + [409] * (OFFICERS - 1)
    for refused in (a for a in answers if a.status_code == 409):
        error = refused.json()["error"]
        assert error["code"] == "conflict", error
    (won,) = [a.json() for a in answers if a.status_code == 200]
    assert won["status"] == "dispatched"
    with database.factory() as session:
        ticket = session.scalars(select(Ticket)).one()
        assert ticket.status == "dispatched"
        actions = Counter(
            session.scalars(
                select(AuditEvent.action)
                .join(ProcessInstance, ProcessInstance.id == AuditEvent.instance_id)
                .where(ProcessInstance.ticket_id == ticket.id)
            )
        )
        assert actions["task_completed"] == 1
        verify = session.get(HumanTask, task["id"])
        assert verify is not None
        assert verify.completed_by == "user:verifikator"
        open_tasks = session.scalars(
            select(HumanTask.element_id).where(HumanTask.completed_at.is_(None))
        ).all()
        assert open_tasks == ["acknowledge"]
    assert_audit_verifies(database)
