"""Request input no view should have to think about, refused with a clear 4xx before any view
runs: NUL characters (PostgreSQL refuses them in text), lone surrogates (not encodable as UTF-8,
so no database stores them), JSON nested deeper than any LAKSA body, and JSON bodies to the API
larger than any LAKSA body."""

from __future__ import annotations

import json
from typing import Any

from flask import Flask
from flask import abort
from flask import request

API_PREFIX = "/api/"
MAX_JSON_BYTES = 1024 * 1024  # JSON bodies to the API; photos and files come as multipart
MAX_DEPTH = 32  # a ticket is 3 levels deep, form data 2


def init_app(app: Flask) -> None:
    @app.before_request
    def checked_input() -> None:
        if request.path.startswith(API_PREFIX) and request.is_json:
            # Flask reads this before the body: a larger body, chunked too, answers 413.
            limit = app.config.get("MAX_CONTENT_LENGTH")
            request.max_content_length = min(limit or MAX_JSON_BYTES, MAX_JSON_BYTES)
        if _has_nul():
            abort(400, "the request contains a NUL character")
        if request.method in ("POST", "PUT", "PATCH") and request.is_json:
            try:
                data = request.get_json(silent=True)
            except RecursionError:
                abort(400, f"the JSON body is nested deeper than {MAX_DEPTH} levels")
            check_value(data)


def loads(text: str) -> Any:
    """JSON text sent inside a form part, held to the rules of a JSON body (ValueError if bad)."""
    try:
        data = json.loads(text)
    except RecursionError:
        abort(400, f"the JSON is nested deeper than {MAX_DEPTH} levels")
    check_value(data)
    return data


def check_value(data: Any) -> None:
    """400 for JSON deeper than MAX_DEPTH or with a NUL or a lone surrogate in any string."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            _check_text(value)
        elif isinstance(value, dict | list):
            if depth > MAX_DEPTH:
                abort(400, f"the JSON is nested deeper than {MAX_DEPTH} levels")
            if isinstance(value, dict):
                for key in value:
                    _check_text(key)
            items = value.values() if isinstance(value, dict) else value
            stack.extend((item, depth + 1) for item in items)


def _check_text(text: str) -> None:
    if "\x00" in text:
        abort(400, "the request contains a NUL character")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        abort(400, "the request contains a lone surrogate (text that is not valid Unicode)")


def _has_nul() -> bool:
    if "\x00" in request.path:
        return True
    if any("\x00" in (k or "") + v for k, v in request.args.items(multi=True)):
        return True
    if request.method in ("POST", "PUT", "PATCH") and request.mimetype in (
        "multipart/form-data",
        "application/x-www-form-urlencoded",
    ):
        return any("\x00" in (k or "") + v for k, v in request.form.items(multi=True))
    return False
