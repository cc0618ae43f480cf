"""Users, groups, API tokens and the actor a command runs as."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import InvalidInput
from engine.models import ApiToken
from engine.models import Group
from engine.models import Membership
from engine.models import User

ROLES = ("citizen", "verifier", "officer", "opd_head", "supervisor", "designer", "auditor", "admin")
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


@dataclass(frozen=True)
class Actor:
    """Who runs a command; ``name`` is what the audit trail records."""

    name: str
    role: str
    groups: frozenset[str] = frozenset()
    user_id: int | None = None

    @classmethod
    def system(cls, what: str) -> Actor:
        return cls(name=f"system:{what}", role="system")

    @classmethod
    def public(cls) -> Actor:
        return cls(name="public", role="citizen")


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, **_SCRYPT)
    return f"scrypt${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    try:
        _, salt, digest = stored.split("$")
    except ValueError:
        return False
    candidate = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), **_SCRYPT)
    return hmac.compare_digest(candidate.hex(), digest)


def ensure_group(session: Session, *, code: str, name: str, kind: str) -> Group:
    group = session.get(Group, code)
    if group is None:
        group = Group(code=code, name=name, kind=kind)
        session.add(group)
    return group


def create_user(
    session: Session,
    *,
    username: str,
    password: str,
    role: str,
    groups: list[str],
    now: datetime,
    display_name: str | None = None,
) -> User:
    """Create a user in the given groups; the role must be one of ROLES."""
    if role not in ROLES:
        raise InvalidInput(
            f"unknown role '{role}'", fields={"role": [f"one of {', '.join(ROLES)}"]}
        )
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise InvalidInput(f"user '{username}' exists", fields={"username": ["already taken"]})
    missing = [g for g in groups if session.get(Group, g) is None]
    if missing:
        raise InvalidInput(f"unknown group(s) {', '.join(missing)}", fields={"group": missing})
    user = User(
        username=username,
        display_name=display_name or username,
        role=role,
        password_hash=hash_password(password),
        created_at=now,
    )
    session.add(user)
    session.flush()
    session.add_all(Membership(user_id=user.id, group_code=g) for g in groups)
    return user


def actor_for(session: Session, user: User) -> Actor:
    groups = session.scalars(select(Membership.group_code).where(Membership.user_id == user.id))
    return Actor(
        name=f"user:{user.username}", role=user.role, groups=frozenset(groups), user_id=user.id
    )


def authenticate(session: Session, username: str, password: str) -> User | None:
    user = session.scalar(select(User).where(User.username == username, User.active))
    if user is None or not check_password(password, user.password_hash):
        return None
    return user


def create_token(session: Session, *, username: str, name: str, now: datetime) -> str:
    """Create an API token for a user; only its hash is stored."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise InvalidInput(f"no user '{username}'", fields={"username": ["unknown user"]})
    token = "lk_" + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, name=name, token_hash=_token_hash(token), created_at=now))
    return token


def user_for_token(session: Session, token: str) -> User | None:
    row = session.scalar(
        select(ApiToken).where(
            ApiToken.token_hash == _token_hash(token), ApiToken.revoked_at.is_(None)
        )
    )
    if row is None:
        return None
    user = session.get(User, row.user_id)
    return user if user is not None and user.active else None


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
