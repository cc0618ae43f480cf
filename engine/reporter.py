"""The reporter's capability (rule 12) and what a resident does besides reporting: follow a
ticket already reported, rate its handling.

The private link carries a random secret of 256 bits; only its SHA-256 is stored on the ticket.
A wrong secret and an unknown ticket answer the same (NotFound), so the link cannot be probed.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine import numbers
from engine import timeline
from engine.errors import Conflict
from engine.errors import InvalidInput
from engine.errors import NotFound
from engine.inputs import BLANK_CHARS
from engine.inputs import BLANK_RE
from engine.inputs import clean
from engine.models import Follower
from engine.models import Rating
from engine.models import Ticket
from engine.visibility import PUBLIC_TICKETS

NEARBY_METRES = 100.0
_EMAIL_PART = f"[^@{BLANK_CHARS}]+"
# An e-mail address, or a phone number of 8 to 15 digits with spaces, dots or dashes between.
CONTACT_RE = rf"(?:{_EMAIL_PART}@{_EMAIL_PART}\.{_EMAIL_PART}|\+?[0-9](?:[ .-]*[0-9]){{7,14}})"
# The same rule for text that is cleaned first (the API's schema states it so).
CONTACT_PATTERN = rf"^{BLANK_RE}*{CONTACT_RE}{BLANK_RE}*$"
_CONTACT = re.compile(CONTACT_RE)
_EARTH_METRES = 6_371_000.0


def valid_contact(contact: str) -> bool:
    """An e-mail address or a phone number (8 to 15 digits, spaces and dashes allowed)."""
    return _CONTACT.fullmatch(clean(contact)) is not None


def new_secret() -> tuple[str, str]:
    """A fresh secret for a private link and the hash to store."""
    secret = secrets.token_urlsafe(32)
    return secret, secret_hash(secret)


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def holds_secret(ticket: Ticket, secret: str | None) -> bool:
    if not secret or not ticket.reporter_secret_hash:
        return False
    return hmac.compare_digest(ticket.reporter_secret_hash, secret_hash(secret))


def ticket_for_reporter(session: Session, number: str, secret: str | None) -> Ticket:
    """The ticket whose private link this is; NotFound for a wrong number or secret alike."""
    canonical = numbers.canonical(number)
    ticket = None
    if canonical is not None:
        ticket = session.scalar(select(Ticket).where(Ticket.number == canonical))
    if ticket is None or not holds_secret(ticket, secret):
        raise NotFound(f"no ticket {number} for this link")
    return ticket


# -- following a ticket instead of reporting it again ----------------------------------------


@dataclass(frozen=True)
class NearbyTicket:
    number: str
    title: str
    status: str
    location: str | None
    distance_m: float
    created_at: datetime


def nearby(
    session: Session,
    *,
    category: str,
    latitude: float,
    longitude: float,
    radius_m: float = NEARBY_METRES,
    limit: int = 5,
) -> list[NearbyTicket]:
    """Open, public tickets of one category within ``radius_m`` of a point, nearest first."""
    dlat = math.degrees(radius_m / _EARTH_METRES)
    dlon = dlat / max(math.cos(math.radians(latitude)), 0.01)
    rows = session.execute(
        select(
            Ticket.number,
            Ticket.title,
            Ticket.status,
            Ticket.location,
            Ticket.latitude,
            Ticket.longitude,
            Ticket.created_at,
        ).where(
            Ticket.category == category,
            Ticket.latitude.between(latitude - dlat, latitude + dlat),
            Ticket.longitude.between(longitude - dlon, longitude + dlon),
            Ticket.closed_at.is_(None),
            PUBLIC_TICKETS,
        )
    ).all()
    found = []
    for number, title, status, location, lat, lon, created_at in rows:
        if lat is None or lon is None:
            continue
        distance = distance_m(latitude, longitude, lat, lon)
        if distance <= radius_m:
            found.append(NearbyTicket(number, title, status, location, distance, created_at))
    return sorted(found, key=lambda t: t.distance_m)[:limit]


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * _EARTH_METRES * math.asin(math.sqrt(a))


def follow(session: Session, *, number: str, contact: str, now: datetime) -> bool:
    """Make ``contact`` a follower of an open public ticket; False if it already followed."""
    contact = contact.strip()
    if len(contact) < 3:
        raise InvalidInput(
            "give a contact to be told of progress", fields={"contact": ["required"]}
        )
    canonical = numbers.canonical(number) or "-"
    ticket = session.scalar(select(Ticket).where(Ticket.number == canonical, PUBLIC_TICKETS))
    if ticket is None:
        raise NotFound(f"no ticket {number}")
    if ticket.closed_at is not None:
        raise Conflict(f"ticket {ticket.number} is closed")
    exists = session.scalar(
        select(Follower.id).where(Follower.ticket_id == ticket.id, Follower.contact == contact)
    )
    if exists is not None:
        return False
    try:
        with session.begin_nested():
            session.add(Follower(ticket_id=ticket.id, contact=contact, created_at=now))
    except IntegrityError:  # a concurrent follow of the same contact
        return False
    return True


def followers(session: Session, ticket_id: int) -> Sequence[str]:
    return session.scalars(
        select(Follower.contact).where(Follower.ticket_id == ticket_id).order_by(Follower.id)
    ).all()


def follower_count(session: Session, ticket_id: int) -> int:
    return session.scalar(select(func.count()).where(Follower.ticket_id == ticket_id)) or 0


# -- rating the handling -----------------------------------------------------------------------


def rate(
    session: Session, *, ticket: Ticket, score: int, comment: str | None, now: datetime
) -> None:
    """The reporter rates the handling of a resolved or closed ticket (again replaces it)."""
    if not 1 <= score <= 5:
        raise InvalidInput("a rating is 1 to 5", fields={"score": ["1 to 5"]})
    if ticket.resolved_at is None and ticket.closed_at is None:
        raise Conflict("the handling can be rated once the ticket is resolved or closed")
    comment = (comment or "").strip() or None
    if comment is not None and len(comment) > 2000:
        raise InvalidInput("the comment is too long", fields={"comment": ["at most 2000"]})
    rating = session.get(Rating, ticket.id)
    if rating is None:
        session.add(Rating(ticket_id=ticket.id, score=score, comment=comment, at=now))
    else:
        rating.score, rating.comment, rating.at = score, comment, now
    text = f"{score}/5" + (f": {comment}" if comment else "")
    timeline.write(
        session,
        ticket.id,
        [timeline.Update("rating", "reporter", timeline.REPORTER, text=text)],
        at=now,
    )


def rating_of(session: Session, ticket_id: int) -> Rating | None:
    return session.get(Rating, ticket_id)
