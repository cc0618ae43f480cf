"""HTTP as partners' clients expect it: the language asked for, conditional GETs, and CORS
for configured origins.

CORS is a few headers, so it is written here rather than taken from a library: only the
origins in ``LAKSA_CORS_ORIGINS`` get them, preflights (``OPTIONS``) are answered from the
route's own methods, and credentials (cookies) are never allowed cross-origin: partner
browsers send a bearer token, so the officers' session cannot be ridden from another site.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any
from typing import TypeVar
from typing import cast

from flask import Flask
from flask import Response
from flask import current_app
from flask import request

from engine.settings import Settings

F = TypeVar("F", bound=Callable[..., Any])
CORS_PATHS = ("/api/", "/open311/")
ALLOWED_HEADERS = (
    "Authorization",
    "Content-Type",
    "Accept-Language",
    "Idempotency-Key",
    "If-None-Match",
    "X-Reporter-Secret",
)
EXPOSED_HEADERS = ("Location", "ETag", "Idempotent-Replayed", "Retry-After", "WWW-Authenticate")
PREFLIGHT_SECONDS = 600

CONDITIONAL_DOC: dict[str, Any] = {
    "parameters": [
        {
            "in": "header",
            "name": "If-None-Match",
            "required": False,
            "schema": {"type": "string"},
            "description": "the ETag you hold: 304 without a body while it still matches",
        }
    ],
    "responses": {"304": {"description": "not modified since the ETag you hold"}},
}


def request_lang() -> str:
    """``?lang=``, else the best of id and en in Accept-Language, else id."""
    return request.args.get("lang") or (request.accept_languages.best_match(["id", "en"]) or "id")


def conditional(view: F) -> F:
    """An ETag over the answer's bytes, and 304 for a matching ``If-None-Match``.

    Put it above ``blp.response``. The ETag differs by viewer and language, as the body does;
    ``Vary`` says so to caches.
    """

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        response: Response = view(*args, **kwargs)
        if response.status_code != 200:
            return response
        response.add_etag()
        response.vary.update(("Accept-Language", "Authorization", "Cookie"))
        return response.make_conditional(request)

    return cast(F, wrapper)


def _allowed_origin() -> str | None:
    origin = request.headers.get("Origin")
    if not origin or not request.path.startswith(CORS_PATHS):
        return None
    settings: Settings = current_app.config["LAKSA_SETTINGS"]
    return origin if origin in settings.cors_origins else None


def _cors(response: Response) -> Response:
    if request.path.startswith(CORS_PATHS):
        response.vary.add("Origin")
    origin = _allowed_origin()
    if origin is None:
        return response
    response.headers["Access-Control-Allow-Origin"] = origin
    if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
        response.headers["Access-Control-Allow-Methods"] = response.headers.get("Allow", "")
        response.headers["Access-Control-Allow-Headers"] = ", ".join(ALLOWED_HEADERS)
        response.headers["Access-Control-Max-Age"] = str(PREFLIGHT_SECONDS)
    else:
        response.headers["Access-Control-Expose-Headers"] = ", ".join(EXPOSED_HEADERS)
    return response


def init_app(app: Flask) -> None:
    app.after_request(_cors)
