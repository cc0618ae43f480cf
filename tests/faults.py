"""Real database faults for tests: a TCP proxy in front of PostgreSQL that can be cut, another
process holding SQLite's write lock, and a SQLite file that cannot be written.

The shared PostgreSQL is never stopped: cutting the proxy is, to the app, the server gone
(connections reset, new ones refused).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from typing import TypeVar

import sqlalchemy as sa
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from engine.db import WEB
from engine.db import make_engine
from engine.settings import Settings
from tests.conftest import WORKFLOWS

T = TypeVar("T")


class TcpProxy:
    """Forwards 127.0.0.1:<port> to ``target``; ``cut()`` closes the listener and every
    connection, ``restore()`` listens on the same port again."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self.restore()

    def restore(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            sockets, self._sockets = self._sockets, set()
        for sock in [s for s in (listener,) if s is not None] + list(sockets):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            try:
                server = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            with self._lock:
                if self._listener is not listener:
                    client.close()
                    server.close()
                    return
                self._sockets |= {client, server}
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


_HOLD_LOCK = """
import sqlite3, sys
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.readline()
connection.execute("ROLLBACK")
"""


@contextlib.contextmanager
def sqlite_write_lock(path: Path) -> Iterator[None]:
    """Another process holds the database's write lock (BEGIN IMMEDIATE) until the block ends."""
    with subprocess.Popen(
        [sys.executable, "-c", _HOLD_LOCK, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as holder:
        assert holder.stdout is not None
        assert holder.stdin is not None
        try:
            assert holder.stdout.readline().strip() == "locked"
            yield
        finally:
            holder.stdin.write("\n")
            holder.stdin.flush()
            holder.wait(timeout=10)


def read_only_files(path: Path) -> list[Path]:
    """The files whose write protection makes SQLite read-only: the database and its WAL. (Not
    the -shm: it is mapped into memory, and writing a mapping the kernel refuses kills the
    process with SIGBUS, which is not the fault under test.)"""
    return [p for p in (path, Path(f"{path}-wal")) if p.exists()]


def can_protect_files(folder: Path) -> bool:
    """Whether ``sqlite_read_only`` works in ``folder``: chmod stops a non-root user; root needs
    ``chattr +i`` (immutable), which needs the tool and a file system that keeps the flag."""
    if os.geteuid() != 0:
        return True
    if shutil.which("chattr") is None:
        return False
    probe = folder / "chattr-probe"
    probe.touch()
    try:
        tried = subprocess.run(["chattr", "+i", str(probe)], capture_output=True)
        if tried.returncode != 0:
            return False
        subprocess.run(["chattr", "-i", str(probe)], check=True)
        return True
    finally:
        probe.unlink()


@contextlib.contextmanager
def sqlite_read_only(path: Path) -> Iterator[None]:
    """The database file and its WAL cannot be written until the block ends: mode 0444 for a
    non-root user, the immutable flag for root (whom file modes do not stop)."""
    files = read_only_files(path)
    modes = {f: f.stat().st_mode for f in files}
    if os.geteuid() == 0:
        subprocess.run(["chattr", "+i", *map(str, files)], check=True)
    else:
        for f in files:
            f.chmod(0o444)
    try:
        yield
    finally:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", *map(str, files)], check=True)
        else:
            for f, mode in modes.items():
                f.chmod(mode)


def web_app(url: str, home: Path) -> tuple[Flask, sa.Engine]:
    """The app on ``url`` as ``laksa serve`` builds it: the web's waits (engine.db.WEB)."""
    from web.app import create_app

    engine = make_engine(url, waits=WEB)
    settings = Settings(
        home=home,
        database_url=url,
        redis_url=None,
        secret_key="test-secret",
        workflows_dir=WORKFLOWS,
    )
    app = create_app(
        {"SETTINGS": settings, "TESTING": True, "DB_ENGINE": engine, "RATELIMIT_ENABLED": False}
    )
    return app, engine


def timed(call: Callable[[], T]) -> tuple[T, float]:
    """What ``call`` returns and the seconds it took."""
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started


def assert_fault(response: Any, code: str) -> None:
    """A 503 with the JSON error body of ``code`` and a Retry-After of a few seconds."""
    assert response.status_code == 503, response.get_data(as_text=True)
    assert response.get_json()["error"]["code"] == code
    assert set(response.get_json()["error"]) == {"code", "message"}
    assert 1 <= int(response.headers["Retry-After"]) <= 60


def assert_whole(factory: sessionmaker[Session], answered: set[str]) -> int:
    """Every ticket answered 201 exists, and every ticket there is whole: its instance, its
    verification task and an intact audit chain. Returns how many tickets there are."""
    from engine import audit
    from engine.models import HumanTask
    from engine.models import ProcessInstance
    from engine.models import Ticket

    with factory() as session:
        numbers = set(session.scalars(select(Ticket.number)))
        assert answered <= numbers
        for ticket_id in session.scalars(select(Ticket.id)):
            assert session.scalar(
                select(ProcessInstance.id).where(ProcessInstance.ticket_id == ticket_id)
            )
            tasks = session.scalars(
                select(HumanTask.element_id).where(HumanTask.ticket_id == ticket_id)
            )
            assert "verify" in set(tasks)
        assert audit.verify(session) == []
    return len(numbers)
