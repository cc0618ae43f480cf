"""The audit trail is SHA-256 chained per instance: any edit or removal is found, by ticket."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from engine import audit
from engine import commands
from engine.identity import Actor
from engine.models import AuditEvent
from engine.models import HumanTask
from engine.models import ProcessInstance
from engine.models import Ticket
from tests.conftest import NOW
from tests.factories import ROAD


def submit_and_route(factory: sessionmaker[Session], actor: Actor) -> str:
    with factory.begin() as session:
        number = commands.submit_ticket(
            session, data=ROAD, actor=Actor.public(), now=NOW
        ).ticket.number
    with factory.begin() as session:
        task = session.scalars(
            select(HumanTask)
            .join(Ticket, Ticket.id == HumanTask.ticket_id)
            .where(Ticket.number == number, HumanTask.completed_at.is_(None))
        ).one()
        commands.complete_task(
            session,
            task_id=task.id,
            actor=actor,
            data={"decision": "route"},
            now=NOW + timedelta(hours=2),
        )
    return number


@pytest.fixture
def tickets(session_factory, actors) -> tuple[str, str]:
    """Two routed tickets: the one we tamper with and a bystander."""
    return (
        submit_and_route(session_factory, actors["verifikator"]),
        submit_and_route(session_factory, actors["verifikator"]),
    )


def event_ids(factory: sessionmaker[Session], number: str) -> list[int]:
    with factory() as session:
        return list(
            session.scalars(
                select(AuditEvent.id)
                .join(ProcessInstance, ProcessInstance.id == AuditEvent.instance_id)
                .join(Ticket, Ticket.id == ProcessInstance.ticket_id)
                .where(Ticket.number == number)
                .order_by(AuditEvent.seq)
            )
        )


def pick(ids: list[int], where: str) -> int:
    return {"first": ids[0], "middle": ids[len(ids) // 2], "last": ids[-1]}[where]


def tamper(factory: sessionmaker[Session], sql: str, **params: object) -> None:
    with factory.begin() as session:
        assert session.execute(text(sql), params).rowcount == 1


def problems(factory: sessionmaker[Session]) -> list[audit.Problem]:
    with factory() as session:
        return audit.verify(session)


def test_an_untouched_trail_verifies(tickets, session_factory):
    assert len(event_ids(session_factory, tickets[0])) >= 6
    assert problems(session_factory) == []


EDITS = {
    "data": 'UPDATE audit_event SET data = \'{"decision":"reject"}\' WHERE id = :id',
    "actor": "UPDATE audit_event SET actor = 'pengawas' WHERE id = :id",
    "at": "UPDATE audit_event SET at = '2020-01-01 00:00:00.000000' WHERE id = :id",
    "action": "UPDATE audit_event SET action = 'ticket_withdrawn' WHERE id = :id",
    "element_id": "UPDATE audit_event SET element_id = 'archived' WHERE id = :id",
}


@pytest.mark.parametrize("where", ["first", "middle", "last"])
@pytest.mark.parametrize("column", sorted(EDITS))
def test_editing_any_column_of_any_row_is_detected_naming_the_ticket(
    tickets, session_factory, column, where
):
    tampered, _ = tickets
    victim = pick(event_ids(session_factory, tampered), where)
    tamper(session_factory, EDITS[column], id=victim)
    found = problems(session_factory)
    assert [p.ticket_number for p in found] == [tampered]
    with session_factory() as session:
        assert found[0].seq == session.get(AuditEvent, victim).seq
    assert "edited" in found[0].reason


@pytest.mark.parametrize("where", ["first", "middle", "last"])
def test_deleting_a_row_is_detected_naming_the_ticket(tickets, session_factory, where):
    tampered, _ = tickets
    victim = pick(event_ids(session_factory, tampered), where)
    tamper(session_factory, "DELETE FROM audit_event WHERE id = :id", id=victim)
    found = problems(session_factory)
    assert [p.ticket_number for p in found] == [tampered]


def test_truncating_a_tickets_whole_trail_is_detected(tickets, session_factory):
    tampered, _ = tickets
    ids = event_ids(session_factory, tampered)
    with session_factory.begin() as session:
        session.execute(text(f"DELETE FROM audit_event WHERE id IN ({','.join(map(str, ids))})"))
    assert [p.ticket_number for p in problems(session_factory)] == [tampered]


def test_a_forged_row_with_a_recomputed_hash_is_still_detected(tickets, session_factory):
    """Rewriting a row's hash to match its new content breaks the link to the next row."""
    tampered, _ = tickets
    ids = event_ids(session_factory, tampered)
    with session_factory.begin() as session:
        row = session.get(AuditEvent, ids[1])
        assert row is not None
        row.actor = "pengawas"
        row.hash = audit._digest(  # what a forger with the code would compute
            row.prev_hash,
            tampered,
            row.seq,
            row.at.isoformat(),
            row.actor,
            row.action,
            row.element_id,
            row.data,
        )
    found = problems(session_factory)
    assert [p.ticket_number for p in found] == [tampered]
    assert found[0].seq == 3


def test_an_appended_row_is_detected(tickets, session_factory):
    tampered, _ = tickets
    ids = event_ids(session_factory, tampered)
    tamper(
        session_factory,
        "INSERT INTO audit_event (instance_id, seq, at, actor, action, element_id, data,"
        " prev_hash, hash) SELECT instance_id, seq + 1, at, actor, action, element_id, data,"
        " hash, hash FROM audit_event WHERE id = :id",
        id=ids[-1],
    )
    assert [p.ticket_number for p in problems(session_factory)] == [tampered]


def test_swapping_two_rows_contents_is_detected(tickets, session_factory):
    tampered, _ = tickets
    ids = event_ids(session_factory, tampered)
    with session_factory.begin() as session:
        a, b = session.get(AuditEvent, ids[0]), session.get(AuditEvent, ids[1])
        assert a is not None
        assert b is not None
        a.data, b.data = b.data, a.data
        a.action, b.action = b.action, a.action
    assert [p.ticket_number for p in problems(session_factory)] == [tampered]
