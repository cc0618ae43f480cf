"""What a command came through (``via``) is recorded and hashed with each audit event; older
events without it still verify; the auditors' search sees exactly the tickets the visibility
rule lets a viewer see; contacts are masked in the notifications list."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy import update

from engine import audit
from engine import audit_search
from engine import audit_trail
from engine import claims
from engine import commands
from engine import identity
from engine.identity import Actor
from engine.models import AuditEvent
from engine.models import OutboxMessage
from engine.models import ProcessInstance
from engine.models import Ticket
from engine.visibility import access
from engine.visibility import tickets_seen_by
from tests.conftest import NOW
from tests.factories import ROAD
from tests.factories import audit_events
from tests.factories import complete
from tests.factories import open_task
from tests.factories import submit


def test_every_event_of_a_command_records_what_the_actor_came_through(session_factory, actors):
    with session_factory.begin() as session:
        number = commands.submit_ticket(
            session, data=ROAD, actor=Actor.public(identity.VIA_API), now=NOW
        ).ticket.number
    desk = replace(actors["verifikator"], via="token:7")
    complete(session_factory, desk, number, {"decision": "route"}, now=NOW + timedelta(hours=1))
    with session_factory.begin() as session:
        task_id = open_task(session, number).id
        opd = replace(actors["petugas_dpupr"], via=identity.VIA_SESSION)
        claims.claim(session, task_id=task_id, actor=opd, now=NOW + timedelta(hours=2))
    with session_factory.begin() as session:
        instance_id = session.scalars(
            select(ProcessInstance.id).join(Ticket).where(Ticket.number == number)
        ).one()
        commands.fire_timers(session, instance_id=instance_id, now=NOW + timedelta(days=30))
    by_actor: dict[str, set[str | None]] = {}
    for event in audit_events(session_factory, number):
        by_actor.setdefault(event.actor, set()).add(event.via)
    assert by_actor == {
        "public": {"api"},
        "user:verifikator": {"token:7"},
        "user:petugas_dpupr": {"session"},
        "system:timer": {"system"},
    }
    with session_factory() as session:
        assert audit.verify(session) == []


def test_via_is_hashed_so_changing_or_erasing_it_is_found(session_factory, actors):
    with session_factory.begin() as session:
        number = commands.submit_ticket(
            session, data=ROAD, actor=Actor.public(identity.VIA_WEB_FORM), now=NOW
        ).ticket.number
    first = audit_events(session_factory, number)[0]
    for forged in ("session", None):
        with session_factory.begin() as session:
            session.execute(update(AuditEvent).where(AuditEvent.id == first.id).values(via=forged))
        with session_factory() as session:
            problems = audit.verify(session)
        assert [(p.ticket_number, p.seq) for p in problems] == [(number, 1)]


def test_events_written_before_via_was_recorded_hash_and_verify_as_they_always_did(
    session_factory,
):
    number = submit(session_factory)  # Actor.public(): via None, as every older event
    events = audit_events(session_factory, number)
    assert {e.via for e in events} == {None}
    first = events[0]
    legacy = audit.canonical(
        [number, 1, first.at.isoformat(), first.actor, first.action, first.element_id, first.data]
    )
    assert first.hash == hashlib.sha256((audit.GENESIS + legacy).encode()).hexdigest()
    with session_factory() as session:
        instance_id = first.instance_id
        assert audit.verify_instance(session, instance_id) is None


def test_a_token_names_itself_in_the_actor_a_session_does_not_need_to(session_factory):
    with session_factory.begin() as session:
        token = identity.create_token(session, username="verifikator", name="desk app", now=NOW)
    with session_factory() as session:
        actor = identity.actor_for_token(session, token, now=NOW)
        assert actor is not None
        assert actor.name == "user:verifikator"
        assert actor.via is not None
        token_id = int(actor.via.removeprefix("token:"))
        assert identity.list_tokens(session, username="verifikator")[0].id == token_id
        assert identity.actor_for_token(session, "lk_wrong", now=NOW) is None


def test_verify_instance_names_the_broken_event(session_factory):
    number = submit(session_factory)
    second = audit_events(session_factory, number)[1]
    with session_factory.begin() as session:
        session.execute(update(AuditEvent).where(AuditEvent.id == second.id).values(data='{"x":1}'))
    with session_factory() as session:
        problem = audit.verify_instance(session, second.instance_id)
    assert problem is not None
    assert (problem.ticket_number, problem.seq) == (number, 2)


@pytest.mark.parametrize(
    ("contact", "masked"),
    [
        ("budi@example.org", "b***@example.org"),
        ("0812-3456-7890", "08********90"),
        ("+62 812 3456 7890", "62*********90"),
        ("x", "x***"),
    ],
)
def test_contacts_are_masked_in_the_notifications_list(contact, masked):
    assert audit_trail.mask(contact) == masked


def test_outbox_rows_name_their_ticket(session_factory, actors):
    number = submit(session_factory)
    complete(
        session_factory,
        actors["verifikator"],
        number,
        {"decision": "reject", "reason": "Tidak jelas lokasinya, mohon lapor ulang"},
    )
    with session_factory() as session:
        ticket_id = session.scalars(select(Ticket.id).where(Ticket.number == number)).one()
        rows = session.scalars(select(OutboxMessage)).all()
        assert rows
        assert {r.ticket_id for r in rows} == {ticket_id}


def test_the_search_sees_exactly_what_the_visibility_rule_lets_each_viewer_see(
    session_factory, actors
):
    plain = submit(session_factory)
    secret = submit(session_factory, replace(ROAD, confidential=True))
    routed = submit(session_factory, replace(ROAD, confidential=True))
    complete(session_factory, actors["verifikator"], routed, {"decision": "route"})
    auditor = Actor(name="user:a", role="auditor")
    admin = Actor(name="user:root", role="admin")
    viewers = [*actors.values(), auditor, admin, Actor(name="user:c", role="citizen")]
    with session_factory() as session:
        tickets = session.scalars(select(Ticket)).all()
        for viewer in viewers:
            expected = {t.number for t in tickets if access(t, actor=viewer).sees_ticket}
            seen = {f.number for f in audit_search.stream(session, viewer, audit_search.Filters())}
            assert seen == expected, viewer.name
            query = select(Ticket.number).where(tickets_seen_by(viewer))
            assert set(session.scalars(query)) == expected, viewer.name
    with session_factory() as session:
        assert {
            f.number for f in audit_search.stream(session, auditor, audit_search.Filters())
        } == {
            plain,
            secret,
            routed,
        }


def test_reading_the_reporter_writes_a_note_without_a_new_version(session_factory):
    number = submit(session_factory)
    auditor = Actor(name="user:a", role="auditor", via="session")
    with session_factory.begin() as session:
        version = session.scalars(
            select(ProcessInstance.version).join(Ticket).where(Ticket.number == number)
        ).one()
        shown = audit_trail.read_reporter(
            session, number, actor=auditor, page="/audit/tiket/x", reason=None, now=NOW
        )
    assert shown == audit_trail.Reporter(None, "budi@example.org")
    last = audit_events(session_factory, number)[-1]
    assert (last.actor, last.via, last.action) == ("user:a", "session", "reporter_data_read")
    with session_factory() as session:
        assert (
            session.scalars(
                select(ProcessInstance.version).join(Ticket).where(Ticket.number == number)
            ).one()
            == version
        )
        assert audit.verify(session) == []
