"""Flask extensions, created unbound here and bound to the app in create_app."""

from __future__ import annotations

import hashlib

from flask import current_app
from flask import request
from flask_babel import Babel
from flask_limiter import ApplicationLimit
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFProtect

PARTNER_KEY_SCHEME = "bearer lp_"


def partner_request() -> bool:
    """Whether the request carries a partner key (``Authorization: Bearer lp_...``)."""
    return request.headers.get("Authorization", "").lower().startswith(PARTNER_KEY_SCHEME)


def partner_limit() -> str:
    """The limit of each partner key (Flask-Limiter syntax; ``LAKSA_PARTNER_LIMIT``)."""
    return str(current_app.config["LAKSA_PARTNER_LIMIT"])


def partner_key_bucket() -> str:
    """One bucket per key: a hash of the header, so counting needs no database and a guessed
    key never spends a real key's allowance."""
    header = request.headers.get("Authorization", "")
    return "partner:" + hashlib.sha256(header.strip().encode()).hexdigest()[:32]


babel = Babel()
csrf = CSRFProtect()
# Memory by default; Redis when LAKSA_REDIS_URL is set (see create_app). Partner keys are
# limited per key on every route; the public's submissions per address (web.security).
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
