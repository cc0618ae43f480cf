"""``Idempotency-Key`` on the API's creating requests (engine.idempotency holds the rules).

``@idempotent(Schema, status)`` goes right above the view function (below ``blp.response``):
the view does its work and returns its answer uncommitted, and this commits the transaction,
with the answer kept for the key when the request sent one. A retry gets that answer again
with ``Idempotent-Replayed: true``.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
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
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from engine import dbfaults
from engine import idempotency
from engine.idempotency import Claimed
from web.auth import current_actor
from web.session import db

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger(__name__)
RELEASE_RETRY_SECONDS = 1.0

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
            claimed: Claimed | None = None
            scope, key = "", request.headers.get(HEADER)
            if key is not None:
                scope = idempotency.scope_of(current_actor())
                key = idempotency.check_key(key, field=HEADER)
                _unreleased.give_back(scope, key)  # a retry after a fault finds its key free
                outcome = idempotency.claim(
                    session,
                    scope=scope,
                    key=key,
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
                if claimed is not None and key is not None:
                    _release(scope, key, claimed)
                raise
            return body, status, headers

        return cast(F, wrapper)

    return decorate


def _release(scope: str, key: str, claimed: Claimed) -> None:
    session = db()
    try:
        session.rollback()
        idempotency.release(session, claimed)
        session.commit()
    except Exception as exc:
        session.rollback()
        if dbfaults.classify(exc) is None:
            log.exception("could not give an Idempotency-Key back")  # its lease runs out
            return
        # The database failed the request and refuses the release too: give the key back as
        # soon as it can, so the client's retry (after Retry-After) is not told "in progress".
        log.warning("Idempotency-Key claim %s is given back once the database is back", claimed.id)
        _unreleased.add(current_app.extensions["laksa_sessions"], scope, key, claimed)


class _Unreleased:
    """Claims of requests that failed on a database fault, given back by a thread of their own
    once the database takes changes again (and by the retry of the same key, if it comes to
    this process first)."""

    def __init__(self) -> None:
        self._claims: dict[tuple[str, str], tuple[sessionmaker[Session], Claimed, float]] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def add(self, factory: sessionmaker[Session], scope: str, key: str, claimed: Claimed) -> None:
        giving_up = time.monotonic() + idempotency.LEASE.total_seconds()
        with self._lock:
            self._claims[scope, key] = (factory, claimed, giving_up)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._retry, name="laksa-idempotency-release", daemon=True
                )
                self._thread.start()

    def give_back(self, scope: str, key: str) -> bool:
        """Try to give the claim of ``key`` back if it waits; False if that failed again."""
        with self._lock:
            waiting = self._claims.get((scope, key))
        if waiting is None:
            return True
        factory, claimed, giving_up = waiting
        try:
            with factory.begin() as session:
                idempotency.release(session, claimed)
        except Exception:  # still failing; past the lease a retry takes the claim over anyway
            if time.monotonic() < giving_up:
                return False
        with self._lock:
            if self._claims.get((scope, key)) == waiting:
                del self._claims[scope, key]
        return True

    def _retry(self) -> None:
        while True:
            with self._lock:
                waiting = list(self._claims)
            if not waiting:
                return
            for scope, key in waiting:
                if not self.give_back(scope, key):
                    break  # the database still fails: wait before trying the others
            time.sleep(RELEASE_RETRY_SECONDS)


_unreleased = _Unreleased()
