"""The request's database session, opened on first use and closed at teardown.

Its own module, so blueprints and the API reach the session without importing the app module.
"""

from __future__ import annotations

from flask import current_app
from flask import g
from sqlalchemy.orm import Session


def db() -> Session:
    """The request's session."""
    if "db" not in g:
        g.db = current_app.extensions["laksa_sessions"]()
    session: Session = g.db
    return session


def close(_exc: BaseException | None = None) -> None:
    session: Session | None = g.pop("db", None)
    if session is not None:
        session.close()


def rollback() -> None:
    session: Session | None = g.get("db")
    if session is not None:
        session.rollback()
