"""The ticket's timeline as people read it (``ticket_update`` rows), written in the command.

Three sources, none a copy of the lifecycle:

- every status an element sets (``status`` property) is a public entry;
- a form field whose JSON Schema says ``"x-laksa-audience": "public"`` or ``"reporter"`` is
  shared with that audience when the task completes (the resolution note is public, a question
  goes to the reporter, internal reasons stay in the audit trail);
- the reporter's messages (reply, confirmation, dispute) and rating, for the reporter and staff.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table
from sqlalchemy import insert
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.models import TicketUpdate
from engine.runtime import Step

AUDIENCE_KEY = "x-laksa-audience"
AUDIENCES = ("public", "reporter")
OFFICER = "officer"
REPORTER = "reporter"
SYSTEM = "system"
_UPDATE: Table = TicketUpdate.__table__  # type: ignore[assignment]
_INSERT_UPDATE = insert(_UPDATE)  # built once, like every statement of a command


@dataclass(frozen=True)
class Update:
    kind: str  # status | note | message | rating | link
    audience: str
    author: str
    status: str | None = None
    field: str | None = None
    text: str | None = None
    attachment_id: int | None = None


def statuses_reached(reached: Sequence[Step], status_before: str) -> list[Update]:
    """A public entry for each status set by the elements passed, in order, no repeats."""
    updates = []
    last = status_before
    for step in reached:
        status = step.properties.get("status")
        if status and status != last:
            updates.append(Update("status", "public", SYSTEM, status=status))
            last = status
    return updates


def shared_fields(
    form: str | None, schema: Mapping[str, Any] | None, data: Mapping[str, Any]
) -> list[Update]:
    """The form fields the schema shares with the public or the reporter, in schema order.

    The entry's ``field`` is ``<form>#<field>``, so a page finds the field's label.
    """
    if not schema:
        return []
    updates = []
    for name, spec in (schema.get("properties") or {}).items():
        audience = spec.get(AUDIENCE_KEY) if isinstance(spec, dict) else None
        value = data.get(name)
        if audience in AUDIENCES and isinstance(value, str) and value.strip():
            updates.append(
                Update("note", audience, OFFICER, field=f"{form}#{name}", text=value.strip())
            )
    return updates


def write(session: Session, ticket_id: int, updates: Sequence[Update], *, at: datetime) -> None:
    if updates:
        session.connection().execute(
            _INSERT_UPDATE,
            [
                {
                    "ticket_id": ticket_id,
                    "at": at,
                    "kind": u.kind,
                    "audience": u.audience,
                    "author": u.author,
                    "status": u.status,
                    "field": u.field,
                    "text": u.text,
                    "attachment_id": u.attachment_id,
                }
                for u in updates
            ],
        )


def updates_of(
    session: Session, ticket_id: int, audiences: frozenset[str]
) -> Sequence[TicketUpdate]:
    """The ticket's timeline entries a viewer with ``audiences`` may read, oldest first."""
    return session.scalars(
        select(TicketUpdate)
        .where(TicketUpdate.ticket_id == ticket_id, TicketUpdate.audience.in_(sorted(audiences)))
        .order_by(TicketUpdate.id)
    ).all()
