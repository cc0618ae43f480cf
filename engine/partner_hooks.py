"""Partners' webhook subscriptions: events of their own tickets, delivered through the outbox.

A subscription names a URL, the topics it wants and its own secret. A command on a ticket a
partner submitted writes, in the command's transaction, one ``outbox_message`` row per active
subscription and event: ``ticket.status`` (the public status changed), ``ticket.message`` (a
conversation entry the reporter sees: the reporter's message, an officer's question or
answer), ``ticket.closed``. Tickets without a partner cost no statement here. The outbox's
delivery (leases, backoff, giving up after ``MAX_ATTEMPTS``) carries them; ``RoutingSender``
posts a subscription's rows to its URL, signed with its secret, and every other row to the
configured channels. An admin replays failed deliveries (``replay_failed``).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Table
from sqlalchemy import func
from sqlalchemy import insert
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from engine import definitions
from engine import notify
from engine import outbox
from engine import partners
from engine.errors import InvalidInput
from engine.errors import NotFound
from engine.models import Definition
from engine.models import OutboxMessage
from engine.models import Partner
from engine.models import PartnerWebhook
from engine.models import ProcessInstance
from engine.models import Ticket
from engine.settings import Settings
from engine.timeline import Update

log = logging.getLogger(__name__)

STATUS = "ticket.status"
MESSAGE = "ticket.message"
CLOSED = "ticket.closed"
TOPICS = (STATUS, MESSAGE, CLOSED)
_CONVERSATION = {"message", "note"}  # timeline kinds a reporter reads as the conversation
_OUTBOX: Table = OutboxMessage.__table__  # type: ignore[assignment]


def parse_topics(topics: Iterable[str]) -> tuple[str, ...]:
    given = {t.strip() for t in topics if t.strip()}
    unknown = sorted(given - set(TOPICS))
    if unknown or not given:
        raise InvalidInput(
            f"unknown topic(s) {', '.join(unknown)}" if unknown else "no topic",
            fields={"topics": [f"one or more of {', '.join(TOPICS)}"]},
        )
    return tuple(t for t in TOPICS if t in given)


def create_webhook(
    session: Session, *, partner_code: str, url: str, topics: Iterable[str], now: datetime
) -> PartnerWebhook:
    """A new subscription with a fresh secret (its signatures' HMAC key)."""
    partner = partners.partner_by_code(session, partner_code)
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or len(url) > 500:
        raise InvalidInput("bad URL", fields={"url": ["an http(s) URL, 500 characters at most"]})
    row = PartnerWebhook(
        partner_id=partner.id,
        url=url,
        topics=" ".join(parse_topics(topics)),
        secret="whsec_" + secrets.token_urlsafe(32),
        active=True,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row


def set_webhook_active(session: Session, *, webhook_id: int, active: bool) -> PartnerWebhook:
    row = session.get(PartnerWebhook, webhook_id)
    if row is None:
        raise NotFound(f"no webhook {webhook_id}")
    row.active = active
    return row


@dataclass(frozen=True)
class WebhookInfo:
    id: int
    partner: str
    url: str
    topics: tuple[str, ...]
    active: bool
    created_at: datetime
    pending: int
    delivered: int
    failed: int


def list_webhooks(
    session: Session, *, partner_code: str | None = None, max_attempts: int = outbox.MAX_ATTEMPTS
) -> list[WebhookInfo]:
    """Subscriptions with their deliveries pending, delivered and given up on."""
    delivered = OutboxMessage.delivered_at.is_not(None)
    failed = OutboxMessage.delivered_at.is_(None) & (OutboxMessage.attempts >= max_attempts)
    counts = (
        select(
            OutboxMessage.webhook_id.label("webhook_id"),
            func.count().label("total"),
            func.count().filter(delivered).label("delivered"),
            func.count().filter(failed).label("failed"),
        )
        .where(OutboxMessage.webhook_id.is_not(None))
        .group_by(OutboxMessage.webhook_id)
        .subquery()
    )
    query = (
        select(PartnerWebhook, Partner.code, counts.c.total, counts.c.delivered, counts.c.failed)
        .join(Partner, Partner.id == PartnerWebhook.partner_id)
        .outerjoin(counts, counts.c.webhook_id == PartnerWebhook.id)
        .order_by(Partner.code, PartnerWebhook.id)
    )
    if partner_code is not None:
        query = query.where(Partner.code == partner_code)
    found = []
    for hook, code, total, done, given_up in session.execute(query):
        total, done, given_up = int(total or 0), int(done or 0), int(given_up or 0)
        found.append(
            WebhookInfo(
                hook.id,
                code,
                hook.url,
                tuple(hook.topics.split()),
                hook.active,
                hook.created_at,
                total - done - given_up,
                done,
                given_up,
            )
        )
    return found


# --- writing, in the command's transaction --------------------------------------------------


def write(
    session: Session,
    row: ProcessInstance,
    ticket: Ticket,
    *,
    status_before: str,
    closed_before: bool,
    updates: Sequence[Update],
    now: datetime,
) -> int:
    """The webhook rows of what this command did to a partner's ticket; returns how many."""
    if ticket.partner_id is None:
        return 0
    events = _events(ticket, status_before, closed_before, updates)
    if not events:
        return 0
    hooks = session.execute(
        select(PartnerWebhook.id, PartnerWebhook.topics)
        .join(Partner, Partner.id == PartnerWebhook.partner_id)
        .where(
            PartnerWebhook.partner_id == ticket.partner_id, PartnerWebhook.active, Partner.active
        )
        .order_by(PartnerWebhook.id)
    ).all()
    if not hooks:
        return 0
    base = _ticket_fields(session, row, ticket)
    rows = [
        {
            "ticket_id": ticket.id,
            "webhook_id": hook_id,
            "topic": topic,
            "payload": {**base, **extra},
            "created_at": now,
            "deliver_after": now,
        }
        for topic, extra in events
        for hook_id, topics in hooks
        if topic in topics.split()
    ]
    if rows:
        session.connection().execute(insert(_OUTBOX), rows)
    return len(rows)


def _events(
    ticket: Ticket, status_before: str, closed_before: bool, updates: Sequence[Update]
) -> list[tuple[str, dict[str, Any]]]:
    events: list[tuple[str, dict[str, Any]]] = []
    if ticket.status != status_before:
        events.append((STATUS, {"previous_status": status_before}))
    for entry in updates:
        shared = entry.kind in _CONVERSATION and entry.audience in ("public", "reporter")
        if shared and (entry.text or entry.attachment_id is not None):
            message = {
                "author": entry.author,
                "kind": entry.kind,
                "field": entry.field,
                "text": entry.text,
                "photo_id": entry.attachment_id,
            }
            events.append((MESSAGE, {"message": message}))
    if ticket.closed_at is not None and not closed_before:
        events.append((CLOSED, {"outcome": ticket.outcome}))
    return events


def _ticket_fields(session: Session, row: ProcessInstance, ticket: Ticket) -> dict[str, Any]:
    definition = session.get(Definition, row.definition_id)
    bundle = definitions.bundle_for(session, definition) if definition is not None else None
    label = bundle.status_label(ticket.status, outbox.LANGUAGE) if bundle else ticket.status
    return {
        "ticket": ticket.number,
        "external_id": ticket.external_id,
        "status": ticket.status,
        "status_label": label,
        "escalation_level": ticket.escalation_level,
        "closed_at": ticket.closed_at.isoformat() if ticket.closed_at else None,
    }


# --- delivery ----------------------------------------------------------------------------


class PartnerWebhookSender:
    """POST a subscription's row to its URL, signed with its own secret (notify.signature)."""

    name = "partner_webhook"

    def __init__(self, factory: sessionmaker[Session], *, timeout: float = 10.0) -> None:
        self.factory = factory
        self.timeout = timeout

    def send(self, message: outbox.Message) -> None:
        with self.factory() as session:
            found = session.execute(
                select(PartnerWebhook.url, PartnerWebhook.secret, PartnerWebhook.active)
                .add_columns(Partner.active)
                .join(Partner, Partner.id == PartnerWebhook.partner_id)
                .where(PartnerWebhook.id == message.webhook_id)
            ).first()
        if found is None:
            raise RuntimeError(f"webhook {message.webhook_id} does not exist")
        url, secret, active, partner_active = found
        if not (active and partner_active):
            raise RuntimeError(f"webhook {message.webhook_id} is switched off")
        notify.WebhookSender(url, secret=secret, timeout=self.timeout).send(message)


class RoutingSender:
    """Subscriptions' rows to their partners; every other row to the configured channels."""

    name = "routing"

    def __init__(self, default: outbox.Sender, partner: outbox.Sender) -> None:
        self.default = default
        self.partner = partner

    def send(self, message: outbox.Message) -> None:
        (self.partner if message.webhook_id is not None else self.default).send(message)


def sender_for(settings: Settings, factory: sessionmaker[Session]) -> outbox.Sender:
    """What delivers the outbox: the configured channels and the partners' subscriptions."""
    return RoutingSender(notify.sender_from_settings(settings), PartnerWebhookSender(factory))


@dataclass(frozen=True)
class FailedDelivery:
    id: int
    webhook_id: int
    ticket: str | None
    topic: str
    created_at: datetime
    attempts: int
    last_error: str | None


def failed_deliveries(
    session: Session,
    *,
    webhook_id: int | None = None,
    max_attempts: int = outbox.MAX_ATTEMPTS,
    limit: int = 100,
) -> list[FailedDelivery]:
    """Subscriptions' rows given up on, oldest first."""
    query = (
        select(OutboxMessage, Ticket.number)
        .outerjoin(Ticket, Ticket.id == OutboxMessage.ticket_id)
        .where(
            OutboxMessage.webhook_id.is_not(None),
            OutboxMessage.delivered_at.is_(None),
            OutboxMessage.attempts >= max_attempts,
        )
        .order_by(OutboxMessage.id)
        .limit(limit)
    )
    if webhook_id is not None:
        query = query.where(OutboxMessage.webhook_id == webhook_id)
    return [
        FailedDelivery(
            m.id, m.webhook_id or 0, number, m.topic, m.created_at, m.attempts, m.last_error
        )
        for m, number in session.execute(query)
    ]


def replay_failed(
    session: Session,
    *,
    webhook_id: int,
    now: datetime,
    message_id: int | None = None,
    max_attempts: int = outbox.MAX_ATTEMPTS,
) -> int:
    """Give a subscription's failed rows (or one of them) a fresh set of attempts, due now;
    returns how many. The message ids stay, so a receiver still deduplicates on them."""
    query = update(OutboxMessage).where(
        OutboxMessage.webhook_id == webhook_id,
        OutboxMessage.delivered_at.is_(None),
        OutboxMessage.attempts >= max_attempts,
    )
    if message_id is not None:
        query = query.where(OutboxMessage.id == message_id)
    result = session.execute(query.values(attempts=0, deliver_after=now))
    return int(getattr(result, "rowcount", 0))
