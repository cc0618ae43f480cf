"""The app on SQLite and on PostgreSQL, for API tests that must hold on both.

The PostgreSQL case is skipped unless LAKSA_TEST_POSTGRES_URL is set, and runs in a schema of
its own (``tests/engine/conftest.prepared_database``). The fixture ``backend`` (over
``tests/engine/conftest.backend_url``; tests/web/conftest.py offers it to every web test) has
the test users of tests/conftest.py, an admin and a citizen, and a token each.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from engine.db import make_engine
from engine.db import make_session_factory
from engine.identity import create_token
from engine.settings import Settings
from tests.conftest import NOW
from tests.conftest import USERS
from tests.conftest import WORKFLOWS
from tests.conftest import add_users
from tests.engine.conftest import backend_url  # noqa: F401 (a fixture, parametrized)

# The citizen who files through the API with an account (tests/web/test_replies.py's warga).
CITIZEN = "warga"
ALL_USERS = {**USERS, "admin": ("admin", ["verifier", "supervisor"]), CITIZEN: ("citizen", [])}


@dataclass(frozen=True)
class Backend:
    name: str  # sqlite | postgres
    url: str
    app: Flask
    settings: Settings
    factory: sessionmaker[Session]
    tokens: dict[str, str]

    def client(self) -> FlaskClient:
        return self.app.test_client()


@pytest.fixture
def backend(backend_url: str, tmp_path: Path) -> Iterator[Backend]:  # noqa: F811
    """The app on ``backend_url`` with the users above and a token each."""
    from web.app import create_app

    settings = Settings(
        home=tmp_path,
        database_url=backend_url,
        redis_url=None,
        secret_key="test-secret",
        workflows_dir=WORKFLOWS,
    )
    engine = make_engine(backend_url)
    factory = make_session_factory(engine)
    with factory.begin() as session:
        add_users(session, ALL_USERS)
        tokens = {
            name: create_token(session, username=name, name="test", now=NOW) for name in ALL_USERS
        }
    app = create_app(
        {"SETTINGS": settings, "TESTING": True, "DB_ENGINE": engine, "RATELIMIT_ENABLED": False}
    )
    name = "sqlite" if backend_url.startswith("sqlite") else "postgres"
    try:
        yield Backend(name, backend_url, app, settings, factory, tokens)
    finally:
        engine.dispose()
