"""CSRF on every form, rate limits on public submissions, and the headers every answer carries."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask
from flask import Response
from flask import current_app
from flask import request

from web import inputs
from web.extensions import csrf
from web.extensions import limiter

API_PREFIX = "/api/"
OPEN311_PREFIX = "/open311/"  # partners' systems post forms with an api_key, not a session


def init_app(app: Flask) -> None:
    # The JSON API authenticates with bearer tokens and takes JSON or multipart from apps, not
    # forms from browsers' sessions, and Open311 takes an api_key in the form: pages are
    # checked here, the APIs are not.
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    inputs.init_app(app)  # NUL, surrogates, depth and size: before any form or body is read
    csrf.init_app(app)
    limiter.init_app(app)

    @app.before_request
    def protect_forms() -> None:
        if not request.path.startswith((API_PREFIX, OPEN311_PREFIX)):
            csrf.protect()

    @app.after_request
    def headers(response: Response) -> Response:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if response.mimetype == "text/html":
            response.headers.setdefault("Content-Security-Policy", _csp())
        return response


def submit_limit() -> str:
    """The rate limit of public submissions (pages and API alike)."""
    return str(current_app.config["LAKSA_SUBMIT_LIMIT"])


def _csp() -> str:
    images = ["'self'", "data:", "blob:"]
    tiles = current_app.config.get("LAKSA_TILE_URL")
    if tiles:  # a subdomain placeholder ({s}.tile.example) becomes a wildcard
        parts = urlsplit(tiles.replace("{s}", "*"))
        if parts.scheme and parts.netloc:
            images.append(f"{parts.scheme}://{parts.netloc}")
    return (
        "default-src 'self'; "
        f"img-src {' '.join(images)}; "
        "script-src 'self'; style-src 'self'; object-src 'none'; base-uri 'none'; "
        "frame-ancestors 'none'; form-action 'self'"
    )
