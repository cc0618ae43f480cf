"""One place that turns errors into answers: the JSON error body of DESIGN.md for the API, a
page in the visitor's language for everything else; never a traceback."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask
from flask import Response
from flask import current_app
from flask import jsonify
from flask import render_template
from flask import request
from werkzeug.exceptions import BadRequest
from werkzeug.exceptions import HTTPException
from werkzeug.exceptions import MethodNotAllowed

from engine import errors
from web import faults
from web.open311.render import error_answer as open311_error
from web.open311.render import format_of
from web.security import OPEN311_PREFIX
from web.session import rollback

log = logging.getLogger(__name__)
BEARER_CHALLENGE = 'Bearer realm="laksa"'

_STATUS = {
    errors.TooLarge: 413,
    errors.InvalidInput: 422,
    errors.NotFound: 404,
    errors.Forbidden: 403,
    errors.Conflict: 409,
    errors.NotDeployed: 503,
    errors.WorkflowFailed: 422,
}


def error_response(
    status: int, code: str, message: str, fields: dict[str, Any] | None = None
) -> tuple[Response, int]:
    body: dict[str, Any] = {"code": code, "message": message}
    if fields:
        body["fields"] = fields
    return jsonify({"error": body}), status


def _takes_multipart(app: Flask) -> bool:
    """Whether the endpoint takes photos as multipart (its view class says ``multipart = True``)."""
    view = app.view_functions.get(request.endpoint or "")
    return bool(getattr(getattr(view, "view_class", None), "multipart", False))


def _view_method(app: Flask) -> Any:
    """The view class's method answering this request, if the endpoint is a MethodView."""
    view = app.view_functions.get(request.endpoint or "")
    return getattr(getattr(view, "view_class", None), request.method.lower(), None)


def _has_body() -> bool:
    """Whether the request carries a body: a length, or chunks whose length nobody said."""
    chunked = "chunked" in request.headers.get("Transfer-Encoding", "").lower()
    return bool(request.content_length) or chunked


def _wants_json() -> bool:
    return request.path.startswith(("/api/", "/open311/", "/desain/api/"))


def page_error(status: int, message: str | None = None) -> tuple[str, int]:
    """The error page: a plain explanation and the way back, in the visitor's language."""
    return render_template("error.html", status=status, message=message), status


def register(app: Flask) -> None:
    from web.auth import Unauthorized
    from web.auth import authenticate_first

    _STATUS[Unauthorized] = 401

    @app.before_request
    def json_bodies_only() -> tuple[Response, int] | None:
        if (
            request.routing_exception is None  # an unknown path or method: 404 or 405 first
            and request.path.startswith("/api/")
            and request.method in ("POST", "PUT", "PATCH")
            and _has_body()
            and not request.is_json
            and not (request.mimetype == "multipart/form-data" and _takes_multipart(app))
        ):
            authenticate_first(_view_method(app))  # 401 before 415
            return error_response(
                415,
                "unsupported_media_type",
                "send the body as application/json (or multipart/form-data with photos)",
            )
        return None

    @app.errorhandler(errors.LaksaError)
    def domain_error(exc: errors.LaksaError) -> tuple[Response | str, int]:
        rollback()
        status = next((s for cls, s in _STATUS.items() if isinstance(exc, cls)), 400)
        if not _wants_json():
            return page_error(status)
        response, status = error_response(status, exc.code, exc.message, exc.fields or None)
        if status == 401:
            response.headers["WWW-Authenticate"] = BEARER_CHALLENGE
        return response, status

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> tuple[Response | str, int]:
        rollback()
        if request.path.startswith(OPEN311_PREFIX):  # no route matched: Open311's own format
            message = exc.description or exc.name
            return open311_error(format_of(request.path), exc.code or 500, message), exc.code or 500
        status = exc.code or 500
        allow = exc.valid_methods if isinstance(exc, MethodNotAllowed) else None
        if not _wants_json():
            page, status = page_error(status)
            return _with_allow(current_app.make_response(page), allow), status
        fields = None
        data = getattr(exc, "data", None)  # flask-smorest / webargs validation messages
        if isinstance(data, dict) and "messages" in data:
            fields = _flatten(data["messages"])
        code = {
            400: "bad_request",
            401: "unauthorized",
            403: "forbidden",
            404: "not_found",
            405: "method_not_allowed",
            409: "conflict",
            413: "too_large",
            415: "unsupported_media_type",
            422: "invalid_input",
            429: "too_many_requests",
        }.get(status, "error")
        message = exc.description or exc.name
        if status == 400 and request.is_json and not fields and message == BadRequest.description:
            # webargs aborts with messages {"json": ["Invalid JSON body."]}, which flattens
            # to no fields: say what is wrong instead of werkzeug's generic 400 text.
            message = "the request body is not valid JSON"
        if status == 413:
            limit = request.max_content_length or current_app.config.get("MAX_CONTENT_LENGTH")
            message = f"the request body is larger than the limit of {limit} bytes"
        if status == 422 and fields:
            message = "the request has invalid fields"
        response, status = error_response(status, code, message, fields)
        for name, value in exc.get_headers():  # Retry-After on a 429
            if name.lower() not in ("content-type", "allow"):
                response.headers[name] = value
        if status == 401:
            response.headers["WWW-Authenticate"] = BEARER_CHALLENGE
        return _with_allow(response, allow), status

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> tuple[Response | str, int]:
        fault = faults.fault_of(exc)
        if fault is not None:  # the database cannot serve now: 503, try again later
            if not _wants_json():
                return faults.fault_page(fault), faults.STATUS
            response, status = error_response(faults.STATUS, fault.code, fault.message)
            return faults.with_retry_after(response, fault), status
        rollback()
        log.exception("unhandled error")
        if not _wants_json():
            return page_error(500)
        return error_response(500, "internal_error", "something went wrong on our side")


def _with_allow(response: Response, allow: Any) -> Response:
    """A 405 says which methods the resource takes (RFC 9110 15.5.6)."""
    if allow:
        response.headers["Allow"] = ", ".join(sorted(allow))
    return response


def _flatten(messages: Any) -> dict[str, Any]:
    """webargs nests messages by location (json, query...); clients want field -> messages."""
    if isinstance(messages, dict) and set(messages) <= {
        "json",
        "query",
        "form",
        "files",
        "headers",
        "view_args",
    }:
        flat: dict[str, Any] = {}
        for value in messages.values():
            if isinstance(value, dict):
                flat.update(value)
        return flat
    return messages if isinstance(messages, dict) else {"_request": messages}
