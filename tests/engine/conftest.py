"""Fixtures for engine tests that run on SQLite and on PostgreSQL.

``backend_url`` is parametrized over both backends; the PostgreSQL case is skipped unless
LAKSA_TEST_POSTGRES_URL is set, and gets a fresh schema per test (selected through the URL's
``options=-csearch_path=...``, so every engine, thread, CLI run or RQ job built from the URL
sees the same isolated schema). ``redis_url`` is skipped unless LAKSA_TEST_REDIS_URL is set.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from engine import definitions
from engine import demo
from engine.db import Base
from engine.db import make_engine
from engine.db import make_session_factory
from tests.conftest import NOW
from tests.conftest import WORKFLOWS

POSTGRES_ENV = "LAKSA_TEST_POSTGRES_URL"
REDIS_ENV = "LAKSA_TEST_REDIS_URL"


def postgres_schema_url(base_url: str, schema: str) -> str:
    """``base_url`` with every connection's search_path set to ``schema``."""
    separator = "&" if "?" in base_url else "?"
    return f"{base_url}{separator}options={quote(f'-csearch_path={schema}')}"


def prepare_database(url: str) -> None:
    """Create the tables, reference data and demo city, and deploy workflows/."""
    engine = make_engine(url)
    try:
        Base.metadata.create_all(engine)
        with make_session_factory(engine).begin() as session:
            demo.ensure_reference_data(session)
            demo.ensure_demo_city(session)
            definitions.deploy(session, definitions.read_files(WORKFLOWS), actor="test", now=NOW)
    finally:
        engine.dispose()


@contextmanager
def prepared_database(kind: str, tmp_path: Path) -> Iterator[str]:
    """A prepared, empty database: SQLite in ``tmp_path``, or a fresh PostgreSQL schema
    (skipped unless LAKSA_TEST_POSTGRES_URL is set), dropped afterwards."""
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'laksa.db'}"
        prepare_database(url)
        yield url
        return
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(f"{POSTGRES_ENV} is not set")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        url = postgres_schema_url(base, schema)
        prepare_database(url)
        yield url
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A prepared, empty database on each backend."""
    with prepared_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def backend_factory(backend_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(backend_url)
    yield make_session_factory(engine)
    engine.dispose()


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get(REDIS_ENV)
    if not url:
        pytest.skip(f"{REDIS_ENV} is not set")
    return url


@pytest.fixture
def postgres_url() -> str:
    """The shared PostgreSQL's URL (the database itself, no schema of the test's own)."""
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        pytest.skip(f"{POSTGRES_ENV} is not set")
    return url
