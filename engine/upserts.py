"""Counter rows moved by upserts: one cached statement per table, rows sent as an executemany.

A multi-row ``VALUES`` statement is a new SQL text for every row count and SQLAlchemy compiles
it anew on every command (most of a command's cost was that compilation); one upsert statement
executed over a list of parameter sets is compiled once per process, and the driver sends the
rows in one call (psycopg pipelines them). Rows are applied in the order given, so callers that
sort their rows keep a fixed lock order.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any
from typing import Literal

from sqlalchemy import Connection
from sqlalchemy import Table
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects import sqlite

Mode = Literal["add", "keep", "replace"]


def upsert(
    conn: Connection,
    table: Table,
    rows: Sequence[dict[str, Any]],
    keys: Sequence[str],
    column: str,
    mode: Mode,
) -> None:
    """Insert ``rows``; where a row of the same ``keys`` exists, ``add`` the row's ``column``
    to it, ``keep`` it as it is (the row is only locked), or ``replace`` it."""
    if rows:
        conn.execute(_statement(conn.dialect.name, table, tuple(keys), column, mode), list(rows))


@lru_cache(maxsize=64)
def _statement(dialect: str, table: Table, keys: tuple[str, ...], column: str, mode: Mode) -> Any:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(table)
    if mode == "add":
        change = {column: table.c[column] + statement.excluded[column]}
    elif mode == "keep":
        change = {column: table.c[column]}
    else:
        change = {column: statement.excluded[column]}
    return statement.on_conflict_do_update(index_elements=list(keys), set_=change)
