"""The rate limits' memory storage: no thread per request, expired keys still forgotten."""

from __future__ import annotations

import threading
import time

import pytest
from flask import Flask

from web.extensions import SweptMemoryStorage
from web.extensions import limiter


def test_hits_start_no_timer_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    storage = SweptMemoryStorage("laksa-memory://")
    started: list[threading.Timer] = []
    monkeypatch.setattr(threading.Timer, "start", lambda timer: started.append(timer))
    for _ in range(20):
        storage.incr("submit:127.0.0.1", 60)
        assert storage.acquire_entry("moving:127.0.0.1", 100, 60)
    assert started == []
    assert storage.get("submit:127.0.0.1") == 20


class EagerlySwept(SweptMemoryStorage):
    STORAGE_SCHEME = ["laksa-memory-eager"]
    SWEEP_SECONDS = 0.0


def test_counters_expire_when_read_and_the_sweep_forgets_idle_keys() -> None:
    storage = EagerlySwept("laksa-memory-eager://")
    storage.incr("old", 1)
    storage.acquire_entry("old-window", 5, 1)
    time.sleep(1.05)
    assert storage.get("old") == 0  # expired on read, sweep or not
    storage.incr("new", 60)  # a hit sweeps (every SWEEP_SECONDS)
    assert not storage.events.get("old-window")  # its entries dropped
    assert storage.get("new") == 1


def test_the_app_counts_in_the_swept_storage(limited: Flask) -> None:
    assert isinstance(limiter.storage, SweptMemoryStorage)
