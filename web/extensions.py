"""Flask extensions, created unbound here and bound to the app in create_app."""

from __future__ import annotations

import hashlib
import time

from flask import current_app
from flask import request
from flask_babel import Babel
from flask_limiter import ApplicationLimit
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFProtect
from limits.storage import MemoryStorage

PARTNER_KEY_SCHEME = "bearer lp_"


def presented_partner_key() -> str | None:
    """The partner key the request presents, unchecked: ``Authorization: Bearer lp_...``, or
    on Open311 the ``api_key`` field of the form or the query (GeoReport v2's place for it)."""
    header = request.headers.get("Authorization", "").strip()
    if header.lower().startswith(PARTNER_KEY_SCHEME):
        return header
    if request.path.startswith("/open311/"):
        given = request.values.get("api_key", "")
        if given.startswith(PARTNER_KEY_SCHEME.removeprefix("bearer ")):
            return "Bearer " + given
    return None


def partner_request() -> bool:
    """Whether the request carries a partner key (checked later, by the view)."""
    return presented_partner_key() is not None


def partner_limit() -> str:
    """The limit of each partner key (Flask-Limiter syntax; ``LAKSA_PARTNER_LIMIT``)."""
    return str(current_app.config["LAKSA_PARTNER_LIMIT"])


def partner_key_bucket() -> str:
    """One bucket per key: a hash of it, so counting needs no database and a guessed key never
    spends a real key's allowance."""
    key = presented_partner_key() or ""
    return "partner:" + hashlib.sha256(key.encode()).hexdigest()[:32]


class SweptMemoryStorage(MemoryStorage):
    """limits' memory storage, swept in line every few seconds instead of by a new thread.

    ``MemoryStorage`` starts a ``threading.Timer`` on every hit once its last one has run
    (10 ms after it started): a thread start per rate-limited request, 1-2 ms of a submission
    under gunicorn's threads. Counters and windows expire when read whatever the sweep does;
    the sweep only forgets keys nobody asks about any more.
    """

    STORAGE_SCHEME = ["laksa-memory"]
    SWEEP_SECONDS = 10.0

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: str):
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self._next_sweep = time.monotonic() + self.SWEEP_SECONDS

    def _sweep_now_and_then(self) -> None:
        now = time.monotonic()
        if now >= self._next_sweep:
            self._next_sweep = now + self.SWEEP_SECONDS
            self._MemoryStorage__expire_events()  # type: ignore[attr-defined]

    # What MemoryStorage calls on every hit (its __schedule_expiry, by its mangled name).
    _MemoryStorage__schedule_expiry = _sweep_now_and_then


babel = Babel()
csrf = CSRFProtect()
# Memory (SweptMemoryStorage) by default; Redis when LAKSA_REDIS_URL is set (see create_app).
# Partner keys are limited per key on every route; the public's submissions per address
# (web.security).
limiter = Limiter(
    key_func=get_remote_address,
    default_limits=[],
    headers_enabled=True,
    application_limits=[
        ApplicationLimit(
            partner_limit,
            key_function=partner_key_bucket,
            scope="partner_key",
            exempt_when=lambda: not partner_request(),
        )
    ],
)
