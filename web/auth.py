"""Who is calling: a bearer token (API) or nobody (public endpoints)."""

from __future__ import annotations

from flask import g
from flask import request

from engine.errors import LaksaError
from engine.identity import Actor
from engine.identity import actor_for
from engine.identity import user_for_token
from web.session import db


class Unauthorized(LaksaError):
    code = "unauthorized"


def current_actor() -> Actor | None:
    """The authenticated actor of this request, if any."""
    if "actor" in g:
        actor: Actor | None = g.actor
        return actor
    actor = None
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("use 'Authorization: Bearer <token>'")
        user = user_for_token(db(), token.strip())
        if user is None:
            raise Unauthorized("unknown or revoked token")
        actor = actor_for(db(), user)
    g.actor = actor
    return actor


def require_actor() -> Actor:
    actor = current_actor()
    if actor is None:
        raise Unauthorized("authentication required")
    return actor
