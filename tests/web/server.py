"""The production server (``laksa serve --production``: gunicorn) as a subprocess, for tests.

``start`` runs it on a free loopback port in a process group of its own, on the database given
(for PostgreSQL a URL from ``tests/engine/conftest.prepared_database``, whose search_path the
workers inherit), and returns once its own processes listen on the port (read from Linux's
/proc) and ``/`` answers. ``kill`` SIGKILLs the whole group (master
and workers: a crash, nothing shuts down cleanly); ``stop`` asks it to stop (SIGTERM), then
kills what is left. ``running`` is ``start`` and ``stop`` as a context manager.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tests.engine.test_sweeper_kill import laksa

READY_TIMEOUT = 60.0  # seconds; gunicorn and two workers importing the app on a busy machine


@dataclass
class Server:
    url: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    def output(self, since: int = 0) -> str:
        """What the server wrote to its log file (from byte ``since`` on), for messages."""
        if not self.log.exists():
            return ""
        return self.log.read_bytes()[since:].decode(errors="replace")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def server_env(database_url: str, home: Path, **extra: str) -> dict[str, str]:
    """The environment of a server on ``database_url``: no LAKSA_* of the caller's, no Redis
    (so no in-process sweeper either), ``extra`` on top (``LAKSA_WEB_WORKERS=...``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAKSA_")}
    env.update(
        LAKSA_HOME=str(home),
        LAKSA_DATABASE_URL=database_url,
        LAKSA_SECRET_KEY="test-secret",
        LAKSA_WEB_WORKERS="2",
        LAKSA_WEB_THREADS="4",
    )
    env.update(extra)
    return env


def start(env: Mapping[str, str], *, port: int | None = None, log: Path | None = None) -> Server:
    """``laksa serve --production`` with ``env`` (see ``server_env``), ready to answer.

    Without ``port``, a free one; if the port (given or chosen) is taken meanwhile, another
    free one: read the server's ``url``. The server's output goes to ``log`` (appended: a
    restart adds to it).
    """
    log = log or Path(env["LAKSA_HOME"]) / "server.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    for attempt in range(3):
        chosen = port if port and attempt == 0 else free_port()
        since = log.stat().st_size if log.exists() else 0
        with log.open("ab") as out:
            process = subprocess.Popen(
                [laksa(), "serve", "--production", "--host", "127.0.0.1", "--port", str(chosen)],
                env=dict(env),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: kill() reaches the workers
            )
        server = Server(f"http://127.0.0.1:{chosen}", chosen, process, log)
        if wait_ready(server, since):
            return server
        kill(server)  # and try another port: this one may have been taken meanwhile
    raise AssertionError(f"the production server did not start:\n{server.output(since)[-3000:]}")


def wait_ready(server: Server, since: int = 0, timeout: float = READY_TIMEOUT) -> bool:
    """True once the server's own processes listen on its port (another process on that port
    would answer too) and ``/`` answers 200; False if the server exits, finds the port in use
    (in its log from byte ``since`` on), or ``timeout`` passes first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            return False
        if "Connection in use" in server.output(since):  # gunicorn's words; it would retry
            return False
        if _listens(server.process.pid, server.port):
            try:
                with urllib.request.urlopen(server.url + "/", timeout=5) as response:
                    if response.status == 200:
                        return True
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass
        time.sleep(0.2)
    return False


def _listens(pgid: int, port: int) -> bool:
    """Whether a process of group ``pgid`` holds the socket listening on loopback ``port``."""
    wanted = f"0100007F:{port:04X}"
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1] == wanted and fields[3] == "0A":  # local address, state LISTEN
            inodes.add(f"socket:[{fields[9]}]")
    for pid in _group(pgid):
        for fd in Path(f"/proc/{pid}/fd").glob("*"):
            with contextlib.suppress(OSError):
                if os.readlink(fd) in inodes:
                    return True
    return False


def kill(server: Server) -> None:
    """SIGKILL the server's whole process group (gunicorn's master and its workers)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.process.pid, signal.SIGKILL)
    server.process.wait(timeout=30)
    _wait_group_gone(server.process.pid)


def stop(server: Server, timeout: float = 20.0) -> None:
    """Ask the server to stop (SIGTERM to its group), SIGKILL whatever is left after
    ``timeout`` seconds."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        server.process.wait(timeout=timeout)
    kill(server)


def _wait_group_gone(pgid: int, timeout: float = 10.0) -> None:
    """Workers orphaned by a killed master get the SIGKILL too; wait until none of the group
    runs any more (zombies left to an init that does not reap them count as gone), so a
    restart on the same port finds it free."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _alive_in_group(pgid):
        time.sleep(0.05)


def _alive_in_group(pgid: int) -> bool:
    return bool(_group(pgid))


def _group(pgid: int) -> list[int]:
    """The processes of group ``pgid`` that are not zombies."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":  # fields: state, ppid, pgrp, ...
            found.append(int(stat.parent.name))
    return found


@contextlib.contextmanager
def running(env: Mapping[str, str], *, port: int | None = None) -> Iterator[Server]:
    server = start(env, port=port)
    try:
        yield server
    finally:
        stop(server)
