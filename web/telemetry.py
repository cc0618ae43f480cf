"""Every request: an id, a latency observation and one log line, all by endpoint, never by URL.

The id is the caller's ``X-Request-Id`` when it is sane (1 to 64 letters, digits and
``-_.:``), else a new random one; it is echoed in the answer's ``X-Request-Id`` and carried by
every log line written during the request (``web.logs``). Latency goes to the histogram
``laksa_http_request_duration_seconds`` labelled by the Flask endpoint, the method and the
status class (2xx, 4xx, ...): the label values are bounded by the route table, whatever paths
are asked for. Health probes and scrapes are logged at DEBUG only.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import TYPE_CHECKING

from flask import Flask
from flask import Response
from flask import g
from flask import request

if TYPE_CHECKING:
    from prometheus_client import Histogram

log = logging.getLogger("laksa.request")
HEADER = "X-Request-Id"
SANE_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
QUIET_ENDPOINTS = frozenset({"ops.healthz", "ops.readyz", "ops.metrics", "static"})
UNMATCHED = "unmatched"  # the endpoint label of a path no route matches (404, 405)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

_latency: Histogram | None = None


def init_app(app: Flask) -> None:
    """Register first, so the clock starts before any other hook runs."""
    app.before_request(_start)
    app.after_request(_finish)


def request_latency() -> Histogram:
    """The process's request latency histogram (created on first use: see engine.metrics)."""
    global _latency
    if _latency is None:
        from prometheus_client import Histogram

        _latency = Histogram(
            "laksa_http_request_duration_seconds",
            "Time to answer a request, by Flask endpoint, method and status class.",
            ["endpoint", "method", "status"],
        )
    return _latency


def _start() -> None:
    g.request_started = time.perf_counter()
    given = request.headers.get(HEADER, "")
    g.request_id = given if SANE_ID.fullmatch(given) else uuid.uuid4().hex


def _finish(response: Response) -> Response:
    started = g.get("request_started")
    request_id = g.get("request_id")
    if request_id:
        response.headers[HEADER] = request_id
    if started is None:  # answered before our first hook (cannot happen once registered first)
        return response
    seconds = time.perf_counter() - started
    endpoint = request.endpoint or UNMATCHED
    method = request.method if request.method in METHODS else "other"
    status = f"{response.status_code // 100}xx"
    try:
        request_latency().labels(endpoint, method, status).observe(seconds)
    except Exception:  # a metric never fails a request
        log.exception("could not observe a request's latency")
    log.log(
        logging.DEBUG if endpoint in QUIET_ENDPOINTS else logging.INFO,
        "%s %s %s",
        method,
        endpoint,
        response.status_code,
        extra={
            "method": method,
            "endpoint": endpoint,
            "status": response.status_code,
            "duration_ms": round(seconds * 1000, 1),
        },
    )
    return response
