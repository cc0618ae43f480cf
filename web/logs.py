"""Logging for every process: JSON lines in production, readable lines in development.

``configure`` puts one handler on the root logger, writing to stderr. JSON lines carry
``time``, ``level``, ``logger``, ``message``, the request's ``request_id`` when there is one,
and the request log's ``method``, ``endpoint``, ``status`` and ``duration_ms``. The format is
``json`` for ``laksa serve --production``, ``laksa sweeper`` and ``laksa worker``, ``text``
otherwise; ``LAKSA_LOG_FORMAT`` (json or text) and ``LAKSA_LOG_LEVEL`` (default INFO) override.

No personal data: requests are logged by their endpoint (never the URL: a reporter's private
link carries its secret in the path, and queries may too), without the client's address;
Werkzeug's own request lines (address, full URL) are turned off. Loggers in engine/ name
tickets by number and people by username, never a reporter's name or contact.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Mapping
from datetime import UTC
from datetime import datetime
from typing import Any

from flask import g
from flask import has_request_context

FORMATS = ("json", "text")
LEVEL_ENV = "LAKSA_LOG_LEVEL"
FORMAT_ENV = "LAKSA_LOG_FORMAT"
REQUEST_FIELDS = ("method", "endpoint", "status", "duration_ms")
# Loggers whose own lines would repeat ours or name addresses and URLs (werkzeug), or say
# every task state change of every ticket (SpiffWorkflow), unless the level asks for more.
QUIET = {"werkzeug": logging.WARNING, "spiff": logging.WARNING}


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is when a record comes (a test's capture, a CLI
    runner's), never to a stream that was replaced and closed since."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


class RequestIdFilter(logging.Filter):
    """Adds the current request's id (``request_id``, None outside a request) to each record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = g.get("request_id") if has_request_context() else None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None)
        if request_id:
            line["request_id"] = request_id
        for name in REQUEST_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """``time level logger [request id] message (duration)`` for a developer's terminal."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s%(rid)s %(message)s%(took)s")

    def format(self, record: logging.LogRecord) -> str:
        request_id = getattr(record, "request_id", None)
        record.rid = f" [{request_id}]" if request_id else ""
        duration = getattr(record, "duration_ms", None)
        record.took = f" ({duration} ms)" if duration is not None else ""
        return super().format(record)


def settings_from_env(default_format: str, env: Mapping[str, str] | None = None) -> tuple[str, int]:
    """The format and level to use; ValueError naming the variable when one is wrong."""
    env = os.environ if env is None else env
    chosen = (env.get(FORMAT_ENV) or default_format).strip().lower()
    if chosen not in FORMATS:
        raise ValueError(f"{FORMAT_ENV} must be json or text, not {chosen!r}")
    name = (env.get(LEVEL_ENV) or "INFO").strip().upper()
    level = logging.getLevelNamesMapping().get(name)
    if level is None:
        raise ValueError(f"{LEVEL_ENV} must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
    return chosen, level


def configure(default_format: str = "text", env: Mapping[str, str] | None = None) -> str:
    """Send every logger's records to stderr in the chosen format; returns the format.

    Idempotent: a second call replaces the handler the first one installed.
    """
    chosen, level = settings_from_env(default_format, env)
    handler = StderrHandler()
    handler.setFormatter(JsonFormatter() if chosen == "json" else TextFormatter())
    handler.addFilter(RequestIdFilter())
    handler.laksa = True  # type: ignore[attr-defined]
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "laksa", False)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name, quiet in QUIET.items():
        logging.getLogger(name).setLevel(max(quiet, level))
    return chosen
