"""Readiness checks: the database answers a cheap query, Redis (when configured) answers PING.

Each check runs on a small pool of threads and is waited for at most ``TIMEOUT`` seconds, so a
database that hangs (a host gone, a lock held, a full disk) makes ``/readyz`` answer 503 within
the timeout instead of holding the request. A check still running after its timeout keeps its
thread until the driver gives up; the pool is small, so a dead database never costs more than
``WORKERS`` threads, and checks queued behind them time out too.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

log = logging.getLogger(__name__)
TIMEOUT = 2.0  # seconds per check
WORKERS = 4
# Reachable and set up (``laksa init`` ran): one row of a table of ours, by its primary key.
PROBE = sa.text("SELECT id FROM ticket ORDER BY id LIMIT 1")

_pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="laksa-readyz")
_redis_clients: dict[str, Any] = {}


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str  # "ok", or why not: the error's kind or the timeout (its message is logged)
    seconds: float

    def as_json(self) -> dict[str, Any]:
        return {
            "status": "ok" if self.ok else "failing",
            "detail": self.detail,
            "ms": round(self.seconds * 1000, 1),
        }


def run(name: str, probe: Callable[[], None], *, timeout: float = TIMEOUT) -> Check:
    """Run ``probe`` with a deadline; any exception or the deadline makes the check fail."""
    started = time.perf_counter()
    future = _pool.submit(probe)
    try:
        future.result(timeout=timeout)
    except FutureTimeout:
        future.cancel()
        log.warning("readiness: %s gave no answer within %g s", name, timeout)
        return Check(name, False, f"no answer within {timeout:g} s", time.perf_counter() - started)
    except Exception as exc:  # the kind of error answers; its message (hosts, paths) is logged
        log.warning("readiness: %s failing: %s", name, _reason(exc))
        inner = getattr(exc, "orig", None) or exc
        return Check(name, False, type(inner).__name__, time.perf_counter() - started)
    return Check(name, True, "ok", time.perf_counter() - started)


def database(engine: sa.Engine, *, timeout: float = TIMEOUT) -> Check:
    """The database answers ``PROBE``."""

    def probe() -> None:
        with engine.connect().execution_options(read_only=True) as connection:
            if connection.dialect.name == "postgresql":
                ms = int(timeout * 1000)
                connection.exec_driver_sql(f"SET LOCAL statement_timeout = {ms}")
            connection.execute(PROBE).first()

    return run("database", probe, timeout=timeout)


def redis(url: str, *, timeout: float = TIMEOUT) -> Check:
    """Redis answers PING."""

    def probe() -> None:
        client = _redis_clients.get(url)
        if client is None:
            from redis import Redis

            client = Redis.from_url(
                url, socket_connect_timeout=timeout, socket_timeout=timeout, health_check_interval=0
            )
            _redis_clients[url] = client
        client.ping()

    return run("redis", probe, timeout=timeout)


def _reason(exc: BaseException) -> str:
    """The error's type and the first line of its message (a driver's own error if wrapped)."""
    inner = getattr(exc, "orig", None) or exc
    first = (str(inner).strip().splitlines() or [""])[0][:200]
    return f"{type(inner).__name__}: {first}" if first else type(inner).__name__
