"""PostgreSQL faults through the app: the server gone (a proxy in front of the shared server is
cut) and the database read-only (a database of the test's own, set read-only). Answers are 503
with Retry-After within 5 s, reads go on where the database can serve them, and the app
recovers by itself, with no ticket lost or half-written."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from engine.db import make_engine
from engine.db import make_session_factory
from engine.identity import create_token
from tests.conftest import NOW
from tests.conftest import add_users
from tests.engine.conftest import postgres_url  # noqa: F401 (a fixture)
from tests.engine.conftest import prepare_database
from tests.engine.conftest import prepared_database
from tests.faults import TcpProxy
from tests.faults import assert_fault
from tests.faults import assert_whole
from tests.faults import timed
from tests.faults import web_app
from tests.web.test_api import ROAD
from tests.web.test_api import bearer
from tests.web.test_api import report

pytestmark = pytest.mark.postgres
TICKETS = "/api/v1/tickets"


@pytest.fixture
def schema_url(tmp_path: Path) -> Iterator[str]:
    with prepared_database("postgres", tmp_path) as url:
        yield url


def test_postgres_gone_answers_503_in_seconds_and_all_works_again_when_it_is_back(
    schema_url, tmp_path
):
    url = sa.make_url(schema_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    through = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    app, engine = web_app(through, tmp_path)
    number = report(app.test_client())
    answers: list[tuple[float, int, float, str]] = []  # started, status, seconds, number
    stop = threading.Event()

    def submit_until_stopped() -> None:
        client = app.test_client()
        while not stop.is_set():
            started = time.monotonic()
            response, took = timed(lambda: client.post(TICKETS, json=ROAD))
            body = response.get_json() or {}
            if response.status_code == 503:
                assert_fault(response, "unavailable")
            answers.append((started, response.status_code, took, body.get("number", "")))

    clients = [threading.Thread(target=submit_until_stopped) for _ in range(4)]
    try:
        for thread in clients:
            thread.start()
        time.sleep(1)
        cut_at = time.monotonic()
        proxy.cut()
        time.sleep(1)
        client = app.test_client()
        read, read_took = timed(lambda: client.get(f"{TICKETS}/{number}"))
        open311, _ = timed(lambda: client.get("/open311/v2/requests.json"))
        page, _ = timed(lambda: client.get("/statistik"))
        time.sleep(1)
        proxy.restore()
        back_at = time.monotonic()
        time.sleep(2)
    finally:
        stop.set()
        for thread in clients:
            thread.join(timeout=30)
        proxy.cut()
        engine.dispose()

    assert_fault(read, "unavailable")
    assert read_took < 5
    assert open311.status_code == 503
    assert open311.headers["Retry-After"]
    assert [e["code"] for e in open311.get_json()] == [503]
    assert page.status_code == 503
    assert page.headers["Retry-After"]
    assert "Traceback" not in page.get_data(as_text=True)
    assert {status for _, status, _, _ in answers} <= {201, 503}
    during = [a for a in answers if cut_at <= a[0] < back_at]
    assert during
    # Begun and ended while the server was gone: refused, each in its own request.
    assert all(status == 503 for s, status, took, _ in during if s > cut_at and s + took < back_at)
    assert max(took for _, _, took, _ in answers) < 5
    after = [status for started, status, _, _ in answers if started >= back_at]
    assert after
    assert set(after) == {201}  # the first request after the fault already works
    answered = {n for _, status, _, n in answers if status == 201} | {number}
    direct = make_engine(schema_url)
    try:
        assert assert_whole(make_session_factory(direct), answered) >= len(answered)
    finally:
        direct.dispose()


@pytest.fixture
def own_database(postgres_url: str) -> Iterator[tuple[str, sa.Engine, str]]:  # noqa: F811
    """A database of the test's own (its settings change; the shared server's do not)."""
    base = postgres_url
    name = f"laksa_fault_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        url = sa.make_url(base).set(database=name).render_as_string(hide_password=False)
        prepare_database(url)
        yield url, admin, name
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def _read_only(admin: sa.Engine, name: str, on: bool) -> None:
    with admin.connect() as connection:
        setting = "on" if on else "off"
        connection.exec_driver_sql(
            f'ALTER DATABASE "{name}" SET default_transaction_read_only = {setting}'
        )


def test_a_read_only_postgres_refuses_writes_with_503_serves_reads_and_recovers(
    own_database, tmp_path
):
    url, admin, name = own_database
    app, engine = web_app(url, tmp_path)
    with make_session_factory(engine).begin() as session:
        add_users(session, {"verifikator": ("verifier", ["verifier"])})
        token = create_token(session, username="verifikator", name="test", now=NOW)
    client = app.test_client()
    number = report(client)
    try:
        _read_only(admin, name, on=True)
        with admin.connect() as connection:  # the server comes back read-only (a standby)
            connection.exec_driver_sql(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                f"WHERE datname = '{name}' AND pid <> pg_backend_pid()"
            )
        write, write_took = timed(lambda: client.post(TICKETS, json=ROAD))
        read = client.get(f"{TICKETS}/{number}")
        # A token's first use records when it was used: that write is let go, the read goes on.
        inbox = client.get("/api/v1/tasks", headers=bearer(token))
        _read_only(admin, name, on=False)
        back_at = time.monotonic()
        first = client.post(TICKETS, json=ROAD)
        while first.status_code != 201 and time.monotonic() - back_at < 5:
            time.sleep(0.1)
            first = client.post(TICKETS, json=ROAD)
        recovered = time.monotonic() - back_at
        more = [client.post(TICKETS, json=ROAD).status_code for _ in range(10)]
    finally:
        _read_only(admin, name, on=False)
        engine.dispose()
    assert_fault(write, "read_only")
    assert write_took < 5
    assert read.status_code == 200
    assert inbox.status_code == 200
    assert number in [t["ticket"] for t in inbox.get_json()]
    assert first.status_code == 201
    assert recovered < 3
    assert more == [201] * 10
