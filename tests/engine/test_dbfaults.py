"""Which database errors are faults (engine.dbfaults), from real errors of both backends."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from engine import dbfaults
from engine.db import WEB
from engine.db import make_engine
from tests.faults import can_protect_files
from tests.faults import sqlite_read_only
from tests.faults import sqlite_write_lock


def _sqlite(tmp_path: Path) -> tuple[sa.Engine, Path]:
    path = tmp_path / "faults.db"
    engine = make_engine(f"sqlite:///{path}", waits=WEB)
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE t (x INTEGER)")
    return engine, path


def _error_of(engine: sa.Engine, sql: str) -> BaseException:
    with pytest.raises(sa.exc.DBAPIError) as raised, engine.begin() as connection:
        connection.exec_driver_sql(sql)
    return raised.value


def test_a_write_behind_another_writer_gives_up_busy_within_the_web_wait(tmp_path):
    engine, path = _sqlite(tmp_path)
    with sqlite_write_lock(path):
        started = time.monotonic()
        error = _error_of(engine, "INSERT INTO t VALUES (1)")
        waited = time.monotonic() - started
        with engine.connect() as connection:  # a transaction that only reads is not stopped
            reads = connection.execution_options(**{"laksa_reads_first": True})
            assert reads.exec_driver_sql("SELECT count(*) FROM t").scalar() == 0
    assert dbfaults.classify(error) is dbfaults.BUSY
    assert WEB.busy - 0.5 <= waited < 4
    engine.dispose()


def test_a_full_sqlite_database_is_full(tmp_path):
    engine, _ = _sqlite(tmp_path)
    with engine.connect() as connection:
        pages = connection.exec_driver_sql("PRAGMA page_count").scalar()
        connection.exec_driver_sql(f"PRAGMA max_page_count = {pages}")
        with pytest.raises(sa.exc.DBAPIError) as raised:
            connection.exec_driver_sql("INSERT INTO t SELECT zeroblob(100000)")
    assert dbfaults.classify(raised.value) is dbfaults.FULL
    engine.dispose()


def test_a_connection_opened_on_a_read_only_file_is_replaced_once_it_is_writable(tmp_path):
    if not can_protect_files(tmp_path):
        pytest.skip("cannot write-protect a file here (root without chattr)")
    engine, path = _sqlite(tmp_path)
    with sqlite_read_only(path):
        error = _error_of(
            engine.execution_options(laksa_reads_first=True), "INSERT INTO t VALUES (1)"
        )
        assert dbfaults.classify(error) in (dbfaults.READ_ONLY, dbfaults.UNAVAILABLE)
        with engine.connect() as connection:  # opened now: SQLite falls back to read-only
            assert connection.exec_driver_sql("SELECT count(*) FROM t").scalar() == 0
    with engine.begin() as connection:  # the same pool, and the write works at once
        connection.exec_driver_sql("INSERT INTO t VALUES (2)")
    engine.dispose()


def test_other_errors_are_not_faults(tmp_path):
    engine, _ = _sqlite(tmp_path)
    assert dbfaults.classify(_error_of(engine, "SELECT * FROM missing")) is None
    assert dbfaults.classify(ValueError("no")) is None
    engine.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("condition", "fault"),
    [
        ("admin_shutdown", dbfaults.UNAVAILABLE),
        ("cannot_connect_now", dbfaults.UNAVAILABLE),
        ("too_many_connections", dbfaults.UNAVAILABLE),
        ("read_only_sql_transaction", dbfaults.READ_ONLY),
        ("disk_full", dbfaults.FULL),
        ("lock_not_available", dbfaults.BUSY),
        ("deadlock_detected", dbfaults.BUSY),
        ("unique_violation", None),
        ("undefined_table", None),
    ],
)
def test_postgres_conditions_are_classified_by_sqlstate(postgres_url, condition, fault):
    engine = make_engine(postgres_url)
    raise_it = f"DO $$ BEGIN RAISE EXCEPTION 'test' USING ERRCODE = '{condition}'; END $$"
    assert dbfaults.classify(_error_of(engine, raise_it)) is fault
    engine.dispose()


@pytest.mark.postgres
def test_a_postgres_row_lock_held_elsewhere_gives_up_busy_within_the_lock_timeout(postgres_url):
    holder, web = make_engine(postgres_url), make_engine(postgres_url, waits=WEB)
    table = f"lock_{os.getpid()}_{time.monotonic_ns()}"
    with holder.begin() as connection:
        connection.exec_driver_sql(
            f"CREATE TABLE {table} (x INTEGER); INSERT INTO {table} VALUES (1)"
        )
    try:
        with holder.begin() as connection:
            connection.exec_driver_sql(f"SELECT * FROM {table} FOR UPDATE")
            started = time.monotonic()
            error = _error_of(web, f"SELECT * FROM {table} FOR UPDATE")
            waited = time.monotonic() - started
        assert dbfaults.classify(error) is dbfaults.BUSY
        assert waited < 4
    finally:
        with holder.begin() as connection:
            connection.exec_driver_sql(f"DROP TABLE {table}")
        holder.dispose()
        web.dispose()


def test_a_server_that_refuses_connections_is_unavailable_at_once():
    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    engine = make_engine(f"postgresql+psycopg://nobody@127.0.0.1:{port}/none", waits=WEB)
    started = time.monotonic()
    with pytest.raises(sa.exc.OperationalError) as raised, engine.connect():
        pass
    assert dbfaults.classify(raised.value) is dbfaults.UNAVAILABLE
    assert time.monotonic() - started < WEB.connect + 1
