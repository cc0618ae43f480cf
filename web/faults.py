"""Database faults answered 503 with ``Retry-After`` (engine/dbfaults.py says which errors are
faults): the JSON error body on the API, Open311's own error list on Open311, a page saying
what happened elsewhere. One log line each, never a traceback; the request's transaction is
rolled back."""

from __future__ import annotations

import logging

from flask import Response
from flask import current_app
from flask import g
from flask import render_template
from flask import request

from engine import dbfaults
from engine.dbfaults import Fault
from web.session import rollback

log = logging.getLogger(__name__)
STATUS = 503


def fault_of(exc: BaseException) -> Fault | None:
    """The database fault behind ``exc``, rolled back and logged; None for any other error."""
    fault = dbfaults.classify(exc)
    if fault is None:
        return None
    rollback()
    reason = (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [""])[0]
    log.warning(
        "database fault %s on %s %s: %s", fault.code, request.method, request.path, reason[:300]
    )
    return fault


def with_retry_after(response: Response, fault: Fault) -> Response:
    response.headers["Retry-After"] = str(fault.retry_after)
    return response


def fault_page(fault: Fault) -> Response:
    """The page: what happened and whether the visitor's changes were kept."""
    # The page is drawn for a visitor who is not signed in: the signed-in user's row was
    # rolled back with the rest, and loading it again needs the database that just failed.
    g._login_user = current_app.login_manager.anonymous_user()  # type: ignore[attr-defined]
    page = render_template(
        "error.html",
        status=STATUS,
        fault=fault.code,
        writing=request.method not in ("GET", "HEAD", "OPTIONS"),
    )
    response = current_app.make_response((page, STATUS))
    return with_retry_after(response, fault)
