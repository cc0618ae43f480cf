"""engine.rowwrites: a ticket and its instance written by one Core statement each, on SQLite
and PostgreSQL, leaving the session as a flush would."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import event
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from engine import commands
from engine import rowwrites
from engine.identity import Actor
from engine.models import ProcessInstance
from engine.models import Ticket
from tests.conftest import NOW
from tests.factories import instance_of
from tests.factories import move_version_behind
from tests.factories import open_task
from tests.factories import submit


def _ticket(number: str) -> Ticket:
    return Ticket(
        number=number,
        kind="complaint",
        category="jalan",
        title="Jalan berlubang",
        description="Lubang besar di depan pasar",
        status="received",
        created_at=NOW,
        updated_at=NOW,
    )


@contextmanager
def _statements(session: Session) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(*args: object) -> None:
        seen.append(str(args[2]))

    session.connection()  # the transaction has begun: its BEGIN is not counted
    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_insert_writes_every_column_once_and_leaves_the_objects_clean(backend_factory):
    with backend_factory.begin() as session:
        ticket = _ticket("LKS-RW-1")
        with _statements(session) as seen:
            rowwrites.insert(session, ticket)
        assert len(seen) == 1
        assert seen[0].startswith("INSERT INTO ticket")
        assert ticket.id is not None
        assert ticket in session
        assert not session.dirty
        assert not session.new
        with _statements(session) as seen:
            # defaults were given to the object too: reading them needs no SELECT
            assert (ticket.escalation_level, ticket.breached, ticket.anonymous) == (0, False, False)
            assert ticket.closed_at is None
            assert ticket.opd is None
        assert seen == []
    with backend_factory() as session:
        stored = session.scalars(select(Ticket).where(Ticket.number == "LKS-RW-1")).one()
        assert (stored.id, stored.escalation_level, stored.breached) == (ticket.id, 0, False)
        assert stored.created_at == NOW


def test_update_writes_only_changed_columns_and_moves_the_version(backend_factory):
    instance_id = instance_of(backend_factory, submit(backend_factory))
    with backend_factory.begin() as session:
        row = session.get(ProcessInstance, instance_id)
        assert row is not None
        version = row.version
        row.updated_at = NOW + timedelta(hours=1)
        row.completed = row.completed  # set to what it held: not written
        with _statements(session) as seen:
            rowwrites.update(session, row)
            session.flush()  # nothing is left for the ORM to write
        assert len(seen) == 1
        assert seen[0].startswith("UPDATE process_instance SET updated_at=")
        assert "completed" not in seen[0].split("WHERE")[0]
        assert row.version == version + 1
        assert not session.dirty
    with backend_factory() as session:
        stored = session.get(ProcessInstance, instance_id)
        assert stored is not None
        assert (stored.version, stored.updated_at) == (version + 1, NOW + timedelta(hours=1))


def test_update_with_nothing_changed_writes_nothing(backend_factory):
    instance_id = instance_of(backend_factory, submit(backend_factory))
    with backend_factory.begin() as session:
        row = session.get(ProcessInstance, instance_id)
        assert row is not None
        with _statements(session) as seen:
            rowwrites.update(session, row)
        assert seen == []


def test_update_of_a_version_moved_by_another_writer_is_refused(backend_factory):
    """A writer that skipped the lock: the UPDATE matches no row, StaleDataError, nothing
    written (commands turn it into Conflict)."""
    instance_id = instance_of(backend_factory, submit(backend_factory))
    with backend_factory() as session:
        row = session.get(ProcessInstance, instance_id)
        assert row is not None
        move_version_behind(session, instance_id)
        row.updated_at = NOW + timedelta(days=1)
        with pytest.raises(StaleDataError):
            rowwrites.update(session, row)
        stored_at = session.connection().scalar(
            select(ProcessInstance.updated_at).where(ProcessInstance.id == instance_id)
        )
        assert stored_at != NOW + timedelta(days=1)
        session.rollback()


def test_two_commands_on_one_ticket_in_one_session(backend_factory):
    """The version moved by the first command is the one the second checks against."""
    number = submit(backend_factory)
    verifier = Actor(name="verifikator", role="verifier", groups=frozenset({"verifier"}))
    officer = Actor(name="petugas", role="officer", groups=frozenset({"dpupr"}))
    with backend_factory.begin() as session:
        task = open_task(session, number)
        commands.complete_task(
            session, task_id=task.id, actor=verifier, data={"decision": "route"}, now=NOW
        )
        task = open_task(session, number)
        result = commands.complete_task(
            session,
            task_id=task.id,
            actor=officer,
            data={"decision": "accept", "complexity": "simple"},
            now=NOW + timedelta(hours=1),
        )
        assert result.instance.version == 3
    instance_id = instance_of(backend_factory, number)
    with backend_factory() as session:
        assert open_task(session, number).element_id == "handle"
        stored = session.get(ProcessInstance, instance_id)
        assert stored is not None
        assert stored.version == 3
