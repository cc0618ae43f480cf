"""Database faults: the errors that say the database cannot serve now, not that a request is wrong.

A fault passes by itself: the server comes back, the disk gets space, the other writer lets go.
The web layer answers it with 503 and ``Retry-After`` (web/faults.py); anything not classified
here (an integrity error, a bug) is handled where it is today. ``watch`` marks the faults that
leave a connection unusable (the server gone, a connection opened while the database was
read-only, which stays read-only) as disconnects, so the pool replaces its connections and the
first request after the fault gets a fresh one.
"""

from __future__ import annotations

import os
import sqlite3
import time
from dataclasses import dataclass
from typing import Any
from typing import Final

import psycopg
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.orm import Session
from sqlalchemy.pool import ConnectionPoolEntry


@dataclass(frozen=True)
class Fault:
    """What went wrong, in the API's error code and message, and when to try again."""

    code: str  # unavailable | read_only | full | busy
    message: str
    retry_after: int  # seconds
    reconnect: bool  # the connection that saw it must not be used again


UNAVAILABLE: Final = Fault(
    "unavailable", "the database cannot be reached right now; try again shortly", 5, True
)
READ_ONLY: Final = Fault(
    "read_only",
    "the database takes no changes right now (read-only); reading works, try changes again later",
    30,
    True,
)
FULL: Final = Fault(
    "full", "the database has no space left for changes; try again later", 30, False
)
BUSY: Final = Fault(
    "busy", "the database is busy with other changes; try again in a moment", 2, False
)

# PostgreSQL SQLSTATEs (Appendix A of its manual); a class is the first two characters.
_PG_CLASSES = {"08": UNAVAILABLE}  # connection exception
_PG_STATES = {
    "57P01": UNAVAILABLE,  # admin_shutdown: the server is stopping
    "57P02": UNAVAILABLE,  # crash_shutdown
    "57P03": UNAVAILABLE,  # cannot_connect_now: starting up, recovering
    "53300": UNAVAILABLE,  # too_many_connections
    "53200": UNAVAILABLE,  # out_of_memory
    "58030": UNAVAILABLE,  # io_error
    "25006": READ_ONLY,  # read_only_sql_transaction (a standby, default_transaction_read_only)
    "53100": FULL,  # disk_full
    "55P03": BUSY,  # lock_not_available: lock_timeout
    "57014": BUSY,  # query_canceled: statement_timeout
    "40P01": BUSY,  # deadlock_detected: one side is cancelled, a retry goes through
}
# SQLite primary result codes (https://sqlite.org/rescode.html).
_SQLITE_CODES = {
    5: BUSY,  # SQLITE_BUSY: another connection holds the write lock past the busy timeout
    6: BUSY,  # SQLITE_LOCKED
    8: READ_ONLY,  # SQLITE_READONLY: the file (or its -wal/-shm) cannot be written
    10: UNAVAILABLE,  # SQLITE_IOERR
    13: FULL,  # SQLITE_FULL
    14: UNAVAILABLE,  # SQLITE_CANTOPEN
    15: UNAVAILABLE,  # SQLITE_PROTOCOL
}


def classify(exc: BaseException) -> Fault | None:
    """The fault ``exc`` (or an error it was raised from) reports, or None for other errors."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        fault = _fault_of(current)
        if fault is not None:
            return fault
        if isinstance(current, sa.exc.DBAPIError) and current.orig is not None:
            fault = _fault_of(current.orig)
            if fault is not None:
                return fault
        current = current.__cause__ or current.__context__
    return None


def _fault_of(exc: BaseException) -> Fault | None:
    if isinstance(exc, sa.exc.TimeoutError):  # no pooled connection came free in time
        return BUSY
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        return _SQLITE_CODES.get(code & 0xFF) if isinstance(code, int) else None
    state = getattr(exc, "sqlstate", None)  # psycopg's errors carry it
    if isinstance(state, str):
        return _PG_STATES.get(state) or _PG_CLASSES.get(state[:2])
    if isinstance(exc, psycopg.OperationalError):
        # no SQLSTATE: the driver's own failure to connect, or a connection that broke
        return UNAVAILABLE
    return None


def _mark_disconnect(ctx: ExceptionContext) -> None:
    fault = _fault_of(ctx.original_exception)
    if fault is not None and fault.reconnect:
        ctx.is_disconnect = True
        ctx.invalidate_pool_on_disconnect = True  # its siblings may be as broken as it is


def watch(engine: sa.Engine) -> None:
    """Have ``engine``'s pool drop connections that a fault left unusable, and those opened
    while the database was read-only once it may take changes again."""
    event.listen(engine, "handle_error", _mark_disconnect)
    if engine.dialect.name == "sqlite":
        path = engine.url.database
        if path and path != ":memory:" and not path.startswith("file:"):
            _watch_sqlite_file(engine, path)
    elif engine.dialect.name == "postgresql":
        event.listen(engine, "connect", _note_postgres_read_only)
        event.listen(engine, "checkout", _renew_postgres_read_only)


OPENED_READ_ONLY = "laksa_opened_read_only"
# A PostgreSQL connection that opened read-only (a standby, default_transaction_read_only)
# stays so; it is replaced after this long, so writes work soon after the database does.
READ_ONLY_RENEW_SECONDS = 2.0


def _watch_sqlite_file(engine: sa.Engine, path: str) -> None:
    # SQLite opens a file it may not write read-only, silently, and the connection stays
    # read-only after the file becomes writable again.
    files = (path, f"{path}-wal")

    def writable() -> bool:
        return all(os.access(f, os.W_OK) for f in files if os.path.exists(f))

    @event.listens_for(engine, "connect")
    def note(_dbapi_conn: Any, record: ConnectionPoolEntry) -> None:
        record.info[OPENED_READ_ONLY] = not writable()

    @event.listens_for(engine, "checkout")
    def renew(_dbapi_conn: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
        if record.info.get(OPENED_READ_ONLY) and writable():
            raise sa.exc.DisconnectionError("opened while the database file was read-only")


def _note_postgres_read_only(dbapi_conn: Any, record: ConnectionPoolEntry) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("SHOW transaction_read_only")
    (read_only,) = cursor.fetchone()
    cursor.close()
    dbapi_conn.rollback()
    if read_only == "on":
        record.info[OPENED_READ_ONLY] = time.monotonic()


def _renew_postgres_read_only(_dbapi_conn: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
    opened = record.info.get(OPENED_READ_ONLY)
    if opened is not None and time.monotonic() - opened > READ_ONLY_RENEW_SECONDS:
        raise sa.exc.DisconnectionError("opened while the database was read-only")


def write_unless_fault(session: Session, statement: sa.Executable) -> None:
    """Execute and commit a write that may be lost (a token's last use), unless the database
    cannot take it now: then roll it back and let the request go on reading."""
    try:
        session.execute(statement)
        session.commit()
    except sa.exc.DBAPIError as exc:
        if classify(exc) is None:
            raise
        session.rollback()
