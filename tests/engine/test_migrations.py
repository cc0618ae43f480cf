"""The Alembic migrations build exactly the schema the models declare."""

from __future__ import annotations

import os

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from engine import migrate
from engine.db import Base
from engine.db import make_engine


def assert_no_drift(url: str) -> None:
    migrate.upgrade(url)
    migrate.upgrade(url)  # a second run has nothing to do
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            diff = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert diff == [], f"models and migrations differ; add a revision: {diff}"


def test_migrations_match_the_models_on_sqlite(tmp_path):
    assert_no_drift(f"sqlite:///{tmp_path / 'migrated.db'}")


@pytest.mark.skipif(not os.environ.get("LAKSA_TEST_POSTGRES_URL"), reason="no PostgreSQL")
def test_migrations_match_the_models_on_postgresql():
    url = os.environ["LAKSA_TEST_POSTGRES_URL"]
    schema = "laksa_migrations_test"
    admin = make_engine(url)
    with admin.begin() as connection:
        connection.execute(sa.text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        connection.execute(sa.text(f"CREATE SCHEMA {schema}"))
    admin.dispose()
    separator = "&" if "?" in url else "?"
    try:
        assert_no_drift(f"{url}{separator}options=-csearch_path%3D{schema}")
    finally:
        admin = make_engine(url)
        with admin.begin() as connection:
            connection.execute(sa.text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        admin.dispose()
