"""Links between tickets (engine.links) on SQLite and PostgreSQL: a ticket reference must name
another existing ticket; a duplicate points at its original, its reporter follows a
non-confidential original, and both timelines say so to the audience allowed to know."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from engine import audit
from engine import commands
from engine import links
from engine import task_view
from engine import timeline
from engine.errors import InvalidInput
from engine.identity import Actor
from engine.models import Follower
from engine.models import OutboxMessage
from engine.models import ProcessInstance
from engine.models import Ticket
from engine.models import TicketUpdate
from engine.ticket_view import ticket_view
from engine.visibility import AUDIENCES_ALL
from engine.visibility import AUDIENCES_PUBLIC
from engine.visibility import AUDIENCES_REPORTER
from tests.conftest import NOW
from tests.factories import ROAD
from tests.factories import open_task
from tests.factories import submit

VERIFIER = Actor("user:ani", "verifier", frozenset({"verifier"}))
DPUPR = Actor("user:dedi", "officer", frozenset({"dpupr"}))
LATER = NOW + timedelta(hours=1)
SECOND = replace(ROAD, reporter_name="Siti", reporter_contact="siti@example.org")


def complete(
    factory: sessionmaker[Session], number: str, actor: Actor, data: dict[str, Any]
) -> None:
    with factory.begin() as session:
        commands.complete_task(
            session, task_id=open_task(session, number).id, actor=actor, data=data, now=LATER
        )


def state(factory: sessionmaker[Session], number: str) -> tuple[Any, ...]:
    """What a refused completion must leave as it was."""
    with factory() as session:
        ticket = session.scalars(select(Ticket).where(Ticket.number == number)).one()
        instance = session.scalars(
            select(ProcessInstance).where(ProcessInstance.ticket_id == ticket.id)
        ).one()
        followers = session.scalar(select(func.count()).select_from(Follower))
        outbox = session.scalar(select(func.count()).select_from(OutboxMessage))
        updates = session.scalar(select(func.count()).select_from(TicketUpdate))
        return (
            ticket.status,
            ticket.duplicate_of_id,
            instance.version,
            instance.audit_seq,
            open_task(session, number).id,
            followers,
            outbox,
            updates,
        )


def ticket(factory: sessionmaker[Session], number: str) -> Ticket:
    with factory() as session:
        found = session.scalars(select(Ticket).where(Ticket.number == number)).one()
        session.expunge(found)
        return found


def followers(factory: sessionmaker[Session], number: str) -> list[str]:
    with factory() as session:
        return list(
            session.scalars(
                select(Follower.contact)
                .join(Ticket, Ticket.id == Follower.ticket_id)
                .where(Ticket.number == number)
                .order_by(Follower.id)
            )
        )


def links_seen(
    factory: sessionmaker[Session], number: str, audiences: frozenset[str]
) -> list[tuple[str | None, str | None, str]]:
    """(field, text, audience) of the ticket's link entries a viewer with ``audiences`` reads."""
    with factory() as session:
        ticket_id = session.scalars(select(Ticket.id).where(Ticket.number == number)).one()
        return [
            (u.field, u.text, u.audience)
            for u in timeline.updates_of(session, ticket_id, audiences)
            if u.kind == "link"
        ]


def reporter_rows(factory: sessionmaker[Session], number: str) -> list[dict[str, Any]]:
    with factory() as session:
        return [
            m.payload
            for m in session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.topic == "notify.reporter")
                .order_by(OutboxMessage.id)
            )
            if m.payload.get("ticket") == number and m.payload.get("template") != "private_link"
        ]


# -- references that are refused --------------------------------------------------------------


def test_a_reference_to_a_missing_ticket_is_refused_on_its_field_and_changes_nothing(
    backend_factory,
):
    number = submit(backend_factory)
    before = state(backend_factory, number)
    with pytest.raises(InvalidInput) as refused:
        complete(
            backend_factory,
            number,
            VERIFIER,
            {"decision": "duplicate", "duplicate_of": "LK-ZZZZZZZZ"},
        )
    assert set(refused.value.fields) == {"duplicate_of"}
    assert "LK-ZZZZZZZZ" in refused.value.fields["duplicate_of"][0]
    assert state(backend_factory, number) == before
    assert before[0] == "verification"


def test_a_ticket_cannot_be_a_duplicate_of_itself(backend_factory):
    number = submit(backend_factory)
    before = state(backend_factory, number)
    with pytest.raises(InvalidInput) as refused:
        complete(
            backend_factory, number, VERIFIER, {"decision": "duplicate", "duplicate_of": number}
        )
    assert set(refused.value.fields) == {"duplicate_of"}
    assert state(backend_factory, number) == before


def test_checked_references_canonicalises_and_checks_only_ticket_fields(backend_factory):
    original = submit(backend_factory)
    duplicate = submit(backend_factory, SECOND)
    schema = {
        "properties": {
            "duplicate_of": {"type": "string", "x-laksa-ticket": True},
            "reason": {"type": "string"},
        }
    }
    with backend_factory() as session:
        row = session.scalars(select(Ticket).where(Ticket.number == duplicate)).one()
        data = {"duplicate_of": f" {original.lower()} ", "reason": "lk-zzzzzzzz"}
        assert links.checked_references(session, row, schema, data) == {
            "duplicate_of": original,
            "reason": "lk-zzzzzzzz",  # not a ticket field: left alone
        }
        assert links.checked_references(session, row, schema, {}) == {}
        assert links.checked_references(session, row, None, {"x": 1}) == {"x": 1}
        with pytest.raises(InvalidInput):
            links.checked_references(session, row, schema, {"duplicate_of": duplicate.lower()})


# -- a duplicate of a public ticket -----------------------------------------------------------


def test_a_duplicate_links_to_its_original_and_its_reporter_follows_it(backend_factory):
    original = submit(backend_factory)
    duplicate = submit(backend_factory, SECOND)
    complete(
        backend_factory, duplicate, VERIFIER, {"decision": "duplicate", "duplicate_of": original}
    )
    linked = ticket(backend_factory, duplicate)
    assert (linked.status, linked.outcome) == ("duplicate", "duplicate")
    assert linked.closed_at is not None
    assert linked.duplicate_of_id == ticket(backend_factory, original).id
    assert ticket(backend_factory, original).duplicate_of_id is None
    assert followers(backend_factory, original) == ["siti@example.org"]
    assert followers(backend_factory, duplicate) == []
    # Both timelines say so, in public.
    assert links_seen(backend_factory, duplicate, AUDIENCES_PUBLIC) == [
        ("duplicate_of", original, "public")
    ]
    assert links_seen(backend_factory, original, AUDIENCES_PUBLIC) == [
        ("duplicate", duplicate, "public")
    ]
    with backend_factory() as session:
        assert audit.verify(session) == []


def test_the_duplicates_reporter_hears_what_the_originals_reporter_hears(backend_factory):
    original = submit(backend_factory)
    duplicate = submit(backend_factory, SECOND)
    complete(
        backend_factory, duplicate, VERIFIER, {"decision": "duplicate", "duplicate_of": original}
    )
    # The duplicate's own closing notice goes to its reporter (the original has no follower
    # rows for it).
    assert [p["recipients"] for p in reporter_rows(backend_factory, duplicate)] == [
        ["siti@example.org"]
    ]
    complete(backend_factory, original, VERIFIER, {"decision": "route"})
    complete(backend_factory, original, DPUPR, {"decision": "accept", "complexity": "simple"})
    complete(
        backend_factory,
        original,
        DPUPR,
        {"decision": "need_info", "question": "Di depan nomor berapa?"},
    )
    assert ticket(backend_factory, original).status == "waiting_info"
    asked = [
        p for p in reporter_rows(backend_factory, original) if p["element_id"] == "info_requested"
    ]
    assert sorted((p["recipients"][0], bool(p.get("follower"))) for p in asked) == [
        ("budi@example.org", False),
        ("siti@example.org", True),
    ]


def test_a_reporter_who_is_already_the_originals_is_not_made_a_follower(backend_factory):
    original = submit(backend_factory)
    duplicate = submit(backend_factory)  # the same contact as the original's
    complete(
        backend_factory, duplicate, VERIFIER, {"decision": "duplicate", "duplicate_of": original}
    )
    assert ticket(backend_factory, duplicate).status == "duplicate"
    assert followers(backend_factory, original) == []


def test_two_duplicates_of_one_reporter_follow_once(backend_factory):
    original = submit(backend_factory)
    for _ in range(2):
        duplicate = submit(backend_factory, SECOND)
        complete(
            backend_factory,
            duplicate,
            VERIFIER,
            {"decision": "duplicate", "duplicate_of": original},
        )
    assert followers(backend_factory, original) == ["siti@example.org"]


def test_a_reporter_without_contact_follows_nothing(backend_factory):
    original = submit(backend_factory)
    duplicate = submit(backend_factory, replace(ROAD, reporter_contact=None))
    complete(
        backend_factory, duplicate, VERIFIER, {"decision": "duplicate", "duplicate_of": original}
    )
    assert ticket(backend_factory, duplicate).duplicate_of_id is not None
    assert followers(backend_factory, original) == []


def test_a_reference_in_lower_case_is_accepted_and_stored_upper_case(backend_factory):
    original = submit(backend_factory)
    duplicate = submit(backend_factory, SECOND)
    complete(
        backend_factory,
        duplicate,
        VERIFIER,
        {"decision": "duplicate", "duplicate_of": original.lower()},
    )
    linked = ticket(backend_factory, duplicate)
    assert linked.status == "duplicate"
    assert linked.duplicate_of_id == ticket(backend_factory, original).id
    assert followers(backend_factory, original) == ["siti@example.org"]
    with backend_factory() as session:
        stored = [
            e.data
            for e in audit.history(session, open_instance_id(session, duplicate))
            if e.action == "task_completed"
        ]
    assert f'"duplicate_of":"{original}"' in stored[0]


def open_instance_id(session: Session, number: str) -> int:
    return session.scalars(
        select(ProcessInstance.id)
        .join(Ticket, Ticket.id == ProcessInstance.ticket_id)
        .where(Ticket.number == number)
    ).one()


# -- a duplicate of a confidential ticket -----------------------------------------------------


def test_a_confidential_original_gets_no_follower_and_stays_unnamed_in_public(backend_factory):
    original = submit(backend_factory, replace(ROAD, confidential=True))
    duplicate = submit(backend_factory, SECOND)
    complete(
        backend_factory, duplicate, VERIFIER, {"decision": "duplicate", "duplicate_of": original}
    )
    assert (
        ticket(backend_factory, duplicate).duplicate_of_id == ticket(backend_factory, original).id
    )
    assert followers(backend_factory, original) == []
    # The public and the duplicate's reporter never read the confidential number.
    assert links_seen(backend_factory, duplicate, AUDIENCES_PUBLIC) == []
    assert links_seen(backend_factory, duplicate, AUDIENCES_REPORTER) == []
    with backend_factory() as session:
        public = ticket_view(session, duplicate)
        assert all(original not in (e.text or "") for e in public.entries)
        staff = ticket_view(session, duplicate, actor=VERIFIER)
        assert any(e.kind == "link" and e.text == original for e in staff.entries)
    # Entitled staff read it on both tickets.
    assert links_seen(backend_factory, duplicate, AUDIENCES_ALL) == [
        ("duplicate_of", original, "staff")
    ]
    assert links_seen(backend_factory, original, AUDIENCES_ALL) == [
        ("duplicate", duplicate, "public")
    ]


def test_a_confidential_duplicate_is_named_on_the_original_to_staff_only(backend_factory):
    original = submit(backend_factory)
    duplicate = submit(backend_factory, replace(SECOND, confidential=True))
    complete(
        backend_factory, duplicate, VERIFIER, {"decision": "duplicate", "duplicate_of": original}
    )
    assert links_seen(backend_factory, original, AUDIENCES_PUBLIC) == []
    assert links_seen(backend_factory, original, AUDIENCES_ALL) == [
        ("duplicate", duplicate, "staff")
    ]
    assert links_seen(backend_factory, duplicate, AUDIENCES_PUBLIC) == [
        ("duplicate_of", original, "public")
    ]


# -- likely originals (the verifier's hint for a duplicate) -----------------------------------

METRE = 1 / 111_320  # a metre in degrees of latitude
LAT, LON = -6.1900, 106.6900


def road(**fields: Any) -> commands.TicketInput:
    return replace(ROAD, **{"kecamatan": "Cipondoh", **fields})


def test_likely_originals_are_recent_public_tickets_of_the_category_and_kecamatan(
    backend_factory,
):
    old = submit(backend_factory, road(), now=NOW - timedelta(days=31))
    first = submit(backend_factory, road(), now=NOW - timedelta(days=2))
    second = submit(backend_factory, road(), now=NOW - timedelta(days=1))
    submit(backend_factory, road(category="sampah"), now=NOW - timedelta(days=1))
    submit(backend_factory, road(kecamatan="Karawaci"), now=NOW - timedelta(days=1))
    submit(backend_factory, road(confidential=True), now=NOW - timedelta(days=1))
    number = submit(backend_factory, road(), now=NOW)
    with backend_factory() as session:
        found = task_view.likely_originals(session, number, now=NOW)
        assert [c.number for c in found] == [second, first]  # newest first
        assert old not in [c.number for c in found]
        assert all(c.distance_m is None for c in found)
        assert task_view.likely_originals(session, "LK-ZZZZZZZZ", now=NOW) == []
        assert len(task_view.likely_originals(session, number, now=NOW, limit=1)) == 1


def test_likely_originals_with_coordinates_are_the_open_ones_within_100_metres(backend_factory):
    near = submit(backend_factory, road(latitude=LAT + 40 * METRE, longitude=LON))
    nearer = submit(backend_factory, road(latitude=LAT + 10 * METRE, longitude=LON))
    submit(backend_factory, road(latitude=LAT + 300 * METRE, longitude=LON))
    closed = submit(backend_factory, road(latitude=LAT + 5 * METRE, longitude=LON))
    complete(backend_factory, closed, VERIFIER, {"decision": "reject", "reason": "spam"})
    number = submit(backend_factory, road(latitude=LAT, longitude=LON))
    with backend_factory() as session:
        found = task_view.likely_originals(session, number, now=LATER)
    assert [c.number for c in found] == [nearer, near]  # nearest first
    assert [round(c.distance_m or 0) for c in found] == [10, 40]


def test_the_verify_task_offers_likely_originals_and_other_tasks_do_not(backend_factory):
    original = submit(backend_factory, road(), now=NOW - timedelta(days=1))
    number = submit(backend_factory, road())
    with backend_factory() as session:
        view = task_view.task_view(
            session, open_task(session, number).id, actor=VERIFIER, now=LATER
        )
        assert [c.number for c in view.candidates] == [original]
    complete(backend_factory, number, VERIFIER, {"decision": "route"})
    with backend_factory() as session:
        view = task_view.task_view(session, open_task(session, number).id, actor=DPUPR, now=LATER)
        assert view.element_id == "acknowledge"
        assert view.candidates == []
