"""The Flask app factory."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask import g
from sqlalchemy.orm import Session

from engine.db import make_engine
from engine.db import make_session_factory
from engine.settings import Settings


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Create the app; ``test_config`` may carry SETTINGS (a Settings) and overrides."""
    app = Flask(__name__)
    config = dict(test_config or {})
    settings: Settings = config.pop("SETTINGS", None) or Settings.from_env()
    app.config.update(
        SECRET_KEY=settings.secret_key,
        LAKSA_SETTINGS=settings,
        MAX_CONTENT_LENGTH=16 * 1024 * 1024,
        JSON_SORT_KEYS=False,
    )
    app.config.update(config)
    engine = config.get("DB_ENGINE") or make_engine(settings.database_url)
    app.extensions["laksa_sessions"] = make_session_factory(engine)

    @app.teardown_appcontext
    def close_session(_exc: BaseException | None) -> None:
        session: Session | None = g.pop("db", None)
        if session is not None:
            session.close()

    from web import errors
    from web.api import init_api

    init_api(app)
    errors.register(app)  # after flask-smorest, so our error body wins
    return app


def db() -> Session:
    """The request's session, opened on first use and closed at teardown."""
    if "db" not in g:
        from flask import current_app

        g.db = current_app.extensions["laksa_sessions"]()
    session: Session = g.db
    return session
