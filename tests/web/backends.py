"""The app on SQLite and on PostgreSQL, for API tests that must hold on both.

``api_backend`` is parametrized over both backends like ``tests/engine/conftest.backend_url``
(the PostgreSQL case skipped unless LAKSA_TEST_POSTGRES_URL is set, in a schema of its own).
A test module imports the fixture: ``from tests.web.backends import api_backend_fixture``.
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
from tests.engine.conftest import prepared_database


@dataclass
class Backend:
    name: str  # sqlite | postgres
    url: str
    app: Flask
    factory: sessionmaker[Session]
    tokens: dict[str, str]

    def client(self) -> FlaskClient:
        return self.app.test_client()


@pytest.fixture(
    name="api_backend",
    params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
)
def api_backend_fixture(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """The app on a prepared database of each backend, with the test users and their tokens."""
    from web.app import create_app

    with prepared_database(request.param, tmp_path) as url:
        engine = make_engine(url)
        factory = make_session_factory(engine)
        with factory.begin() as session:
            add_users(session)
            tokens = {
                name: create_token(session, username=name, name="test", now=NOW) for name in USERS
            }
        settings = Settings(
            home=tmp_path,
            database_url=url,
            redis_url=None,
            secret_key="test-secret",
            workflows_dir=WORKFLOWS,
        )
        app = create_app(
            {"SETTINGS": settings, "TESTING": True, "DB_ENGINE": engine, "RATELIMIT_ENABLED": False}
        )
        try:
            yield Backend(request.param, url, app, factory, tokens)
        finally:
            engine.dispose()
