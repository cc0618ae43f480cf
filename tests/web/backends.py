"""The app on SQLite and on PostgreSQL (when LAKSA_TEST_POSTGRES_URL is set), with the demo
users of tests/conftest.py and a token each; tests/web/conftest.py makes ``backend`` a fixture
of every web test."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
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


@dataclass(frozen=True)
class Backend:
    app: Flask
    settings: Settings
    factory: sessionmaker[Session]
    tokens: dict[str, str]


@pytest.fixture
def backend(backend_url: str, tmp_path: Path) -> Iterator[Backend]:  # noqa: F811
    """The app on ``backend_url`` with the demo users, an admin and a citizen, a token each."""
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
    users = {**USERS, "admin": ("admin", ["verifier", "supervisor"]), CITIZEN: ("citizen", [])}
    with factory.begin() as session:
        add_users(session, users)
        tokens = {
            name: create_token(session, username=name, name="test", now=NOW) for name in users
        }
    app = create_app(
        {"SETTINGS": settings, "TESTING": True, "DB_ENGINE": engine, "RATELIMIT_ENABLED": False}
    )
    try:
        yield Backend(app, settings, factory, tokens)
    finally:
        engine.dispose()
