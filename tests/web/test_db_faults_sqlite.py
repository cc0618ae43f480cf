"""SQLite faults through the app: a lock held by another writer, a file made read-only, a full
database. Writes answer 503 with Retry-After within 5 s, reads go on, and the app recovers by
itself when the fault is gone."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy import event
from sqlalchemy import select

from engine import commands
from engine.db import make_session_factory
from engine.models import IdempotencyKey
from tests.engine.conftest import prepared_database
from tests.faults import assert_fault
from tests.faults import assert_whole
from tests.faults import can_protect_files
from tests.faults import sqlite_read_only
from tests.faults import sqlite_write_lock
from tests.faults import timed
from tests.faults import web_app
from tests.web.pages import FORM
from tests.web.pages import csrf
from tests.web.pages import multipart
from tests.web.test_api import ROAD
from tests.web.test_api import report

TICKETS = "/api/v1/tickets"


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[Flask, sa.Engine, Path]]:
    with prepared_database("sqlite", tmp_path) as url:
        app, engine = web_app(url, tmp_path)
        yield app, engine, Path(url.removeprefix("sqlite:///"))
        engine.dispose()


def test_a_write_behind_another_writer_answers_503_busy_in_seconds_while_reads_go_on(site):
    app, engine, path = site
    client = app.test_client()
    number = report(client)
    token = csrf(client, "/lapor")
    with sqlite_write_lock(path):
        api, api_took = timed(lambda: client.post(TICKETS, json=ROAD))
        page, page_took = timed(
            lambda: client.post("/lapor", **multipart({"csrf_token": token, **FORM}))
        )
        ticket, read_took = timed(lambda: client.get(f"{TICKETS}/{number}"))
        home = client.get("/")
    assert_fault(api, "busy")
    assert api_took < 5
    assert page.status_code == 503
    assert page.headers["Retry-After"]
    text = page.get_data(as_text=True)
    assert "Kiriman Anda belum tersimpan" in text
    assert "Traceback" not in text
    assert page_took < 5
    assert ticket.status_code == 200  # reads take no write lock
    assert read_took < 1
    assert home.status_code == 200
    # The lock is gone: the same write works, and nothing half-done was left.
    assert client.post(TICKETS, json=ROAD).status_code == 201
    assert assert_whole(make_session_factory(engine), {number}) == 2


def test_a_database_file_made_read_only_then_writable_takes_every_submission_at_once(
    site, tmp_path
):
    if not can_protect_files(tmp_path):
        pytest.skip("cannot write-protect a file here (root without chattr)")
    app, engine, path = site
    number = report(app.test_client())

    def submit(_: Any) -> tuple[int, float, str]:
        response, took = timed(lambda: app.test_client().post(TICKETS, json=ROAD))
        return response.status_code, took, (response.get_json() or {}).get("number", "")

    with sqlite_read_only(path), ThreadPoolExecutor(8) as pool:
        # Eight at once, so the pool opens connections while the file is read-only (SQLite
        # opens them read-only, and they stayed so: the fault this test is about).
        during = list(pool.map(submit, range(24)))
        read = app.test_client().get(f"{TICKETS}/{number}")
    assert {status for status, _, _ in during} == {503}
    assert max(took for _, took, _ in during) < 5
    assert read.status_code == 200

    started = time.monotonic()
    with ThreadPoolExecutor(4) as pool:
        after = list(pool.map(submit, range(200)))
    took = time.monotonic() - started
    assert [status for status, _, _ in after] == [201] * 200, f"in {took:.1f} s"
    numbers = {n for _, _, n in after} | {number}
    assert assert_whole(make_session_factory(engine), numbers) == 201


def test_a_full_database_answers_503_full_and_reads_go_on(site):
    app, engine, _ = site
    client = app.test_client()
    number = report(client)

    @event.listens_for(engine, "connect")
    def no_more_pages(dbapi_conn: Any, _record: Any) -> None:
        pages = dbapi_conn.execute("PRAGMA page_count").fetchone()[0]
        dbapi_conn.execute(f"PRAGMA max_page_count = {pages}")

    engine.dispose()  # connections from now on see a database that cannot grow
    # Each report needs pages; the first few fit in the free ones left, then none do.
    many = [client.post(TICKETS, json=ROAD) for _ in range(30)]
    statuses = {r.status_code for r in many}
    assert 503 in statuses
    assert statuses <= {201, 503}
    assert_fault(next(r for r in many if r.status_code == 503), "full")
    assert client.get(f"{TICKETS}/{number}").status_code == 200


def test_a_keys_claim_that_a_fault_kept_is_given_back_when_the_database_is_back(site, monkeypatch):
    app, engine, path = site
    client = app.test_client()
    headers = {"Idempotency-Key": str(uuid.uuid4())}
    faults = contextlib.ExitStack()
    submit = commands.submit_ticket

    def submit_while_locked(*args: Any, **kwargs: Any) -> Any:
        # The key is claimed and committed; now another writer takes the lock, so the work
        # and then giving the key back both fail busy.
        faults.enter_context(sqlite_write_lock(path))
        return submit(*args, **kwargs)

    monkeypatch.setattr(commands, "submit_ticket", submit_while_locked)
    with faults:
        failed, took = timed(lambda: client.post(TICKETS, json=ROAD, headers=headers))
        assert_fault(failed, "busy")
        assert took < 10  # the work waited its 3 s, and giving the key back 3 s more
    monkeypatch.setattr(commands, "submit_ticket", submit)
    factory = make_session_factory(engine)
    deadline = time.monotonic() + 5  # the key is given back in the background
    while time.monotonic() < deadline:
        with factory() as session:
            if session.scalar(select(IdempotencyKey.id)) is None:
                break
        time.sleep(0.2)
    else:
        pytest.fail("the key's claim was not given back")
    again = client.post(TICKETS, json=ROAD, headers=headers)
    assert again.status_code == 201
    assert client.post(TICKETS, json=ROAD, headers=headers).headers["Idempotent-Replayed"] == "true"
    assert assert_whole(factory, {again.get_json()["number"]}) == 1
