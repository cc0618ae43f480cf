"""/healthz, /readyz and /metrics in the app: answers, dead dependencies, who may read metrics."""

from __future__ import annotations

import gc
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from engine import metrics
from engine.settings import Settings
from tests.conftest import WORKFLOWS
from tests.web.backends import Backend
from tests.web.test_api import ROAD


def _app(
    tmp_path: Path, database_url: str, redis_url: str | None = None, **config: object
) -> Flask:
    from web.app import create_app

    settings = Settings(
        home=tmp_path,
        database_url=database_url,
        redis_url=redis_url,
        secret_key="test-secret",
        workflows_dir=WORKFLOWS,
    )
    return create_app({"SETTINGS": settings, "TESTING": True, "RATELIMIT_ENABLED": False, **config})


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def silent_server() -> Iterator[socket.socket]:
    """A port that accepts connections and never says a word (a hung database host)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(64)
        yield s


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample in Prometheus's text format, None if it is not there."""
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        m = re.fullmatch(r"([a-z_:]+)(?:\{(.*)\})? (\S+)", line)
        if not m or m.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
        if found == labels:
            return float(m.group(3))
    return None


def test_healthz_answers_without_a_cookie_and_echoes_a_request_id(client: FlaskClient) -> None:
    answer = client.get("/healthz", headers={"X-Request-Id": "lb-probe-42"})
    assert answer.status_code == 200
    assert answer.get_json() == {"status": "ok"}
    assert answer.headers["X-Request-Id"] == "lb-probe-42"
    assert "Set-Cookie" not in answer.headers
    assert answer.headers["Cache-Control"] == "no-store"


def test_an_insane_request_id_is_replaced_by_a_new_one(client: FlaskClient) -> None:
    answer = client.get("/healthz", headers={"X-Request-Id": "x" * 65})
    given = answer.headers["X-Request-Id"]
    assert re.fullmatch(r"[0-9a-f]{32}", given)
    assert client.get("/healthz").headers["X-Request-Id"] != given


def test_healthz_needs_no_database(tmp_path: Path) -> None:
    app = _app(tmp_path, f"sqlite:///{tmp_path}/missing/dir/laksa.db")
    assert app.test_client().get("/healthz").status_code == 200


def test_readyz_says_ready_with_each_check(backend: Backend) -> None:
    answer = backend.client().get("/readyz")
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["status"] == "ready"
    assert body["checks"]["database"]["status"] == "ok"
    assert "Set-Cookie" not in answer.headers


def _not_ready(app: Flask) -> tuple[dict, float, dict]:
    started = time.monotonic()
    answer = app.test_client().get("/readyz")
    took = time.monotonic() - started
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "5"
    return answer.get_json(), took, dict(answer.headers)


def test_a_sqlite_database_that_cannot_open_is_not_ready(tmp_path: Path) -> None:
    body, took, _ = _not_ready(_app(tmp_path, f"sqlite:///{tmp_path}/missing/dir/laksa.db"))
    assert took < 5
    assert body["error"]["code"] == "not_ready"
    assert body["error"]["fields"] == {"database": "OperationalError"}
    assert body["checks"]["database"]["status"] == "failing"


def test_a_postgresql_on_a_closed_port_is_not_ready_at_once(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://laksa@127.0.0.1:{_free_port()}/laksa"
    body, took, _ = _not_ready(_app(tmp_path, url))
    assert took < 5
    assert set(body["error"]["fields"]) == {"database"}
    assert "127.0.0.1" not in str(body)  # hosts and ports go to the log, not to the public


# The probe left waiting gives up when the server goes; its driver then warns of a connection
# object dropped half-made, which is the point of this test.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_a_database_that_never_answers_is_not_ready_within_five_seconds(
    tmp_path: Path, silent_server: socket.socket
) -> None:
    url = f"postgresql+psycopg://laksa@127.0.0.1:{silent_server.getsockname()[1]}/laksa"
    body, took, _ = _not_ready(_app(tmp_path, url))
    assert took < 5
    assert body["error"]["fields"] == {"database": "no answer within 2 s"}
    silent_server.close()
    time.sleep(0.5)
    gc.collect()


def test_an_unreachable_redis_is_not_ready(tmp_path: Path, backend: Backend) -> None:
    redis = f"redis://127.0.0.1:{_free_port()}/0"
    app = _app(tmp_path, backend.url, redis, DB_ENGINE=backend.factory.kw["bind"])
    body, took, _ = _not_ready(app)
    assert took < 5
    assert set(body["error"]["fields"]) == {"redis"}
    assert body["checks"]["database"]["status"] == "ok"


def test_metrics_change_when_a_ticket_is_submitted(backend: Backend, monkeypatch) -> None:
    monkeypatch.setattr(metrics, "STATUS_TTL", 0.0)  # counted afresh at each scrape
    client = backend.client()
    before = client.get("/metrics").get_data(as_text=True)
    answer = client.post("/api/v1/tickets", json=ROAD)
    assert answer.status_code == 201
    after = client.get("/metrics")
    assert after.status_code == 200
    assert after.mimetype == "text/plain"
    text = after.get_data(as_text=True)
    assert sample(before, "laksa_tickets", status="verification") == 0
    assert sample(text, "laksa_tickets", status="verification") == 1
    assert sample(text, "laksa_open_tasks", group="verifier") == 1
    assert sample(text, "laksa_database_up") == 1
    posted = {"endpoint": "tickets.Tickets", "method": "POST", "status": "2xx"}
    was = sample(before, "laksa_http_request_duration_seconds_count", **posted) or 0
    assert sample(text, "laksa_http_request_duration_seconds_count", **posted) == was + 1
    for name in (
        "laksa_timers_due",
        "laksa_timers_overdue",
        "laksa_sweep_lag_seconds",
        "laksa_outbox_backlog",
        "laksa_outbox_failed",
        "laksa_incidents_open",
        "laksa_timer_lateness_seconds_count",
    ):
        assert sample(text, name) is not None, name


def test_open_tickets_by_status_are_counted_at_most_once_a_minute(backend: Backend) -> None:
    client = backend.client()
    first = client.get("/metrics").get_data(as_text=True)
    assert client.post("/api/v1/tickets", json=ROAD).status_code == 201
    second = client.get("/metrics").get_data(as_text=True)
    assert sample(first, "laksa_tickets", status="verification") == 0
    assert sample(second, "laksa_tickets", status="verification") == 0  # a minute not yet gone
    assert sample(second, "laksa_open_tasks", group="verifier") == 1  # the others are read anew


def test_metrics_name_endpoints_never_paths(client: FlaskClient) -> None:
    for n in range(3):
        client.get(f"/no/such/page/{n}")
    text = client.get("/metrics").get_data(as_text=True)
    assert "/no/such" not in text
    assert sample(
        text,
        "laksa_http_request_duration_seconds_count",
        endpoint="unmatched",
        method="GET",
        status="4xx",
    )


def test_metrics_say_the_database_is_down_and_still_answer(tmp_path: Path) -> None:
    app = _app(tmp_path, f"sqlite:///{tmp_path}/missing/dir/laksa.db")
    answer = app.test_client().get("/metrics")
    assert answer.status_code == 200
    text = answer.get_data(as_text=True)
    assert sample(text, "laksa_database_up") == 0
    assert sample(text, "laksa_tickets") is None


def test_metrics_are_refused_from_elsewhere_and_through_a_proxy(client: FlaskClient) -> None:
    away = client.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert away.status_code == 403
    assert away.get_json()["error"]["code"] == "forbidden"
    relayed = client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
    assert relayed.status_code == 403
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "::1"}).status_code == 200


def test_with_a_token_metrics_need_it_from_anywhere(app: Flask) -> None:
    app.config["LAKSA_METRICS_TOKEN"] = "s3cret-token"
    client = app.test_client()
    assert client.get("/metrics").status_code == 401
    wrong = client.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert wrong.headers["WWW-Authenticate"].startswith("Bearer")
    right = client.get(
        "/metrics",
        headers={"Authorization": "Bearer s3cret-token"},
        environ_base={"REMOTE_ADDR": "203.0.113.9"},
    )
    assert right.status_code == 200
    assert "laksa_database_up" in right.get_data(as_text=True)


def test_health_endpoints_are_not_rate_limited(limited: Flask) -> None:
    client = limited.test_client()
    key = {"Authorization": "Bearer lp_" + "x" * 40}  # a partner key's bucket, limited per key
    limited.config["LAKSA_PARTNER_LIMIT"] = "2 per minute"
    answers = [client.get("/healthz", headers=key).status_code for _ in range(5)]
    assert answers == [200] * 5


def test_readiness_and_metrics_read_while_a_writer_holds_sqlite(
    app: Flask, settings: Settings
) -> None:
    import sqlite3

    writer = sqlite3.connect(settings.database_url.removeprefix("sqlite:///"), isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # the write lock, held
    try:
        client = app.test_client()
        started = time.monotonic()
        assert client.get("/readyz").status_code == 200
        assert sample(client.get("/metrics").get_data(as_text=True), "laksa_database_up") == 1
        assert time.monotonic() - started < 2
    finally:
        writer.rollback()
        writer.close()
