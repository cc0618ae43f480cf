"""The production server: gunicorn with threaded workers (``laksa serve --production``).

Workers and threads come from ``LAKSA_WEB_WORKERS`` and ``LAKSA_WEB_THREADS``. The defaults
suit a small machine: one worker per core (at least two, so one stuck request never stops the
site) with four threads each. Threaded workers (``gthread``) keep connections alive between
requests, which partner apps and the officers' browsers rely on. Every worker builds its own app
(and so its own connection pool) after the fork: a pool must never cross a fork.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

from engine.settings import Settings


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
        "proc_name": "laksa",
        "control_socket_disable": True,  # gunicorn's ~/.gunicorn socket: one per user, unused
    }


def serve(settings: Settings, host: str, port: int) -> None:
    ProductionServer(settings, options(host, port)).run()
