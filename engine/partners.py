"""Partner systems and their API keys: who they are, what each key may do, the actor it runs as.

A key reads ``lp_<prefix>_<secret>``: the prefix (public, unique) finds the row, the SHA-256 of
the whole key is compared in constant time; the key itself is shown once and never stored. A
key carries scopes: ``submit`` (report tickets), ``read`` (list and read the partner's own
tickets), ``follow`` (answer, confirm or dispute for the reporter of its own tickets). A
partner acts with the citizen role: it sees what the public sees, and its own tickets as their
reporter would.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta

from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Session

from engine import dbfaults
from engine.errors import InvalidInput
from engine.errors import NotFound
from engine.identity import Actor
from engine.identity import credential_state
from engine.models import Partner
from engine.models import PartnerKey
from engine.models import Ticket

SUBMIT = "submit"
READ = "read"
FOLLOW = "follow"
SCOPES = (SUBMIT, READ, FOLLOW)
KEY_PREFIX = "lp_"
VIA_PARTNER_KEY = "partner_key:"  # + the key's id, never its value
_CODE = re.compile(r"^[a-z0-9][a-z0-9-]{1,38}[a-z0-9]$")
_LAST_USED_STEP = timedelta(minutes=1)


def is_partner_key(value: str) -> bool:
    return value.startswith(KEY_PREFIX)


def create_partner(session: Session, *, code: str, name: str, now: datetime) -> Partner:
    """A new partner; ``code`` is a slug (lower-case letters, digits and dashes, 3-40)."""
    code = code.strip()
    if not _CODE.match(code):
        raise InvalidInput(
            "bad code", fields={"code": ["3 to 40 lower-case letters, digits and dashes"]}
        )
    if session.scalar(select(Partner.id).where(Partner.code == code)) is not None:
        raise InvalidInput(f"partner '{code}' exists", fields={"code": ["already taken"]})
    name = name.strip() or code
    if len(name) > 200:
        raise InvalidInput("name too long", fields={"name": ["at most 200 characters"]})
    partner = Partner(code=code, name=name, active=True, created_at=now)
    session.add(partner)
    session.flush()
    return partner


def partner_by_code(session: Session, code: str) -> Partner:
    partner = session.scalar(select(Partner).where(Partner.code == code))
    if partner is None:
        raise NotFound(f"no partner '{code}'")
    return partner


def set_active(session: Session, *, code: str, active: bool) -> Partner:
    """Switch a partner on or off; an inactive partner's keys and webhooks do nothing."""
    partner = partner_by_code(session, code)
    partner.active = active
    return partner


@dataclass(frozen=True)
class PartnerInfo:
    id: int
    code: str
    name: str
    active: bool
    created_at: datetime
    keys: int  # usable keys: neither revoked nor expired
    tickets: int


def list_partners(session: Session, *, now: datetime) -> list[PartnerInfo]:
    """Every partner with its usable keys and the tickets it submitted, by code."""
    usable = (
        select(PartnerKey.partner_id, func.count().label("n"))
        .where(
            PartnerKey.revoked_at.is_(None),
            (PartnerKey.expires_at.is_(None)) | (PartnerKey.expires_at > now),
        )
        .group_by(PartnerKey.partner_id)
        .subquery()
    )
    tickets = (
        select(Ticket.partner_id, func.count().label("n"))
        .where(Ticket.partner_id.is_not(None))
        .group_by(Ticket.partner_id)
        .subquery()
    )
    rows = session.execute(
        select(Partner, func.coalesce(usable.c.n, 0), func.coalesce(tickets.c.n, 0))
        .outerjoin(usable, usable.c.partner_id == Partner.id)
        .outerjoin(tickets, tickets.c.partner_id == Partner.id)
        .order_by(Partner.code)
    ).all()
    return [
        PartnerInfo(p.id, p.code, p.name, p.active, p.created_at, int(k), int(t))
        for p, k, t in rows
    ]


def parse_scopes(scopes: Iterable[str]) -> tuple[str, ...]:
    """Known scopes in their canonical order; an unknown one is refused, none is refused."""
    given = {s.strip() for s in scopes if s.strip()}
    unknown = sorted(given - set(SCOPES))
    if unknown:
        raise InvalidInput(
            f"unknown scope(s) {', '.join(unknown)}", fields={"scopes": [f"one of {SCOPES}"]}
        )
    if not given:
        raise InvalidInput("no scope", fields={"scopes": ["give at least one scope"]})
    return tuple(s for s in SCOPES if s in given)


def create_key(
    session: Session,
    *,
    partner_code: str,
    scopes: Iterable[str],
    now: datetime,
    lifetime: timedelta | None = None,
) -> tuple[PartnerKey, str]:
    """A new key for a partner and its plaintext (shown once; only its hash is kept)."""
    partner = partner_by_code(session, partner_code)
    chosen = parse_scopes(scopes)
    prefix = secrets.token_hex(6)
    key = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    row = PartnerKey(
        partner_id=partner.id,
        prefix=prefix,
        key_hash=key_hash(key),
        scopes=" ".join(chosen),
        created_at=now,
        expires_at=now + lifetime if lifetime is not None else None,
    )
    session.add(row)
    session.flush()
    return row, key


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _prefix(key: str) -> str | None:
    if not is_partner_key(key):
        return None
    prefix, sep, secret = key[len(KEY_PREFIX) :].partition("_")
    if not sep or not secret or len(prefix) != 12:
        return None
    return prefix


def actor_for_partner_key(session: Session, key: str, *, now: datetime) -> Actor | None:
    """The actor of a valid key (``via`` = ``partner_key:<id>``); None for a wrong, revoked or
    expired key or an inactive partner. The last use is written at most once a minute."""
    prefix = _prefix(key)
    if prefix is None:
        return None
    found = session.execute(
        select(PartnerKey, Partner)
        .join(Partner, Partner.id == PartnerKey.partner_id)
        .where(PartnerKey.prefix == prefix)
    ).first()
    if found is None:
        return None
    row, partner = found
    if not hmac.compare_digest(row.key_hash, key_hash(key)):
        return None
    if row.revoked_at is not None or not partner.active:
        return None
    if row.expires_at is not None and row.expires_at <= now:
        return None
    actor = Actor(
        name=f"partner:{partner.code}",
        role="citizen",
        via=f"{VIA_PARTNER_KEY}{row.id}",
        partner_id=partner.id,
        scopes=frozenset(row.scopes.split()),
    )
    if row.last_used_at is None or now - row.last_used_at > _LAST_USED_STEP:
        touch = update(PartnerKey).where(PartnerKey.id == row.id).values(last_used_at=now)
        dbfaults.write_unless_fault(session, touch)
    return actor


@dataclass(frozen=True)
class KeyInfo:
    id: int
    partner: str
    prefix: str
    scopes: tuple[str, ...]
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None

    def state(self, now: datetime) -> str:
        return credential_state(self.revoked_at, self.expires_at, now)


def list_keys(session: Session, *, partner_code: str | None = None) -> list[KeyInfo]:
    """Keys (never their values), newest first; one partner's when ``partner_code`` is given."""
    query = (
        select(PartnerKey, Partner.code)
        .join(Partner, Partner.id == PartnerKey.partner_id)
        .order_by(PartnerKey.id.desc())
    )
    if partner_code is not None:
        query = query.where(Partner.code == partner_code)
    return [
        KeyInfo(
            k.id,
            code,
            k.prefix,
            tuple(k.scopes.split()),
            k.created_at,
            k.expires_at,
            k.revoked_at,
            k.last_used_at,
        )
        for k, code in session.execute(query)
    ]


def revoke_key(session: Session, *, key_id: int, now: datetime) -> bool:
    """Revoke a key; False if there is none or it was revoked already."""
    result = session.execute(
        update(PartnerKey)
        .where(PartnerKey.id == key_id, PartnerKey.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return bool(getattr(result, "rowcount", 0))
