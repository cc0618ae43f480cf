"""The production server: gunicorn with threaded workers (``laksa serve --production``).

Workers and threads come from ``LAKSA_WEB_WORKERS`` and ``LAKSA_WEB_THREADS``. The defaults
suit a small machine: one worker per core (at least two, so one stuck request never stops the
site) with four threads each. Threaded workers (``gthread``) keep connections alive between
requests, which partner apps and the officers' browsers rely on. Every worker builds its own app
(and so its own connection pool) after the fork: a pool must never cross a fork.

Metrics: every process writes its histograms to ``PROMETHEUS_MULTIPROC_DIR`` (``metrics/``
under ``LAKSA_HOME`` unless set; emptied at start), and the master marks a worker's files dead
when it exits (gunicorn's ``child_exit``). Logs: gunicorn's own lines go through the app's
handler (``web.logs``), JSON in production.

Without Redis nothing else sweeps timers and delivers the outbox, so the master starts one
``laksa sweeper`` process beside the workers (never one per worker), restarts it if it dies,
and stops it on the way out; the sweeper stops by itself when the master is gone, even after a
SIGKILL. With ``LAKSA_REDIS_URL`` set, RQ workers (``laksa worker``) sweep instead.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask
from gunicorn import glogging
from gunicorn.app.base import BaseApplication

from engine import sweeper
from engine.settings import Settings

log = logging.getLogger(__name__)
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
RESTART_PAUSE = 5.0  # seconds before a sweeper that died is started again


def worker_count(env: Mapping[str, str] | None = None) -> int:
    env = os.environ if env is None else env
    return _positive(env, "LAKSA_WEB_WORKERS", max(2, os.cpu_count() or 1))


def thread_count(env: Mapping[str, str] | None = None) -> int:
    env = os.environ if env is None else env
    return _positive(env, "LAKSA_WEB_THREADS", 4)


def _positive(env: Mapping[str, str], name: str, default: int) -> int:
    value = env.get(name, "").strip()
    if not value:
        return default
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"{name} must be a whole number of at least 1, not {value!r}")
    return int(value)


class ProductionServer(BaseApplication):  # type: ignore[misc]  # gunicorn has no type hints
    """gunicorn serving ``create_app`` with the options given (gunicorn's setting names)."""

    def __init__(self, settings: Settings, options: Mapping[str, Any]) -> None:
        self.settings = settings
        self.options = dict(options)
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        from web.app import create_app

        return create_app({"SETTINGS": self.settings})


def options(host: str, port: int, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """gunicorn's settings for ``laksa serve --production``."""
    return {
        "bind": f"{host}:{port}",
        "workers": worker_count(env),
        "threads": thread_count(env),
        "worker_class": "gthread",
        "keepalive": 5,  # seconds an idle keep-alive connection stays open
        "timeout": 60,  # a worker silent this long is killed and replaced
        "graceful_timeout": 20,
        "max_requests": 0,
        "accesslog": None,  # requests are logged by the app, with their request id
        "logger_class": AppLogger,
        "child_exit": _child_exit,
        "proc_name": "laksa",
        "control_socket_disable": True,  # gunicorn's ~/.gunicorn socket: one per user, unused
    }


def serve(settings: Settings, host: str, port: int) -> None:
    """Serve until stopped; without Redis, with one sweeper process beside the workers."""
    prepare_metrics_dir(settings.home)
    opts = options(host, port)
    child = None if settings.redis_url else Sweeper()
    if child is not None:
        opts["when_ready"] = lambda _arbiter: child.start()
        opts["on_exit"] = lambda _arbiter: child.stop()
    ProductionServer(settings, opts).run()


def prepare_metrics_dir(home: Path, env: dict[str, str] | os._Environ[str] | None = None) -> Path:
    """Set ``PROMETHEUS_MULTIPROC_DIR`` (``<home>/metrics`` unless set) and empty it.

    Before any worker starts and before prometheus-client is imported (it picks its mode then).
    """
    env = os.environ if env is None else env
    folder = Path(env.get(MULTIPROC_ENV) or home / "metrics")
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.db"):  # files of a previous run's processes
        old.unlink()
    env[MULTIPROC_ENV] = str(folder)
    return folder


def _child_exit(_arbiter: Any, worker: Any) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]


class AppLogger(glogging.Logger):  # type: ignore[misc]  # gunicorn has no type hints
    """gunicorn's logger, its lines handed to the root logger's handler (``web.logs``)."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for logger in (self.error_log, self.access_log):
            for handler in list(logger.handlers):
                logger.removeHandler(handler)
            logger.propagate = True


class Sweeper:
    """One ``laksa sweeper`` child of the gunicorn master, started again if it dies.

    Started with ``posix_spawn``, not ``subprocess.Popen``: Popen waits on a pipe until the
    child has started, and a worker the master forks meanwhile inherits that pipe's end, which
    would hold this thread until that worker exits. The master's own reaping of children may
    take the sweeper's exit status first; either way it counts as gone.
    """

    def __init__(self, command: list[str] | None = None) -> None:
        self.command = command or [sys.executable, "-m", "web.cli", "sweeper"]
        self.pid: int | None = None
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._watch, name="laksa-sweeper", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def _spawn(self) -> None:
        env = {**os.environ, sweeper.PARENT_ENV: str(os.getpid())}
        self.pid = os.posix_spawn(self.command[0], self.command, env)
        log.info("sweeper started (pid %s)", self.pid)

    def running(self) -> bool:
        """Whether the sweeper still runs (reaping it if it has just exited)."""
        if self.pid is None:
            return False
        try:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:  # reaped by gunicorn's master already
            log.warning("sweeper (pid %s) exited", self.pid)
            return False
        if pid == 0:
            return True
        log.warning("sweeper (pid %s) exited with %s", self.pid, os.waitstatus_to_exitcode(status))
        return False

    def _watch(self) -> None:
        while not self.stopping.is_set():
            if not self.running():
                if self.pid is not None and self.stopping.wait(RESTART_PAUSE):
                    return
                self._spawn()
            self.stopping.wait(1.0)

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=5)
        if self.pid is None or not self.running():
            return
        os.kill(self.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if not self.running():
                return
            time.sleep(0.1)
        os.kill(self.pid, signal.SIGKILL)
