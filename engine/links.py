"""Links between tickets: a form field naming another ticket, and a duplicate joining its
original.

A form property with ``"x-laksa-ticket": true`` must name an existing ticket other than the
one at hand (any case; stored as the canonical number). An element with a ``links_to``
property (the ``duplicate`` end event: ``links_to=duplicate_of``) links the ticket to the one
that process variable names: the duplicate points at its original, the duplicate's reporter
follows the original (unless it is confidential) and both timelines say so.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import numbers
from engine import timeline
from engine.errors import InvalidInput
from engine.forms import TICKET_KEY
from engine.models import Follower
from engine.models import Ticket
from engine.runtime import Step
from engine.visibility import PUBLIC
from engine.visibility import STAFF

LINKS_PROPERTY = "links_to"


class SelfReference(InvalidInput):
    """A ticket named as its own original."""


def normalized(schema: Mapping[str, Any] | None, data: Mapping[str, Any]) -> dict[str, Any]:
    """The form data with each ticket reference written as its canonical number (any case and
    with or without "LK-" typed), so the schema's pattern checks the number, not its case."""
    result = dict(data)
    for name, spec in ((schema or {}).get("properties") or {}).items():
        value = data.get(name)
        if isinstance(spec, Mapping) and spec.get(TICKET_KEY) and isinstance(value, str):
            result[name] = numbers.canonical(value) or value
    return result


def checked_references(
    session: Session, ticket: Ticket, schema: Mapping[str, Any] | None, data: Mapping[str, Any]
) -> dict[str, Any]:
    """The form data with every ticket reference checked and written as its canonical number."""
    result = dict(data)
    for name, spec in ((schema or {}).get("properties") or {}).items():
        if not isinstance(spec, Mapping) or not spec.get(TICKET_KEY):
            continue
        value = data.get(name)
        if not isinstance(value, str):
            continue
        number = numbers.canonical(value)
        if number is None:
            raise InvalidInput(
                "not a ticket number", fields={name: ["a ticket number, e.g. LK-7KQ2M9XD"]}
            )
        if number == ticket.number:
            raise SelfReference(
                "a ticket cannot refer to itself", fields={name: ["give another ticket's number"]}
            )
        if session.scalar(select(Ticket.id).where(Ticket.number == number)) is None:
            raise InvalidInput(f"no ticket {number}", fields={name: [f"no ticket {number}"]})
        result[name] = number
    return result


def apply(
    session: Session,
    ticket: Ticket,
    passed: Sequence[Step],
    data: Mapping[str, Any],
    *,
    now: datetime,
) -> None:
    """Link the ticket as the elements passed say (``links_to``)."""
    for step in passed:
        variable = step.properties.get(LINKS_PROPERTY)
        number = data.get(variable) if variable else None
        if not isinstance(number, str):
            continue
        original = session.scalar(
            select(Ticket).where(Ticket.number == (numbers.canonical(number) or "-"))
        )
        if original is None or original.id == ticket.id:
            continue
        ticket.duplicate_of_id = original.id
        # A confidential ticket's number is named to entitled staff only.
        to_duplicate = timeline.Update(
            "link", _audience(original), timeline.SYSTEM, field="duplicate_of", text=original.number
        )
        to_original = timeline.Update(
            "link", _audience(ticket), timeline.SYSTEM, field="duplicate", text=ticket.number
        )
        timeline.write(session, ticket.id, [to_duplicate], at=now)
        timeline.write(session, original.id, [to_original], at=now)
        contact = ticket.reporter_contact
        if contact and not original.confidential and not ticket.confidential:
            known = session.scalar(
                select(Follower.id).where(
                    Follower.ticket_id == original.id, Follower.contact == contact
                )
            )
            if known is None and contact != original.reporter_contact:
                session.add(Follower(ticket_id=original.id, contact=contact, created_at=now))


def _audience(named: Ticket) -> str:
    return STAFF if named.confidential else PUBLIC
