"""The API keeps the promises of its OpenAPI document: schemathesis (every check, every phase,
stateful links) against a live server, as the public, a citizen, a verifier and an admin, on
SQLite and on PostgreSQL. 0 failures.

The server runs in a thread of this process on the test's database (as tests/browser does);
schemathesis runs as its own process with tests/web/schemathesis.toml. Run time is bounded by
the number of examples per operation and the stateful steps (about 20 s a persona).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from engine.settings import REPO_ROOT
from tests.web.backends import CITIZEN
from tests.web.backends import Backend

CONFIG = Path(__file__).with_name("schemathesis.toml")
PERSONAS = {"public": None, "citizen": CITIZEN, "verifier": "verifikator", "admin": "admin"}
MAX_EXAMPLES = 8
SEED = 20261202  # the same cases every run; a failure reproduces


@pytest.fixture
def live(backend: Backend) -> Iterator[str]:
    backend.app.config["TESTING"] = False  # errors answer as in production
    http = make_server("127.0.0.1", 0, backend.app, threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{http.server_port}"
    finally:
        http.shutdown()
        thread.join(5)


@pytest.mark.parametrize("persona", list(PERSONAS))
def test_the_api_keeps_the_promises_of_its_document(backend, live, persona, tmp_path):
    user = PERSONAS[persona]
    headers = [] if user is None else ["-H", f"Authorization: Bearer {backend.tokens[user]}"]
    command = [
        str(Path(sys.executable).with_name("st")),
        "--config-file",
        str(CONFIG),
        "run",
        f"{live}/api/v1/openapi.json",
        *headers,
        "--checks",
        "all",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        str(SEED),
        "--workers",
        "1",
        "--no-shrink",
        "--request-timeout",
        "30",
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "NO_COLOR": "1"}
    done = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    report = done.stdout + done.stderr
    assert done.returncode == 0, report[-20000:]
    assert "failures" not in report.splitlines()[-1], report[-5000:]
