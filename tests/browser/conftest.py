"""Browser tests: a real LAKSA server on loopback, Debian's chromium driven by pytest-playwright.

The server runs in a thread of the test process on a fresh SQLite database with workflows/
deployed and the demo city. Tests skip when chromium is missing, except where
LAKSA_BROWSER_TESTS=1 says it must be there (CI installs it): then they fail.
Screenshots go to shots/<language>/ (ignored by git), to be looked at.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker
from werkzeug.serving import make_server

from engine.settings import REPO_ROOT
from engine.settings import Settings

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = REPO_ROOT / "shots"
AXE = REPO_ROOT / "web" / "static" / "vendor" / "axe.min.js"
PHONE = {"width": 390, "height": 844}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    required = os.environ.get("LAKSA_BROWSER_TESTS") == "1"
    available = Path(CHROMIUM).exists() and AXE.exists()
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)
            if not available and not required:
                item.add_marker(pytest.mark.skip(reason="chromium or built web assets missing"))


@pytest.fixture(scope="session")
def browser_type_launch_args() -> dict[str, Any]:
    return {
        "executable_path": CHROMIUM,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    }


@pytest.fixture
def browser_context_args() -> dict[str, Any]:
    return {"viewport": PHONE, "locale": "id-ID", "timezone_id": "Asia/Jakarta"}


@dataclass(frozen=True)
class Server:
    url: str
    settings: Settings
    factory: sessionmaker[Session]
    app: Flask


@pytest.fixture
def server(settings: Settings, session_factory: sessionmaker[Session]) -> Iterator[Server]:
    """The app on a free loopback port, on the test's database (see tests/conftest.py)."""
    from web.app import create_app

    app = create_app(
        {"SETTINGS": settings, "DB_ENGINE": session_factory.kw["bind"], "RATELIMIT_ENABLED": False}
    )
    http = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    try:
        yield Server(f"http://127.0.0.1:{http.server_port}", settings, session_factory, app)
    finally:
        http.shutdown()
        thread.join(5)


def screenshot(page: Any, name: str) -> None:
    """A full-page screenshot under shots/<lang>/<name>.png.

    A click that submits a form returns once the next page has started loading; waiting for
    its load event keeps the page from being read while its document is still empty.
    """
    page.wait_for_load_state()
    lang = page.evaluate("document.documentElement.lang") or "id"
    folder = SHOTS / lang
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """Serious and critical axe-core violations of the page as it is now.

    axe-core is loaded from the app's own static folder, so the page's CSP (scripts from
    'self' only) stays on while it runs.
    """
    page.wait_for_load_state()
    origin = page.evaluate("location.origin")
    page.add_script_tag(url=f"{origin}/static/vendor/axe.min.js")
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
