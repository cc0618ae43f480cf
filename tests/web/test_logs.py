"""Logging: JSON lines with the request id in production, readable lines in development, no
personal data, and the outbox's log channel writing its line."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from engine import outbox
from engine.notify import LogSender
from tests.conftest import NOW
from tests.web.test_api import ROAD
from web import logs
from web.cli import main

REPORTER = {"name": "Siti Rahmawati", "contact": "siti.rahma@example.org"}
PHONE = "+62 812 3456 7890"


@pytest.fixture
def configured() -> Iterator[Any]:
    """Run a test with ``logs.configure``; the root logger as it was afterwards."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    quiet = {name: logging.getLogger(name).level for name in logs.QUIET}
    yield logs.configure
    for handler in [h for h in root.handlers if h not in handlers]:
        root.removeHandler(handler)
    root.setLevel(level)
    for name, was in quiet.items():
        logging.getLogger(name).setLevel(was)


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_a_request_logs_one_json_line_with_its_id_and_no_personal_data(
    app: Flask, configured: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    configured("json", env={})
    client = app.test_client()
    secret_query = "/lacak?nomor=LK-ABC&token=hunter2"
    client.get(secret_query)
    capsys.readouterr()
    answer = client.post("/api/v1/tickets", json={**ROAD, "reporter": REPORTER})
    assert answer.status_code == 201
    by_phone = {**ROAD, "reporter": {"name": "Agus", "contact": PHONE}}
    assert client.post("/api/v1/tickets", json=by_phone).status_code == 201
    secret = answer.get_json()["reporter_secret"]
    client.get(f"/laporan/{answer.get_json()['number']}/k/{secret}")
    client.get(secret_query)
    err = capsys.readouterr().err
    lines = json_lines(err)
    request_id = answer.headers["X-Request-Id"]
    (posted,) = [
        line
        for line in lines
        if line.get("request_id") == request_id and line["logger"] == "laksa.request"
    ]
    assert posted["endpoint"] == "tickets.Tickets"
    assert posted["method"] == "POST"
    assert posted["status"] == 201
    assert posted["logger"] == "laksa.request"
    assert posted["level"] == "INFO"
    assert isinstance(posted["duration_ms"], float)
    assert "time" in posted
    assert all(set(line) >= {"time", "level", "logger", "message"} for line in lines)
    personal = (REPORTER["name"], "Siti", REPORTER["contact"], "example.org", "Agus", "812")
    for word in (*personal, "127.0.0.1", "hunter2", "LK-ABC", secret):
        assert word not in err
    assert any(line.get("endpoint") == "reporter.ticket" for line in lines)


def test_development_lines_are_readable(
    app: Flask, configured: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    configured("text", env={})
    app.test_client().get("/", headers={"X-Request-Id": "req-7"})
    err = capsys.readouterr().err
    (line,) = [line for line in err.splitlines() if "laksa.request" in line]
    assert "[req-7]" in line
    assert "GET public.home 200" in line
    assert " ms)" in line
    assert not line.startswith("{")


def test_the_environment_overrides_format_and_level(configured: Any) -> None:
    assert configured("text", env={"LAKSA_LOG_FORMAT": "JSON"}) == "json"
    configured("json", env={"LAKSA_LOG_LEVEL": "warning"})
    assert logging.getLogger().level == logging.WARNING
    with pytest.raises(ValueError, match="LAKSA_LOG_FORMAT"):
        configured("json", env={"LAKSA_LOG_FORMAT": "xml"})
    with pytest.raises(ValueError, match="LAKSA_LOG_LEVEL"):
        configured("json", env={"LAKSA_LOG_LEVEL": "loud"})


def test_configuring_twice_keeps_one_handler(configured: Any) -> None:
    configured("json", env={})
    configured("text", env={})
    ours = [h for h in logging.getLogger().handlers if getattr(h, "laksa", False)]
    assert len(ours) == 1


def test_the_outbox_log_channel_writes_its_line(
    session_factory: sessionmaker[Session], configured: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.factories import submit_with_secret

    configured("json", env={})
    number, _ = submit_with_secret(session_factory)
    capsys.readouterr()
    result = outbox.deliver_due(session_factory, now=NOW + timedelta(minutes=1), sender=LogSender())
    assert result.delivered >= 1
    notes = [
        line for line in json_lines(capsys.readouterr().err) if line["logger"] == "engine.notify"
    ]
    assert notes
    assert all(number in line["message"] for line in notes)
    assert all(line["level"] == "INFO" for line in notes)


def test_the_cli_configures_logging_and_a_wrong_format_is_one_line(
    tmp_path: Any, configured: Any
) -> None:
    env = {"LAKSA_HOME": str(tmp_path), "LAKSA_LOG_FORMAT": "xml", "LAKSA_REDIS_URL": ""}
    result = CliRunner().invoke(main, ["holidays", "list"], env=env)
    assert result.exit_code == 1
    assert "LAKSA_LOG_FORMAT must be json or text" in result.output
