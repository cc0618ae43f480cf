"""The append-only audit trail, SHA-256 chained per instance (rule 9).

Each event's hash covers the previous hash, the ticket number (so a chain cannot be moved to
another ticket), its sequence number, time, actor, action, element and data, and what the actor
came through (``via``: a web session, an API token, ...) where it was recorded; events written
before it was recorded have none and hash as they always did. The instance row keeps the
chain's head, so removing the newest events is detected too.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from typing import Any
from typing import Protocol

from sqlalchemy import Table
from sqlalchemy import insert
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Session

from engine.models import AuditEvent
from engine.models import ProcessInstance
from engine.models import Ticket

GENESIS = "0" * 64
_AUDIT: Table = AuditEvent.__table__  # type: ignore[assignment]
_INSERT_AUDIT = insert(_AUDIT)  # built once, like every statement of a command
_INSTANCE: Table = ProcessInstance.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class Entry:
    actor: str
    action: str
    element_id: str | None = None
    data: Any = None
    via: str | None = None  # engine.identity.Actor.via


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def _digest(
    prev: str,
    ticket_number: str,
    seq: int,
    at: str,
    actor: str,
    action: str,
    element_id: str | None,
    data: str,
    via: str | None = None,
) -> str:
    fields = [ticket_number, seq, at, actor, action, element_id, data]
    body = canonical(fields if via is None else [*fields, via])
    return hashlib.sha256((prev + body).encode()).hexdigest()


def append(
    session: Session,
    instance: ProcessInstance,
    ticket_number: str,
    entries: Sequence[Entry],
    *,
    at: datetime,
) -> None:
    """Append entries to an instance's chain in one INSERT and move its head."""
    write(session, instance, chain(instance, ticket_number, entries, at=at))


def note(
    session: Session,
    instance_id: int,
    ticket_number: str,
    entries: Sequence[Entry],
    *,
    at: datetime,
) -> None:
    """Append entries that change no workflow state (a claim, say) without a new version.

    The row is locked for the append (FOR UPDATE; BEGIN IMMEDIATE on SQLite) and its head is
    moved with a plain UPDATE, so an officer holding the task's form does not get a conflict
    because a colleague claimed it.
    """
    seq, head = session.execute(
        select(_INSTANCE.c.audit_seq, _INSTANCE.c.audit_head)
        .where(_INSTANCE.c.id == instance_id)
        .with_for_update()
    ).one()
    holder = _Head(audit_seq=seq, audit_head=head)
    rows = chain(holder, ticket_number, entries, at=at)
    session.execute(
        update(_INSTANCE)
        .where(_INSTANCE.c.id == instance_id)
        .values(audit_seq=holder.audit_seq, audit_head=holder.audit_head)
    )
    if rows:
        session.connection().execute(
            _INSERT_AUDIT, [{**r, "instance_id": instance_id} for r in rows]
        )


class _HasHead(Protocol):
    audit_seq: int
    audit_head: str


@dataclass
class _Head:
    audit_seq: int
    audit_head: str


def chain(
    instance: _HasHead, ticket_number: str, entries: Sequence[Entry], *, at: datetime
) -> list[dict[str, Any]]:
    """Hash entries onto the instance's chain and move its head; the rows are for ``write``.

    Needs no instance id, so a new instance is inserted once, head included.
    """
    if not entries:
        return []
    prev, seq = instance.audit_head or GENESIS, instance.audit_seq or 0
    stamp = at.astimezone(UTC).isoformat()
    rows = []
    for entry in entries:
        seq += 1
        data = canonical(entry.data)
        digest = _digest(
            prev,
            ticket_number,
            seq,
            stamp,
            entry.actor,
            entry.action,
            entry.element_id,
            data,
            entry.via,
        )
        rows.append(
            {
                "seq": seq,
                "at": at,
                "actor": entry.actor,
                "action": entry.action,
                "element_id": entry.element_id,
                "data": data,
                "via": entry.via,
                "prev_hash": prev,
                "hash": digest,
            }
        )
        prev = digest
    instance.audit_seq, instance.audit_head = seq, prev
    return rows


def write(session: Session, instance: ProcessInstance, rows: Sequence[dict[str, Any]]) -> None:
    """Insert rows made by ``chain`` once the instance has its id."""
    if rows:  # one executemany; a Core insert keeps the NULL element ids in the same batch
        session.connection().execute(
            _INSERT_AUDIT, [{**r, "instance_id": instance.id} for r in rows]
        )


@dataclass(frozen=True)
class Problem:
    ticket_number: str
    seq: int | None
    reason: str


def verify(session: Session) -> list[Problem]:
    """Recompute every chain; report each ticket whose rows were edited, removed or added."""
    problems: list[Problem] = []
    heads = session.execute(
        select(
            ProcessInstance.id, ProcessInstance.audit_seq, ProcessInstance.audit_head, Ticket.number
        )
        .join(Ticket, Ticket.id == ProcessInstance.ticket_id)
        .order_by(ProcessInstance.id)
    ).all()
    events = session.scalars(
        select(AuditEvent)
        .order_by(AuditEvent.instance_id, AuditEvent.seq)
        .execution_options(yield_per=2000)
    )
    by_instance = _group(events)
    current = next(by_instance, None)
    for instance_id, audit_seq, audit_head, number in heads:
        while current is not None and current[0] < instance_id:
            problems.append(Problem("?", None, f"events for unknown instance {current[0]}"))
            current = next(by_instance, None)
        rows: list[AuditEvent] = []
        if current is not None and current[0] == instance_id:
            rows = current[1]
            current = next(by_instance, None)
        problem = _check_chain(rows, number, audit_seq, audit_head)
        if problem is not None:
            problems.append(Problem(number, problem[0], problem[1]))
    return problems


def check_events(
    rows: Sequence[AuditEvent], ticket_number: str, *, seq: int, head: str
) -> tuple[int | None, str] | None:
    """Recompute the first events of one chain; None when they end at ``seq`` and ``head``."""
    return _check_chain(rows, ticket_number, seq, head)


def _check_chain(
    rows: Sequence[AuditEvent], ticket_number: str, audit_seq: int, audit_head: str
) -> tuple[int | None, str] | None:
    prev = GENESIS
    for expected_seq, row in enumerate(rows, start=1):
        if row.seq != expected_seq:
            return expected_seq, f"event {expected_seq} is missing"
        if row.prev_hash != prev:
            return row.seq, "chain broken (previous hash does not match)"
        digest = _digest(
            prev,
            ticket_number,
            row.seq,
            row.at.isoformat(),
            row.actor,
            row.action,
            row.element_id,
            row.data,
            row.via,
        )
        if digest != row.hash:
            return row.seq, "event was edited (hash does not match its content)"
        prev = row.hash
    if len(rows) != audit_seq or prev != (audit_head or GENESIS):
        return audit_seq, "events after the last verified one are missing or added"
    return None


def verify_instance(session: Session, instance_id: int) -> Problem | None:
    """Recompute one instance's chain (the auditor's ticket page); None when it is intact."""
    found = session.execute(
        select(ProcessInstance.audit_seq, ProcessInstance.audit_head, Ticket.number)
        .join(Ticket, Ticket.id == ProcessInstance.ticket_id)
        .where(ProcessInstance.id == instance_id)
    ).first()
    if found is None:
        return None
    audit_seq, audit_head, number = found
    problem = _check_chain(history(session, instance_id), number, audit_seq, audit_head)
    return Problem(number, problem[0], problem[1]) if problem is not None else None


def _group(events: Iterable[AuditEvent]) -> Iterator[tuple[int, list[AuditEvent]]]:
    batch: list[AuditEvent] = []
    for event in events:
        if batch and event.instance_id != batch[0].instance_id:
            yield batch[0].instance_id, batch
            batch = []
        batch.append(event)
    if batch:
        yield batch[0].instance_id, batch


def history(session: Session, instance_id: int) -> list[AuditEvent]:
    return list(
        session.scalars(
            select(AuditEvent).where(AuditEvent.instance_id == instance_id).order_by(AuditEvent.seq)
        )
    )
