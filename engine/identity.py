"""Users, groups, API tokens and the actor a command runs as."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta

from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Session

from engine import dbfaults
from engine.errors import InvalidInput
from engine.models import ApiToken
from engine.models import Group
from engine.models import Membership
from engine.models import User

MIN_PASSWORD = 8
GROUP_KINDS = ("desk", "opd", "opd_head")
_LAST_USED_STEP = timedelta(minutes=1)
ROLES = ("citizen", "verifier", "officer", "opd_head", "supervisor", "designer", "auditor", "admin")
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
VIA_SESSION = "session"
VIA_TOKEN = "token:"  # noqa: S105 (a prefix: + the token's id, never its value)
VIA_PRIVATE_LINK = "private_link"
VIA_WEB_FORM = "web_form"
VIA_API = "api"
VIA_SYSTEM = "system"


@dataclass(frozen=True)
class Actor:
    """Who runs a command; ``name`` is what the audit trail records.

    ``via`` is what the command came through, recorded with each audit event: ``session`` (a
    signed-in web session), ``token:<id>`` (an API token), ``private_link`` (the reporter's
    secret), ``web_form`` or ``api`` (the public, unauthenticated), ``system``,
    ``partner_key:<id>`` (a partner system's key, engine.partners).
    """

    name: str
    role: str
    groups: frozenset[str] = frozenset()
    user_id: int | None = None
    via: str | None = None
    # A partner system's key (engine.partners): its partner and what the key may do. Users'
    # tokens and sessions carry no scopes and are not limited by them.
    partner_id: int | None = None
    scopes: frozenset[str] = frozenset()

    @classmethod
    def system(cls, what: str) -> Actor:
        return cls(name=f"system:{what}", role="system", via=VIA_SYSTEM)

    @classmethod
    def public(cls, via: str | None = None) -> Actor:
        return cls(name="public", role="citizen", via=via)


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
    _check_role_and_groups(session, role, groups)
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise InvalidInput(f"user '{username}' exists", fields={"username": ["already taken"]})
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


def actor_for(session: Session, user: User, *, via: str | None = None) -> Actor:
    groups = session.scalars(select(Membership.group_code).where(Membership.user_id == user.id))
    return Actor(
        name=f"user:{user.username}",
        role=user.role,
        groups=frozenset(groups),
        user_id=user.id,
        via=via,
    )


def signed_in_user(
    session: Session, user_id: int, *, via: str | None = None
) -> tuple[User, Actor] | None:
    """A user and the actor they act as, in one statement (read on every signed-in request)."""
    rows = session.execute(
        select(User, Membership.group_code)
        .outerjoin(Membership, Membership.user_id == User.id)
        .where(User.id == user_id)
    ).all()
    if not rows:
        return None
    user = rows[0][0]
    groups = frozenset(code for _, code in rows if code is not None)
    actor = Actor(
        name=f"user:{user.username}", role=user.role, groups=groups, user_id=user.id, via=via
    )
    return user, actor


def authenticate(session: Session, username: str, password: str) -> User | None:
    user = session.scalar(select(User).where(User.username == username, User.active))
    if user is None or not check_password(password, user.password_hash):
        return None
    return user


def create_token(
    session: Session,
    *,
    username: str,
    name: str,
    now: datetime,
    lifetime: timedelta | None = None,
) -> str:
    """Create an API token for a user (expiring after ``lifetime``); only its hash is stored."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise InvalidInput(f"no user '{username}'", fields={"username": ["unknown user"]})
    token = "lk_" + secrets.token_urlsafe(32)
    session.add(
        ApiToken(
            user_id=user.id,
            name=name,
            token_hash=_token_hash(token),
            created_at=now,
            expires_at=now + lifetime if lifetime is not None else None,
        )
    )
    return token


def user_for_token(session: Session, token: str, *, now: datetime | None = None) -> User | None:
    """The active user of a token that is neither revoked nor expired; notes its last use.

    The last use is written at most once a minute per token, in its own short transaction.
    """
    found = _token_user(session, token, now=now)
    return found[0] if found is not None else None


def actor_for_token(session: Session, token: str, *, now: datetime) -> Actor | None:
    """The actor of a valid token, ``via`` naming the token (``token:<id>``); None otherwise.

    Read on every API request, so one statement: the token, its user and the user's groups.
    """
    rows = session.execute(
        select(
            ApiToken.id,
            ApiToken.expires_at,
            ApiToken.last_used_at,
            User.id,
            User.username,
            User.role,
            User.active,
            Membership.group_code,
        )
        .join(User, User.id == ApiToken.user_id)
        .outerjoin(Membership, Membership.user_id == User.id)
        .where(ApiToken.token_hash == _token_hash(token), ApiToken.revoked_at.is_(None))
    ).all()
    if not rows:
        return None
    token_id, expires_at, last_used_at, user_id, username, role, active, _ = rows[0]
    if (expires_at is not None and expires_at <= now) or not active:
        return None
    _note_use(session, token_id, last_used_at, now)
    return Actor(
        name=f"user:{username}",
        role=role,
        groups=frozenset(row.group_code for row in rows if row.group_code is not None),
        user_id=user_id,
        via=f"{VIA_TOKEN}{token_id}",
    )


def _token_user(session: Session, token: str, *, now: datetime | None) -> tuple[User, int] | None:
    row = session.scalar(
        select(ApiToken).where(
            ApiToken.token_hash == _token_hash(token), ApiToken.revoked_at.is_(None)
        )
    )
    if row is None or (now is not None and row.expires_at is not None and row.expires_at <= now):
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        return None
    token_id = row.id
    if now is not None:
        _note_use(session, token_id, row.last_used_at, now)
    return user, token_id


def _note_use(
    session: Session, token_id: int, last_used_at: datetime | None, now: datetime
) -> None:
    """Write the token's last use, at most once a minute, in its own short transaction (let go
    when the database cannot take it: engine.dbfaults.write_unless_fault)."""
    if last_used_at is None or now - last_used_at > _LAST_USED_STEP:
        touch = update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=now)
        dbfaults.write_unless_fault(session, touch)


@dataclass(frozen=True)
class TokenInfo:
    id: int
    username: str
    name: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None

    def state(self, now: datetime) -> str:
        return credential_state(self.revoked_at, self.expires_at, now)


def credential_state(
    revoked_at: datetime | None, expires_at: datetime | None, now: datetime
) -> str:
    """An API token's or a partner key's state: "revoked", "expired" or "active"."""
    if revoked_at is not None:
        return "revoked"
    if expires_at is not None and expires_at <= now:
        return "expired"
    return "active"


def list_tokens(session: Session, *, username: str | None = None) -> list[TokenInfo]:
    """Every token (never its value), newest first; one user's when ``username`` is given."""
    query = (
        select(ApiToken, User.username)
        .join(User, User.id == ApiToken.user_id)
        .order_by(ApiToken.id.desc())
    )
    if username is not None:
        query = query.where(User.username == username)
    return [
        TokenInfo(t.id, name, t.name, t.created_at, t.expires_at, t.last_used_at, t.revoked_at)
        for t, name in session.execute(query)
    ]


def revoke_token(session: Session, *, token_id: int, now: datetime) -> bool:
    """Revoke a token; False if there is none or it was revoked already."""
    result = session.execute(
        update(ApiToken)
        .where(ApiToken.id == token_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return bool(getattr(result, "rowcount", 0))


def change_password(session: Session, *, user: User, current: str, new: str) -> None:
    """Change one's own password after checking the current one (at least 8 characters)."""
    if not check_password(current, user.password_hash):
        raise InvalidInput("wrong password", fields={"current": ["wrong password"]})
    if len(new) < MIN_PASSWORD:
        raise InvalidInput(
            "password too short", fields={"new": [f"at least {MIN_PASSWORD} characters"]}
        )
    user.password_hash = hash_password(new)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# -- administration: users, groups, memberships ---------------------------------------------


@dataclass(frozen=True)
class UserInfo:
    id: int
    username: str
    display_name: str
    role: str
    active: bool
    groups: tuple[str, ...]


def list_users(session: Session) -> list[UserInfo]:
    members: dict[int, list[str]] = {}
    for user_id, code in session.execute(
        select(Membership.user_id, Membership.group_code).order_by(Membership.group_code)
    ):
        members.setdefault(user_id, []).append(code)
    return [
        UserInfo(u.id, u.username, u.display_name, u.role, u.active, tuple(members.get(u.id, ())))
        for u in session.scalars(select(User).order_by(User.username))
    ]


def update_user(
    session: Session,
    *,
    user_id: int,
    display_name: str,
    role: str,
    groups: list[str],
    active: bool,
    password: str | None = None,
) -> User:
    """Change a user's name, role, groups and whether they may sign in; reset the password."""
    user = session.get(User, user_id)
    if user is None:
        raise InvalidInput(f"no user {user_id}", fields={"user": ["unknown user"]})
    _check_role_and_groups(session, role, groups)
    if password is not None:
        if len(password) < MIN_PASSWORD:
            raise InvalidInput(
                "password too short", fields={"password": [f"at least {MIN_PASSWORD} characters"]}
            )
        user.password_hash = hash_password(password)
    user.display_name, user.role, user.active = display_name or user.username, role, active
    held = select(Membership.group_code).where(Membership.user_id == user.id)
    current = set(session.scalars(held))
    session.execute(
        delete(Membership).where(
            Membership.user_id == user.id, Membership.group_code.in_(current - set(groups))
        )
    )
    session.add_all(
        Membership(user_id=user.id, group_code=g) for g in sorted(set(groups) - current)
    )
    return user


def _check_role_and_groups(session: Session, role: str, groups: list[str]) -> None:
    if role not in ROLES:
        raise InvalidInput(
            f"unknown role '{role}'", fields={"role": [f"one of {', '.join(ROLES)}"]}
        )
    missing = [g for g in groups if session.get(Group, g) is None]
    if missing:
        raise InvalidInput(f"unknown group(s) {', '.join(missing)}", fields={"group": missing})


def list_groups(session: Session) -> list[Group]:
    return list(session.scalars(select(Group).order_by(Group.kind, Group.code)))


def add_group(session: Session, *, code: str, name: str, kind: str) -> Group:
    """A new group (a desk, an OPD or an OPD's heads); its code is what lanes name."""
    if not code or not code.replace("_", "").isalnum() or code != code.lower():
        raise InvalidInput("bad code", fields={"code": ["lower-case letters, digits and _"]})
    if kind not in GROUP_KINDS:
        raise InvalidInput("bad kind", fields={"kind": [f"one of {', '.join(GROUP_KINDS)}"]})
    if session.get(Group, code) is not None:
        raise InvalidInput(f"group '{code}' exists", fields={"code": ["already taken"]})
    group = Group(code=code, name=name or code, kind=kind)
    session.add(group)
    return group
