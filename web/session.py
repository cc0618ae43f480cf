"""The request's database session, opened on first use and closed at teardown.

Its own module, so blueprints and the API reach the session without importing the app module.
A request that only reads (GET, HEAD, OPTIONS) gets a session whose transactions take no write
lock on SQLite, so pages keep answering while a writer holds it (engine/db.py).
"""

from __future__ import annotations

import logging

from flask import current_app
from flask import g
from flask import has_request_context
from flask import request
from sqlalchemy.orm import Session

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
log = logging.getLogger(__name__)


def db() -> Session:
    """The request's session."""
    if "db" not in g:
        reads = has_request_context() and request.method in READ_METHODS
        g.db = current_app.extensions["laksa_read_sessions" if reads else "laksa_sessions"]()
    session: Session = g.db
    return session


def close(_exc: BaseException | None = None) -> None:
    session: Session | None = g.pop("db", None)
    if session is not None:
        try:
            session.close()
        except Exception as exc:  # a connection the database dropped: the pool replaces it
            log.warning("closing the request's database session failed: %s", exc)


def rollback() -> None:
    """Roll the request's transaction back; on a connection that broke, drop the session."""
    session: Session | None = g.get("db")
    if session is None:
        return
    try:
        session.rollback()
    except Exception as exc:  # the error answer must not fail on the same fault
        log.warning("rolling the request's transaction back failed: %s", exc)
        close()
