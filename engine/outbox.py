"""The outbox (rule 10): notifications written in the command's transaction, delivered after.

Writing. A command that passes an element with a ``notify`` property (a comma-separated list of
``reporter``, ``opd``, ``opd_head`` or any other group code, ``{var}`` bound from process data as
in lane names) writes one ``outbox_message`` row per target in its own transaction, so a command
that rolls back leaves none. Recipients are resolved at write time: the reporter's contact from
the ticket (no row when the ticket has none), a group's code from the ticket's OPD or the
binding. The contact goes into the outbox row only, never into audit rows or workflow data. All
rows of one command are one INSERT; a command that notifies nobody issues no statement here.

Delivery. ``deliver_due`` claims undelivered rows whose ``deliver_after`` has come (``FOR UPDATE
SKIP LOCKED`` on PostgreSQL; ``BEGIN IMMEDIATE`` serializes claims on SQLite) and leases them by
moving ``deliver_after`` past the lease, then sends each outside any transaction. A sent row
gets ``delivered_at``; a failure increments ``attempts``, keeps ``last_error`` and backs off
exponentially (1 minute, or ``LAKSA_OUTBOX_BACKOFF_SECONDS``, x 2^(attempts-1), at most a day).
After ``MAX_ATTEMPTS`` a row is no longer claimed and counts as failed; nothing is ever deleted.
A deliverer that dies between send and mark leaves the row to be sent again when its lease ends
(at least once; receivers can deduplicate on the message id).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from datetime import timedelta
from typing import Any
from typing import Protocol

from sqlalchemy import Table
from sqlalchemy import func
from sqlalchemy import insert
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from engine import definitions
from engine.db import is_sqlite
from engine.models import Definition
from engine.models import Follower
from engine.models import OutboxMessage
from engine.models import ProcessInstance
from engine.models import Ticket
from engine.runtime import Instance
from engine.runtime import Step
from engine.settings import seconds_from_env

log = logging.getLogger(__name__)

NOTIFY_PROPERTY = "notify"
REPORTER = "reporter"
TOPIC_REPORTER = "notify.reporter"
TOPIC_GROUP = "notify.group"
LANGUAGE = "id"
DELIVERED_VIA = "_delivered_via"  # payload key: channels that already took a partly sent row
# Payload key of the private link's secret: the one copy besides its hash, erased once sent.
SECRET = "_secret"  # noqa: S105 (a payload key, not a password)
PRIVATE_LINK_TEMPLATE = "private_link"

LEASE = timedelta(minutes=5)
LEASE_ENV = "LAKSA_OUTBOX_LEASE_SECONDS"
BASE_BACKOFF = timedelta(minutes=1)
BACKOFF_ENV = "LAKSA_OUTBOX_BACKOFF_SECONDS"  # the first wait after a failure, read per failure
MAX_BACKOFF = timedelta(days=1)
MAX_ATTEMPTS = 10
BATCH = 100

# Notify targets that name a group relative to the ticket's OPD; others are lane-like names.
_GROUP_TARGETS = {"opd": "{opd}", "opd_head": "{opd}_head"}
_OUTBOX: Table = OutboxMessage.__table__  # type: ignore[assignment]
_INSERT_OUTBOX = insert(_OUTBOX)  # built once, like every statement of a command


# --- writing ------------------------------------------------------------------------------


def write(
    session: Session,
    row: ProcessInstance,
    ticket: Ticket,
    instance: Instance,
    reached: Sequence[Step],
    *,
    now: datetime,
) -> int:
    """Insert the notifications of the elements ``reached``; returns the rows written."""
    notifying = [s for s in reached if s.properties.get(NOTIFY_PROPERTY, "").strip()]
    if not notifying:
        return 0
    followers: list[str] = []
    if any(REPORTER in s.properties[NOTIFY_PROPERTY] for s in notifying):
        followers = list(
            session.scalars(
                select(Follower.contact)
                .where(Follower.ticket_id == ticket.id)
                .order_by(Follower.id)
            )
        )
    rows = messages(
        ticket,
        instance.data,
        notifying,
        bundle=_bundle(session, row),
        now=now,
        followers=followers,
    )
    if rows:
        session.connection().execute(_INSERT_OUTBOX, rows)
    return len(rows)


def messages(
    ticket: Ticket,
    data: Mapping[str, Any],
    reached: Sequence[Step],
    *,
    bundle: definitions.Bundle | None,
    now: datetime,
    followers: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """The outbox rows (column values) for the ``notify`` elements among ``reached``.

    What reaches the reporter reaches each follower too, one row each.
    """
    binding = dict(data)
    if ticket.opd and not isinstance(binding.get("opd"), str):
        binding["opd"] = ticket.opd
    rows: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for step in reached:
        targets = [t.strip() for t in step.properties.get(NOTIFY_PROPERTY, "").split(",")]
        for target in filter(None, targets):
            if (step.guid, target) in seen:
                continue
            seen.add((step.guid, target))
            if target == REPORTER:
                contacts = [ticket.reporter_contact] if ticket.reporter_contact else []
                deliveries = [(TOPIC_REPORTER, [c], False) for c in contacts]
                deliveries += [(TOPIC_REPORTER, [c], True) for c in followers]
            else:
                group = _group(target, binding)
                if group is None:
                    log.warning(
                        "ticket %s: element '%s' notifies '%s', which names no group here",
                        ticket.number,
                        step.element_id,
                        target,
                    )
                    continue
                deliveries = [(TOPIC_GROUP, [group], False)]
            status = step.properties.get("status") or ticket.status
            for topic, recipients, follower in deliveries:
                payload = {
                    "ticket": ticket.number,
                    "element_id": step.element_id,
                    "element_name": step.name,
                    "notify": target,
                    "recipients": recipients,
                    "status": status,
                    "status_label": bundle.status_label(status, LANGUAGE) if bundle else status,
                    "escalation_level": ticket.escalation_level,
                    "confidential": ticket.confidential,
                    "template": step.element_id,
                    "lang": LANGUAGE,
                }
                if follower:
                    payload["follower"] = True
                rows.append(
                    {
                        "ticket_id": ticket.id,
                        "topic": topic,
                        "payload": payload,
                        "created_at": now,
                        "deliver_after": now,
                    }
                )
    return rows


def write_private_link(
    session: Session, ticket: Ticket, secret: str, *, status_label: str, now: datetime
) -> bool:
    """The reporter's private link, e-mailed once; the secret is erased from the row when sent.

    Written only for an e-mail contact: the link is the reporter's key to the ticket, and
    another kind of contact has no channel that keeps it private.
    """
    contact = ticket.reporter_contact or ""
    if "@" not in contact:
        return False
    payload = {
        "ticket": ticket.number,
        "notify": REPORTER,
        "recipients": [contact],
        "status": ticket.status,
        "status_label": status_label,
        "escalation_level": 0,
        "confidential": ticket.confidential,
        "template": PRIVATE_LINK_TEMPLATE,
        "lang": LANGUAGE,
        SECRET: secret,
    }
    session.connection().execute(
        _INSERT_OUTBOX,
        [
            {
                "ticket_id": ticket.id,
                "topic": TOPIC_REPORTER,
                "payload": payload,
                "created_at": now,
                "deliver_after": now,
            }
        ],
    )
    return True


def _group(target: str, data: Mapping[str, Any]) -> str | None:
    try:
        return definitions.lane_group(_GROUP_TARGETS.get(target, target), data) or None
    except KeyError:
        return None


def _bundle(session: Session, row: ProcessInstance) -> definitions.Bundle | None:
    """The bundle the instance was deployed with (its definition is usually already loaded)."""
    definition = session.get(Definition, row.definition_id)
    return definitions.bundle_for(session, definition) if definition is not None else None


# --- delivery -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Message:
    """An outbox row as a sender sees it."""

    id: int
    topic: str
    payload: Mapping[str, Any]
    created_at: datetime
    attempts: int
    webhook_id: int | None = None  # a partner's subscription (engine.partner_hooks)

    @property
    def delivered_via(self) -> frozenset[str]:
        return frozenset(self.payload.get(DELIVERED_VIA) or ())


class Sender(Protocol):
    name: str

    def send(self, message: Message) -> None:
        """Deliver the message or raise."""


class PartialDelivery(Exception):
    """Some channels of a multi-channel sender took the message before another one failed."""

    def __init__(self, delivered: Sequence[str], cause: BaseException) -> None:
        super().__init__(f"{type(cause).__name__}: {cause}")
        self.delivered = list(delivered)
        self.cause = cause


@dataclass(frozen=True)
class DeliveryResult:
    claimed: int = 0
    delivered: int = 0
    retrying: int = 0  # failed this time, will be tried again
    gave_up: int = 0  # failed for the last allowed time, now listed as failed
    errors: list[str] = field(default_factory=list)


def backoff(attempts: int, env: Mapping[str, str] | None = None) -> timedelta:
    """The wait after the ``attempts``-th failure: 1 min, 2 min, 4 min ... at most one day.

    ``LAKSA_OUTBOX_BACKOFF_SECONDS`` replaces the first minute (tests, a local relay).
    """
    base = seconds_from_env(BACKOFF_ENV, BASE_BACKOFF, env)
    wait: timedelta = base * 2 ** min(max(attempts - 1, 0), 20)
    return min(wait, MAX_BACKOFF)


def lease_from_env(env: Mapping[str, str] | None = None) -> timedelta:
    """How long a deliverer holds the rows it claimed: ``LAKSA_OUTBOX_LEASE_SECONDS``, else
    LEASE. A deliverer that dies holds them this long; the next one then sends them."""
    return seconds_from_env(LEASE_ENV, LEASE, env)


def claim_due(
    session: Session,
    *,
    now: datetime,
    limit: int = BATCH,
    lease: timedelta = LEASE,
    max_attempts: int = MAX_ATTEMPTS,
) -> list[Message]:
    """Lease up to ``limit`` due, undelivered rows; commit before sending them."""
    query = (
        select(
            OutboxMessage.id,
            OutboxMessage.topic,
            OutboxMessage.payload,
            OutboxMessage.created_at,
            OutboxMessage.attempts,
            OutboxMessage.webhook_id,
        )
        .where(
            OutboxMessage.delivered_at.is_(None),
            OutboxMessage.deliver_after <= now,
            OutboxMessage.attempts < max_attempts,
        )
        .order_by(OutboxMessage.deliver_after, OutboxMessage.id)
        .limit(limit)
    )
    if not is_sqlite(session):
        query = query.with_for_update(skip_locked=True)
    rows = session.execute(query).all()
    if rows:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_([r.id for r in rows]))
            .values(deliver_after=now + lease)
        )
    return [Message(r.id, r.topic, r.payload, r.created_at, r.attempts, r.webhook_id) for r in rows]


def deliver_due(
    factory: sessionmaker[Session],
    *,
    now: datetime,
    sender: Sender,
    batch: int = BATCH,
    lease: timedelta | None = None,
    max_attempts: int = MAX_ATTEMPTS,
) -> DeliveryResult:
    """Send every message due at ``now``; a failing one is retried later, never lost.

    ``lease`` defaults to ``LAKSA_OUTBOX_LEASE_SECONDS`` if set, else LEASE.
    """
    lease = lease if lease is not None else lease_from_env()
    claimed = delivered = retrying = gave_up = 0
    errors: list[str] = []
    while True:
        with factory.begin() as session:
            due = claim_due(session, now=now, limit=batch, lease=lease, max_attempts=max_attempts)
        if not due:
            break
        for message in due:
            claimed += 1
            try:
                sender.send(message)
            except Exception as exc:  # any failure: keep the row, retry after a backoff
                attempts = message.attempts + 1
                error = f"{type(exc).__name__}: {exc}"[:2000]
                errors.append(f"message {message.id}: {error}")
                log.warning("outbox message %s, attempt %s: %s", message.id, attempts, error)
                _record_failure(factory, message, exc, error, attempts=attempts, now=now)
                if attempts >= max_attempts:
                    gave_up += 1
                else:
                    retrying += 1
                continue
            values: dict[str, Any] = {"delivered_at": now}
            if SECRET in message.payload:
                values["payload"] = {k: v for k, v in message.payload.items() if k != SECRET}
            with factory.begin() as session:
                session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id == message.id, OutboxMessage.delivered_at.is_(None))
                    .values(**values)
                )
            delivered += 1
    return DeliveryResult(claimed, delivered, retrying, gave_up, errors)


def _record_failure(
    factory: sessionmaker[Session],
    message: Message,
    exc: Exception,
    error: str,
    *,
    attempts: int,
    now: datetime,
) -> None:
    values: dict[str, Any] = {
        "attempts": OutboxMessage.attempts + 1,
        "last_error": error,
        "deliver_after": now + backoff(attempts),
    }
    if isinstance(exc, PartialDelivery) and exc.delivered:
        done = sorted(message.delivered_via | set(exc.delivered))
        values["payload"] = {**message.payload, DELIVERED_VIA: done}
    try:
        with factory.begin() as session:
            session.execute(
                update(OutboxMessage).where(OutboxMessage.id == message.id).values(values)
            )
    except Exception:  # the lease still ends; the next pass retries
        log.exception("could not record the failure of outbox message %s", message.id)


@dataclass(frozen=True)
class OutboxCounts:
    pending: int
    delivered: int
    failed: int


def counts(session: Session, *, max_attempts: int = MAX_ATTEMPTS) -> OutboxCounts:
    """How many rows wait, were delivered, or were given up on."""
    delivered = OutboxMessage.delivered_at.is_not(None)
    failed = OutboxMessage.delivered_at.is_(None) & (OutboxMessage.attempts >= max_attempts)
    row = session.execute(
        select(
            func.count(),
            func.count().filter(delivered),
            func.count().filter(failed),
        ).select_from(OutboxMessage)
    ).one()
    total, done, given_up = int(row[0]), int(row[1]), int(row[2])
    return OutboxCounts(total - done - given_up, done, given_up)


def failed(session: Session, *, max_attempts: int = MAX_ATTEMPTS) -> list[OutboxMessage]:
    """Messages given up on after ``max_attempts`` (kept; an operator can reset ``attempts``)."""
    return list(
        session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.delivered_at.is_(None), OutboxMessage.attempts >= max_attempts)
            .order_by(OutboxMessage.id)
        )
    )
