"""Who is calling: a bearer token (API), a signed-in officer (the web session), or nobody.

Officers sign in with username and password (Flask-Login over the stored scrypt hashes). The
session id names the user and a fingerprint of the password hash, so changing a password signs
out every other session. Sessions expire after ``LAKSA_SESSION_HOURS`` without a request.
"""

from __future__ import annotations

from datetime import UTC
from datetime import datetime

from flask import Flask
from flask import g
from flask import request
from flask_login import LoginManager
from flask_login import UserMixin
from flask_login import current_user

from engine.errors import Forbidden
from engine.errors import LaksaError
from engine.identity import VIA_SESSION
from engine.identity import Actor
from engine.identity import actor_for_token
from engine.identity import signed_in_user
from engine.models import User
from engine.partners import actor_for_partner_key
from engine.partners import is_partner_key
from web.session import db

login_manager = LoginManager()
login_manager.login_view = "officer.sign_in"
login_manager.session_protection = "basic"


class Unauthorized(LaksaError):
    code = "unauthorized"


class SignedIn(UserMixin):  # type: ignore[misc]
    """The session's view of a user: the actor commands run as, and the session id."""

    def __init__(self, user: User, actor: Actor) -> None:
        self.user = user
        self.actor = actor

    def get_id(self) -> str:
        return session_id(self.user)

    @property
    def is_active(self) -> bool:
        return bool(self.user.active)


def session_id(user: User) -> str:
    """The user's id and a fingerprint of the password hash: a new password ends old sessions."""
    return f"{user.id}.{user.password_hash[-12:]}"


def _load(value: str) -> SignedIn | None:
    user_id, _, fingerprint = value.partition(".")
    if not user_id.isdigit():
        return None
    found = signed_in_user(db(), int(user_id), via=VIA_SESSION)
    if found is None:
        return None
    user, actor = found
    if not user.active or user.password_hash[-12:] != fingerprint:
        return None
    return SignedIn(user, actor)


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.user_loader(_load)


def current_actor() -> Actor | None:
    """The authenticated actor of this request: the bearer token's (a user's API token or a
    partner's key, ``lp_...``), else the session's."""
    if "actor" in g:
        actor: Actor | None = g.actor
        return actor
    actor = None
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("use 'Authorization: Bearer <token>'")
        token = token.strip()
        if is_partner_key(token):
            actor = actor_for_partner_key(db(), token, now=datetime.now(UTC))
        else:
            actor = actor_for_token(db(), token, now=datetime.now(UTC))
        if actor is None:
            raise Unauthorized("unknown, expired or revoked token")
    elif current_user.is_authenticated:
        actor = current_user.actor
    g.actor = actor
    return actor


def require_actor() -> Actor:
    actor = current_actor()
    if actor is None:
        raise Unauthorized("authentication required")
    return actor


def require_scope(scope: str) -> Actor | None:
    """The request's actor, refused (403) when it is a partner key without ``scope``.

    Users' tokens, sessions and the public are not limited by scopes (their role decides).
    """
    actor = current_actor()
    if actor is not None and actor.partner_id is not None and scope not in actor.scopes:
        raise Forbidden(f"this partner key lacks the '{scope}' scope", fields={"scope": [scope]})
    return actor
