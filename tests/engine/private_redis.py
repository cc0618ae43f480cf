"""A private redis-server for fault tests: started, stopped and restarted by the test itself.

Never the shared test Redis: this one lives on a free port in a temporary folder. ``persist``
keeps an append-only file (fsync on every write) so that a restart brings the data back;
``start(empty=True)`` restarts with a fresh folder, as a Redis that lost everything.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
from redis import Redis
from redis.exceptions import RedisError


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PrivateRedis:
    def __init__(self, folder: Path) -> None:
        self.binary = shutil.which("redis-server")
        if not self.binary:
            pytest.skip("redis-server is not installed")
        self.folder = folder
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None
        self.generation = 0

    def start(self, *, empty: bool = False) -> None:
        """Start (again) on the same port; ``empty``: without the data of the last run."""
        if empty:
            self.generation += 1
        data = self.folder / f"data-{self.generation}"
        data.mkdir(parents=True, exist_ok=True)
        assert self.binary
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--dir", str(data),
                "--save", "",
                "--appendonly", "yes",
                "--appendfsync", "always",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 20
        client = Redis(port=self.port, socket_connect_timeout=1)
        try:
            while True:
                try:
                    if client.ping():
                        return
                except RedisError:
                    pass
                assert self.process.poll() is None, "redis-server exited"
                assert time.monotonic() < deadline, "redis-server did not start in 20 s"
                time.sleep(0.02)
        finally:
            client.close()

    def stop(self) -> None:
        """A real stop: the process ends and the port closes (SIGTERM, as a service stop)."""
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def client(self) -> Redis:
        return Redis(port=self.port, socket_connect_timeout=1)
