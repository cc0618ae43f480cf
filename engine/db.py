"""Database plumbing: declarative base, engine and session factory."""

from __future__ import annotations

import enum
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import JSON
from sqlalchemy import MetaData
from sqlalchemy import event
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker
from sqlalchemy.types import TypeDecorator

from engine import dbfaults


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )
    type_annotation_map = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON,
        enum.Enum: sa.Enum(enum.Enum, native_enum=False, length=32),
    }


@dataclass(frozen=True)
class Waits:
    """How long a connection waits before it gives up and the caller answers a fault.

    ``busy``: SQLite, for another writer's lock; ``connect``: PostgreSQL, to connect;
    ``lock_ms`` and ``statement_ms``: PostgreSQL's lock_timeout and statement_timeout (None:
    the server's own); ``pool``: for a free pooled connection.
    """

    busy: float
    connect: int
    lock_ms: int | None
    statement_ms: int | None
    pool: float


# A web request answers within 5 s, a 503 with Retry-After if the database cannot serve it.
WEB = Waits(busy=3, connect=3, lock_ms=3000, statement_ms=4000, pool=3)
# The CLI, the sweeper and RQ jobs have nobody waiting on them: a busy database is worth a
# longer wait than a failed sweep that records an incident and backs off.
BACKGROUND = Waits(busy=30, connect=10, lock_ms=None, statement_ms=None, pool=30)

# Execution option of an engine whose transactions start without SQLite's write lock (see
# ``make_session_factory``); PostgreSQL ignores it.
READS_FIRST = "laksa_reads_first"


def make_engine(url: str, *, waits: Waits = BACKGROUND, **kwargs: Any) -> sa.Engine:
    """Create an engine; SQLite gets WAL, foreign keys and a busy timeout, PostgreSQL a pre-ping
    and the timeouts of ``waits``. Faults that break connections make the pool drop them."""
    if sa.make_url(url).database not in (None, "", ":memory:"):  # a pool of one otherwise
        kwargs.setdefault("pool_timeout", waits.pool)
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"timeout": waits.busy})
        engine = sa.create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        path = sa.make_url(url).database or ":memory:"
        event.listen(engine, "begin", _sqlite_begin_with(path, waits.busy))
    else:
        kwargs.setdefault("connect_args", _postgres_args(url, waits))
        engine = sa.create_engine(url, pool_pre_ping=True, **kwargs)
    dbfaults.watch(engine)
    return engine


def _postgres_args(url: str, waits: Waits) -> dict[str, Any]:
    """libpq's connect parameters: a connect timeout, keepalives so a vanished server is noticed,
    and the statement and lock timeouts (added to the URL's own ``options``)."""
    args: dict[str, Any] = {
        "connect_timeout": waits.connect,
        "keepalives": 1,
        "keepalives_idle": 10,
        "keepalives_interval": 2,
        "keepalives_count": 3,
    }
    settings = [
        f"-c {name}={ms}"
        for name, ms in (("lock_timeout", waits.lock_ms), ("statement_timeout", waits.statement_ms))
        if ms is not None
    ]
    if settings:
        own = sa.make_url(url).query.get("options")
        own = own if isinstance(own, str) else " ".join(own or ())
        args["options"] = " ".join([own, *settings]).strip()
        args["tcp_user_timeout"] = (waits.statement_ms or 0) + 1000
    return args


# This process's writers of each SQLite file take turns here before they ask SQLite for its
# write lock: SQLite's busy handler polls with growing sleeps, so among several waiting writers
# an unlucky one can keep losing for seconds; one poller at a time, woken in turn, cannot.
_write_turns: dict[str, threading.Lock] = {}
_turns_lock = threading.Lock()


# A turn that came within this many seconds leaves SQLite the whole ``busy`` wait (a few ms
# over at worst), so the connection's busy_timeout is not set again before every BEGIN.
_TURN_SLACK = 0.05
_BUSY_MS = "laksa_busy_ms"  # the busy_timeout last set on a pooled connection (its info)


def _write_turn(path: str) -> threading.Lock:
    with _turns_lock:
        return _write_turns.setdefault(path, threading.Lock())


def _sqlite_begin_with(path: str, busy: float) -> Callable[[sa.Connection], None]:
    turn = _write_turn(path)
    busy_ms = int(busy * 1000)

    def begin(conn: sa.Connection) -> None:
        # pysqlite's own transaction handling defers BEGIN (see _sqlite_pragmas). A
        # transaction that writes takes the write lock up front, so two writers serialize
        # instead of one failing on lock upgrade (in WAL mode a deferred transaction that read
        # before another writer committed cannot write at all: SQLITE_BUSY_SNAPSHOT). One that
        # only reads takes no lock and is never blocked by a writer.
        # (``read_only``: health checks and metrics, which only read, on any engine.)
        options = conn.get_execution_options()
        if options.get(READS_FIRST) or options.get("read_only"):
            conn.exec_driver_sql("BEGIN")
            return
        started = time.monotonic()
        my_turn = turn.acquire(timeout=busy)
        try:  # out of turn after ``busy``: SQLite answers at once, busy or not
            waited = time.monotonic() - started
            # What is left of ``busy`` for SQLite's own wait; a turn that came at once (the
            # usual case) leaves all of it, and the PRAGMA is sent only when the value changes.
            left = busy_ms if waited < _TURN_SLACK else max(0, int((busy - waited) * 1000))
            info = conn.connection.info
            if info.get(_BUSY_MS) != left:
                conn.exec_driver_sql(f"PRAGMA busy_timeout = {left}")
                info[_BUSY_MS] = left
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        finally:
            if my_turn:
                turn.release()

    return begin


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (see make_engine)
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def make_session_factory(engine: sa.Engine, *, reads_first: bool = False) -> sessionmaker[Session]:
    """Sessions that keep loaded values after commit (results are read after commits).

    ``reads_first``: for requests that read (a page, a GET): on SQLite their transactions take
    no write lock, so a writer holding it does not stop them; a write they make after all
    waits for the lock, or fails busy if another writer committed since they began.
    """
    bind = engine.execution_options(**{READS_FIRST: True}) if reads_first else engine
    return sessionmaker(bind, expire_on_commit=False)


def is_sqlite(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"
