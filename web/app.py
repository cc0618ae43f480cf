"""The Flask app factory."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from flask import Flask
from werkzeug.routing import IntegerConverter
from werkzeug.routing import Map

from engine.db import WEB
from engine.db import make_engine
from engine.db import make_session_factory
from engine.inputs import MAX_ID
from engine.media import media_store
from engine.settings import Settings
from web import session

# Public submissions per client address (Flask-Limiter syntax); LAKSA_SUBMIT_LIMIT overrides.
SUBMIT_LIMIT = "10 per minute;60 per day"
# Failed and successful sign-ins per address; LAKSA_SIGN_IN_LIMIT overrides.
SIGN_IN_LIMIT = "5 per minute;50 per hour"
# Requests per partner key (every route); LAKSA_PARTNER_LIMIT overrides.
PARTNER_LIMIT = "120 per minute;10000 per day"
SESSION_HOURS = 8  # an officer's session ends after this long without a request


class BoundedInt(IntegerConverter):
    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ID - 1)
        super().__init__(map, *args, **kwargs)


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Create the app; ``test_config`` may carry SETTINGS (a Settings) and overrides."""
    app = Flask(__name__)
    # An id in a URL fits the database's INTEGER columns (32 bits on PostgreSQL, so on SQLite
    # too); a larger one is a 404, not a 500.
    app.url_map.converters["int"] = BoundedInt
    config = dict(test_config or {})
    settings: Settings = config.pop("SETTINGS", None) or Settings.from_env()
    app.config.update(
        SECRET_KEY=settings.secret_key,
        LAKSA_SETTINGS=settings,
        # Five photos of 10 MB each and the form around them; a larger body answers 413.
        MAX_CONTENT_LENGTH=60 * 1024 * 1024,
        MAX_FORM_MEMORY_SIZE=1024 * 1024,
        JSON_SORT_KEYS=False,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        WTF_CSRF_TIME_LIMIT=None,  # a resident may take an hour over a report
        RATELIMIT_STORAGE_URI=settings.redis_url or "laksa-memory://",
        # Redis away: count in this process's memory until it answers again, never refuse
        RATELIMIT_IN_MEMORY_FALLBACK_ENABLED=True,
        RATELIMIT_SWALLOW_ERRORS=True,
        LAKSA_SUBMIT_LIMIT=os.environ.get("LAKSA_SUBMIT_LIMIT") or SUBMIT_LIMIT,
        LAKSA_SIGN_IN_LIMIT=os.environ.get("LAKSA_SIGN_IN_LIMIT") or SIGN_IN_LIMIT,
        LAKSA_PARTNER_LIMIT=os.environ.get("LAKSA_PARTNER_LIMIT") or PARTNER_LIMIT,
        PERMANENT_SESSION_LIFETIME=timedelta(
            hours=float(os.environ.get("LAKSA_SESSION_HOURS") or SESSION_HOURS)
        ),
        SESSION_REFRESH_EACH_REQUEST=True,
        LAKSA_TILE_URL=os.environ.get("LAKSA_TILE_URL") or None,
        LAKSA_TILE_ATTRIBUTION=os.environ.get("LAKSA_TILE_ATTRIBUTION") or "",
    )
    app.config.update(config)
    engine = config.get("DB_ENGINE") or make_engine(settings.database_url, waits=WEB)
    app.extensions["laksa_sessions"] = make_session_factory(engine)
    app.extensions["laksa_read_sessions"] = make_session_factory(engine, reads_first=True)
    app.extensions["laksa_media"] = config.get("MEDIA_STORE") or media_store(settings.home)
    app.teardown_appcontext(session.close)
    app.jinja_env.add_extension("jinja2.ext.do")

    from web import auth
    from web import errors
    from web import i18n
    from web import ops
    from web import security
    from web import telemetry
    from web.admin import blp as admin_blp
    from web.api import init_api
    from web.auditor import blp as auditor_blp
    from web.designer import blp as designer_blp
    from web.officer import blp as officer_blp
    from web.open311 import blp as open311_blp
    from web.public import blp as public_blp
    from web.reporter import blp as reporter_blp

    telemetry.init_app(app)  # first: the request's id and clock before any other hook
    i18n.init_app(app)
    security.init_app(app)
    auth.init_app(app)
    app.register_blueprint(public_blp)
    app.register_blueprint(reporter_blp)
    app.register_blueprint(officer_blp)
    app.register_blueprint(admin_blp)
    app.register_blueprint(designer_blp)
    app.register_blueprint(auditor_blp)
    app.register_blueprint(open311_blp)
    init_api(app)
    ops.init_app(app)
    errors.register(app)  # after flask-smorest, so our error body wins
    return app
