"""Shared fixtures: a fresh SQLite database per test with workflows/ deployed and a demo city."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from engine import definitions
from engine import demo
from engine.db import Base
from engine.db import make_engine
from engine.db import make_session_factory
from engine.identity import Actor
from engine.identity import actor_for
from engine.identity import create_token
from engine.identity import create_user
from engine.models import User
from engine.settings import REPO_ROOT
from engine.settings import Settings

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # Monday 09:00 in Jakarta
WORKFLOWS = REPO_ROOT / "workflows"

USERS = {
    "verifikator": ("verifier", ["verifier"]),
    "petugas_dpupr": ("officer", ["dpupr"]),
    "petugas_dlh": ("officer", ["dlh"]),
    "kepala_dpupr": ("opd_head", ["dpupr", "dpupr_head"]),
    "pengawas": ("supervisor", ["supervisor"]),
}


def add_users(session: Session, users: dict[str, tuple[str, list[str]]] | None = None) -> None:
    """Users by name (role, groups; the test users USERS by default), each with the password
    ``password-<name>``."""
    for name, (role, groups) in (USERS if users is None else users).items():
        create_user(
            session, username=name, password="password-" + name, role=role, groups=groups, now=NOW
        )


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        home=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'laksa.db'}",
        redis_url=None,
        secret_key="test-secret",
        workflows_dir=WORKFLOWS,
    )


@pytest.fixture
def session_factory(settings: Settings) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(settings.database_url)
    Base.metadata.create_all(engine)
    factory = make_session_factory(engine)
    with factory.begin() as session:
        demo.ensure_reference_data(session)
        demo.ensure_demo_city(session)
        add_users(session)
        definitions.deploy(session, definitions.read_files(WORKFLOWS), actor="test", now=NOW)
    yield factory
    engine.dispose()


@pytest.fixture
def session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    with session_factory() as session:
        yield session


@pytest.fixture
def actors(session_factory: sessionmaker[Session]) -> dict[str, Actor]:
    """Actors by username, as the web layer would build them."""
    from sqlalchemy import select

    with session_factory() as session:
        return {u.username: actor_for(session, u) for u in session.scalars(select(User))}


def _app(settings: Settings, session_factory: sessionmaker[Session], **config: Any) -> Flask:
    from web.app import create_app

    return create_app(
        {"SETTINGS": settings, "TESTING": True, "DB_ENGINE": session_factory.kw["bind"], **config}
    )


@pytest.fixture
def app(settings: Settings, session_factory: sessionmaker[Session]) -> Flask:
    # Rate limits off: a test files many reports from one address (the ``limited`` app turns
    # them on); CSRF stays on, as in production.
    return _app(settings, session_factory, RATELIMIT_ENABLED=False)


@pytest.fixture
def limited(settings: Settings, session_factory: sessionmaker[Session]) -> Flask:
    """The app as in production: two public submissions a minute per address."""
    return _app(
        settings, session_factory, RATELIMIT_ENABLED=True, LAKSA_SUBMIT_LIMIT="2 per minute"
    )


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def tokens(session_factory: sessionmaker[Session]) -> dict[str, str]:
    """A bearer token per demo user."""
    with session_factory.begin() as session:
        return {name: create_token(session, username=name, name="test", now=NOW) for name in USERS}
