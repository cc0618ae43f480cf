"""``Idempotency-Key`` on the API's creating requests (engine.idempotency holds the rules).

``@idempotent(Schema, status)`` goes right above the view function (below ``blp.response``):
the view does its work and returns its answer uncommitted, and this commits the transaction,
with the answer kept for the key when the request sent one. A retry gets that answer again
with ``Idempotent-Replayed: true``.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from datetime import UTC
from datetime import datetime
from typing import Any
from typing import TypeVar
from typing import cast

from flask import Response
from flask import current_app
from flask import request
from marshmallow import Schema

from engine import idempotency
from web.auth import current_actor
from web.session import db

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger(__name__)

DOC_PARAMETER = {
    "in": "header",
    "name": HEADER,
    "required": False,
    "schema": {
        "type": "string",
        "minLength": 16,
        "maxLength": 255,
        "pattern": "^[!-~]+$",  # visible ASCII: letters, digits, punctuation
    },
    "description": "a key of yours (a UUID) making a retry safe: the same key and body "
    "answer the first answer again (with Idempotent-Replayed: true) and create nothing; "
    "the same key with another body is 422, while the first is in progress 409; kept 24 h",
}


def request_fingerprint() -> str:
    """The fingerprint of this request: its JSON body, or its multipart parts."""
    parts: list[tuple[str, bytes]] = []
    body: bytes | None = None
    if request.mimetype == "multipart/form-data":
        for name, values in request.form.lists():
            parts.extend((f"form:{name}", v.encode()) for v in values)
        for name, upload in request.files.items(multi=True):
            parts.append((f"file:{name}", upload.stream.read()))
            upload.stream.seek(0)  # the view reads it again
    else:
        body = request.get_data(cache=True)
    return idempotency.fingerprint(request.method, request.path, body, parts)


def _replay(answer: idempotency.Answer) -> Response:
    response = cast(Response, current_app.json.response(current_app.json.loads(answer.body)))
    response.status_code = answer.status
    if answer.location:
        response.headers["Location"] = answer.location
    response.headers[REPLAYED] = "true"
    return response


def idempotent(schema: type[Schema], status: int = 200) -> Callable[[F], F]:
    """Commit the view's work, keeping its answer for the request's Idempotency-Key if any.

    The view returns its body, or ``(body, headers)``.
    """

    def decorate(view: F) -> F:
        answer_schema = schema()  # built once; dumping keeps no state on it

        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            session = db()
            claimed: idempotency.Claimed | None = None
            key = request.headers.get(HEADER)
            if key is not None:
                outcome = idempotency.claim(
                    session,
                    scope=idempotency.scope_of(current_actor()),
                    key=idempotency.check_key(key, field=HEADER),
                    fingerprint=request_fingerprint(),
                    now=datetime.now(UTC),
                )
                session.commit()
                if isinstance(outcome, idempotency.Answer):
                    return _replay(outcome)
                claimed = outcome
            try:
                returned = view(*args, **kwargs)
                body, headers = returned if isinstance(returned, tuple) else (returned, {})
                if claimed is not None:
                    idempotency.finish(
                        session,
                        claimed,
                        status=status,
                        body=current_app.json.dumps(answer_schema.dump(body)),
                        location=headers.get("Location"),
                    )
                session.commit()
            except BaseException:
                if claimed is not None:
                    _release(claimed)
                raise
            return body, status, headers

        return cast(F, wrapper)

    return decorate


def _release(claimed: idempotency.Claimed) -> None:
    session = db()
    try:
        session.rollback()
        idempotency.release(session, claimed)
        session.commit()
    except Exception:  # the claim's lease runs out instead
        log.exception("could not give an Idempotency-Key back")
        session.rollback()
