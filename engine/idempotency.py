"""Idempotency keys: a retried request gets the first answer and does nothing again.

A caller sends ``Idempotency-Key`` with a request that creates something. The first request
with a key *claims* it: one ``idempotency_key`` row, unique per scope (who sent it) and key,
committed before the work starts, so a second request with the same key, at the same moment
or later, finds the row instead of doing the work again. The work's own transaction keeps the
answer in the row (``finish``), so the ticket and the kept answer commit together or not at
all. A request that fails gives its claim back (``release``) and may be retried with the key.

A second request finds the row and gets: the kept answer (same status and body) when it is
done; ``KeyInUse`` (409) while the first is still working; ``KeyReused`` (422) when its
fingerprint (method, path and body) differs. A claim whose request died is taken over after
``LEASE``; the request that lost it then cannot keep its answer and rolls back (``finish``
checks the claim). Keys expire after ``LIFETIME`` and are swept with the timers.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta

from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from engine.errors import Conflict
from engine.errors import InvalidInput
from engine.identity import VIA_TOKEN
from engine.identity import Actor
from engine.models import IdempotencyKey

LIFETIME = timedelta(hours=24)
LEASE = timedelta(seconds=60)  # a claim this old belongs to a request that died
MIN_LENGTH, MAX_LENGTH = 16, 255
PARTNER = "partner:"


class KeyReused(InvalidInput):
    """The key came with a different request (422)."""

    code = "idempotency_key_reused"


class KeyInUse(Conflict):
    """A request with this key is still being worked on (409)."""

    code = "idempotency_key_in_use"


@dataclass(frozen=True)
class Claimed:
    """This request holds the key: do the work, then ``finish`` in the same transaction."""

    id: int
    token: str


@dataclass(frozen=True)
class Answer:
    """The answer kept for the key: give it again."""

    status: int
    body: str
    location: str | None


def check_key(key: str, *, field: str = "Idempotency-Key") -> str:
    """The key as sent, if it is 16 to 255 visible ASCII characters (a UUID fits)."""
    if not MIN_LENGTH <= len(key) <= MAX_LENGTH or not all(33 <= ord(c) <= 126 for c in key):
        raise InvalidInput(
            f"the {field} header is not a usable key",
            fields={field: [f"{MIN_LENGTH} to {MAX_LENGTH} visible ASCII characters, e.g. a UUID"]},
        )
    return key


def scope_of(actor: Actor | None) -> str:
    """Whose keys these are: the token or partner the request came through, the signed-in
    user, or "" for the public (whose keys are shared: only the key tells them apart)."""
    if actor is None:
        return ""
    if actor.partner_id is not None:  # any key of the partner: its keys rotate
        return f"{PARTNER}{actor.partner_id}"
    if actor.via and actor.via.startswith(VIA_TOKEN):
        return actor.via
    return f"user:{actor.user_id}" if actor.user_id is not None else ""


def fingerprint(
    method: str, path: str, body: bytes | None, parts: Iterable[tuple[str, bytes]]
) -> str:
    """SHA-256 of what makes two requests the same: method, path, and the body.

    A JSON body counts by its content (key order and spacing aside); a multipart body by its
    parts, each by name and the SHA-256 of its bytes, in order of name (the boundary aside).
    """
    digest = hashlib.sha256(f"{method.upper()} {path}\n".encode())
    if body is not None:
        try:
            canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":"))
            digest.update(b"json\n" + canonical.encode())
        except ValueError:
            digest.update(b"raw\n" + body)
    for name, data in sorted((n, hashlib.sha256(d).hexdigest()) for n, d in parts):
        digest.update(f"part {name} {data}\n".encode())
    return digest.hexdigest()


def claim(
    session: Session, *, scope: str, key: str, fingerprint: str, now: datetime
) -> Claimed | Answer:
    """Claim ``key`` for this request, or the answer kept for it; the caller commits.

    Raises ``KeyReused`` for another request's key, ``KeyInUse`` while its request works.
    """
    for _ in range(3):
        row = session.scalar(
            select(IdempotencyKey)
            .where(IdempotencyKey.scope == scope, IdempotencyKey.key == key)
            .with_for_update()
        )
        if row is not None and row.expires_at <= now:
            session.delete(row)
            session.flush()
            row = None
        if row is None:
            token = secrets.token_hex(16)
            fresh = IdempotencyKey(
                scope=scope,
                key=key,
                fingerprint=fingerprint,
                claim=token,
                locked_until=now + LEASE,
                created_at=now,
                expires_at=now + LIFETIME,
            )
            try:
                with session.begin_nested():
                    session.add(fresh)
            except IntegrityError:
                continue  # another request claimed it this moment: read its row
            return Claimed(fresh.id, token)
        if row.fingerprint != fingerprint:
            raise KeyReused(
                "this Idempotency-Key was used with a different request; use a new key",
                fields={"Idempotency-Key": ["already used with another body or endpoint"]},
            )
        if row.claim is None and row.status is not None and row.body is not None:
            return Answer(row.status, row.body, row.location)
        if row.locked_until > now:
            raise KeyInUse("a request with this Idempotency-Key is still in progress; retry later")
        row.claim = secrets.token_hex(16)  # its request died: take the key over
        row.locked_until = now + LEASE
        session.flush()
        return Claimed(row.id, row.claim)
    raise KeyInUse("a request with this Idempotency-Key is still in progress; retry later")


def finish(
    session: Session, claimed: Claimed, *, status: int, body: str, location: str | None
) -> None:
    """Keep the answer in the work's transaction; Conflict if the claim was taken over."""
    kept = session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.id == claimed.id, IdempotencyKey.claim == claimed.token)
        .values(claim=None, status=status, body=body, location=location)
        .execution_options(synchronize_session=False)
    )
    if kept.rowcount != 1:  # type: ignore[attr-defined]
        raise KeyInUse("another request took this Idempotency-Key over; nothing was done")


def release(session: Session, claimed: Claimed) -> None:
    """Give the key back after a failed request (the caller may retry with it)."""
    session.execute(
        delete(IdempotencyKey)
        .where(IdempotencyKey.id == claimed.id, IdempotencyKey.claim == claimed.token)
        .execution_options(synchronize_session=False)
    )


def sweep(factory: sessionmaker[Session], *, now: datetime) -> int:
    """Forget expired keys; returns how many."""
    with factory.begin() as session:
        gone = session.execute(
            delete(IdempotencyKey)
            .where(IdempotencyKey.expires_at <= now)
            .execution_options(synchronize_session=False)
        )
        return int(gone.rowcount)  # type: ignore[attr-defined]
