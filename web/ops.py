"""What operators and their machines ask: ``/healthz``, ``/readyz`` and ``/metrics``.

- ``/healthz``: the process answers (no database); a container's liveness check.
- ``/readyz``: the database answers a cheap query and, when ``LAKSA_REDIS_URL`` is set, Redis
  answers PING, each within two seconds; 200 ``{"status": "ready", "checks": {...}}``, else 503
  with the JSON error body naming each failing check, and ``Retry-After``.
- ``/metrics``: Prometheus's text format. Readable from the machine itself (a loopback address,
  not relayed by a proxy: a request carrying ``Forwarded`` or ``X-Forwarded-For`` is not local),
  or, when ``LAKSA_METRICS_TOKEN`` is set, by whoever presents it as a bearer token (and then
  only so). Under gunicorn the request and timer histograms of every process are read from
  ``PROMETHEUS_MULTIPROC_DIR``; the database's gauges are read once per scrape
  (``engine.metrics.DatabaseCollector``).

None of them is rate-limited, sets a cookie or is cached.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING
from typing import Any

from flask import Blueprint
from flask import Flask
from flask import Response
from flask import current_app
from flask import jsonify
from flask import request

from engine import health
from engine import metrics
from engine.settings import Settings
from web.errors import error_response
from web.extensions import limiter
from web.telemetry import request_latency

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric
    from prometheus_client.registry import Collector

blp = Blueprint("ops", __name__)
limiter.exempt(blp)
RETRY_AFTER = "5"  # seconds: about two readiness probes
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
PROXY_HEADERS = ("Forwarded", "X-Forwarded-For", "X-Real-Ip")


@blp.after_request
def not_cached(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


@blp.get("/healthz")
def healthz() -> Response:
    return jsonify({"status": "ok"})


@blp.get("/readyz")
def readyz() -> Response | tuple[Response, int]:
    settings: Settings = current_app.config["LAKSA_SETTINGS"]
    checks = [health.database(current_app.extensions["laksa_sessions"].kw["bind"])]
    if settings.redis_url:
        checks.append(health.redis(settings.redis_url))
    report = {c.name: c.as_json() for c in checks}
    failing = {c.name: c.detail for c in checks if not c.ok}
    if not failing:
        return jsonify({"status": "ready", "checks": report})
    answer, status = error_response(
        503, "not_ready", "not ready: " + ", ".join(sorted(failing)), failing
    )
    body: dict[str, Any] = answer.get_json()
    answer = jsonify({**body, "status": "not_ready", "checks": report})
    answer.headers["Retry-After"] = RETRY_AFTER
    return answer, status


@blp.get("/metrics", endpoint="metrics")
def scrape() -> Response | tuple[Response, int]:
    token = current_app.config.get("LAKSA_METRICS_TOKEN")
    if token:
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            answer, status = error_response(401, "unauthorized", "the metrics token is needed")
            answer.headers["WWW-Authenticate"] = 'Bearer realm="laksa-metrics"'
            return answer, status
    elif not _local(request.remote_addr) or any(h in request.headers for h in PROXY_HEADERS):
        return error_response(
            403, "forbidden", "metrics are read from the machine itself or with a token"
        )
    from prometheus_client import CONTENT_TYPE_LATEST
    from prometheus_client import generate_latest

    return Response(generate_latest(_registry()), content_type=CONTENT_TYPE_LATEST)


def _local(address: str | None) -> bool:
    try:
        return address is not None and ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def _registry() -> Any:
    """This scrape's registry: every process's metrics (or this one's) and the database's."""
    from prometheus_client import REGISTRY
    from prometheus_client import CollectorRegistry
    from prometheus_client import multiprocess

    registry = CollectorRegistry()
    if os.environ.get(MULTIPROC_ENV):
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry.register(_Forward(REGISTRY))
    settings: Settings = current_app.config["LAKSA_SETTINGS"]
    sessions = current_app.extensions["laksa_sessions"]
    registry.register(metrics.DatabaseCollector(sessions, settings.process_key))
    return registry


class _Forward:
    """Another registry's metrics as one collector (the process's own, without multiprocess)."""

    def __init__(self, registry: Collector) -> None:
        self.registry = registry

    def collect(self) -> Iterator[Metric]:
        yield from self.registry.collect()


def init_app(app: Flask) -> None:
    """Register the endpoints; the histograms exist from the start (zero until observed)."""
    app.config.setdefault("LAKSA_METRICS_TOKEN", os.environ.get("LAKSA_METRICS_TOKEN") or None)
    request_latency()
    metrics.timer_lateness()
    app.register_blueprint(blp)
