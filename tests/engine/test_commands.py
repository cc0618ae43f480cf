"""The engine's commands on SQLite: one command, one transaction, conflicts never lost."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from engine import commands
from engine.errors import Conflict
from engine.errors import Forbidden
from engine.errors import InvalidInput
from engine.errors import NotFound
from engine.models import AuditEvent
from engine.models import PendingTimer
from engine.models import ProcessInstance
from engine.models import Ticket
from tests.conftest import NOW
from tests.factories import move_version_behind
from tests.factories import open_task
from tests.factories import submit


def test_submitted_ticket_waits_at_verification_with_a_deadline(session_factory, session):
    number = submit(session_factory)
    ticket = session.scalars(select(Ticket).where(Ticket.number == number)).one()
    task = open_task(session, number)
    timer = session.scalars(select(PendingTimer)).one()
    assert ticket.status == "verification"
    assert (task.element_id, task.candidate_group, task.form) == (
        "verify",
        "verifier",
        "verify.schema.json",
    )
    assert task.due_at == timer.due_at == ticket.due_at
    assert timer.due_at > NOW


def test_routing_moves_the_task_to_the_opd_group(session_factory, actors):
    number = submit(session_factory)
    with session_factory.begin() as session:
        task = open_task(session, number)
        commands.complete_task(
            session,
            task_id=task.id,
            actor=actors["verifikator"],
            data={"decision": "route"},
            now=NOW + timedelta(hours=1),
        )
    with session_factory() as session:
        task = open_task(session, number)
        ticket = session.scalars(select(Ticket).where(Ticket.number == number)).one()
        assert (task.element_id, task.candidate_group) == ("acknowledge", "dpupr")
        assert (ticket.status, ticket.opd) == ("dispatched", "dpupr")
        timer = session.scalars(select(PendingTimer)).one()  # the verification timer is gone
        assert timer.element_id == "acknowledgement_overdue"


def test_rejection_closes_the_ticket_with_its_reason(session_factory, actors):
    number = submit(session_factory)
    with session_factory.begin() as session:
        task = open_task(session, number)
        commands.complete_task(
            session,
            task_id=task.id,
            actor=actors["verifikator"],
            data={"decision": "reject", "reason": "spam"},
            now=NOW,
        )
    with session_factory() as session:
        ticket = session.scalars(select(Ticket).where(Ticket.number == number)).one()
        assert (ticket.status, ticket.outcome) == ("archived", "rejected")
        assert ticket.closed_at == NOW


def test_officer_of_another_group_is_forbidden_and_nothing_changes(session_factory, actors):
    number = submit(session_factory)
    with session_factory() as session:
        task = open_task(session, number)
        version = session.get(ProcessInstance, task.instance_id).version
        with pytest.raises(Forbidden):
            commands.complete_task(
                session,
                task_id=task.id,
                actor=actors["petugas_dlh"],
                data={"decision": "route"},
                now=NOW,
            )
        session.rollback()
        assert session.get(ProcessInstance, task.instance_id).version == version


def test_invalid_form_data_names_the_fields(session_factory, actors):
    number = submit(session_factory)
    with session_factory() as session:
        task = open_task(session, number)
        with pytest.raises(InvalidInput) as error:
            commands.complete_task(
                session,
                task_id=task.id,
                actor=actors["verifikator"],
                data={"decision": "reject", "hack": 1},
                now=NOW,
            )
        assert set(error.value.fields) == {"reason", "hack"}


def test_unknown_category_is_refused_and_no_ticket_is_written(session_factory, session):
    bad = commands.TicketInput(kind="complaint", category="nope", title="x", description="y")
    with pytest.raises(InvalidInput):
        submit(session_factory, bad)
    assert session.scalar(select(func.count()).select_from(Ticket)) == 0


def test_completing_a_missing_task_is_not_found(session_factory, actors):
    with session_factory() as session, pytest.raises(NotFound):
        commands.complete_task(session, task_id=999, actor=actors["verifikator"], data={}, now=NOW)


def test_stale_version_gets_a_conflict(session_factory, actors):
    number = submit(session_factory)
    with session_factory() as session:
        task = open_task(session, number)
        stale = session.get(ProcessInstance, task.instance_id).version - 1
        with pytest.raises(Conflict):
            commands.complete_task(
                session,
                task_id=task.id,
                actor=actors["verifikator"],
                data={"decision": "route"},
                now=NOW,
                expected_version=stale,
            )


def test_second_officer_completing_same_task_gets_conflict(session_factory, actors):
    """Two sessions complete the same task at once: exactly one wins, the other gets 409."""
    number = submit(session_factory)
    with session_factory() as session:
        task_id = open_task(session, number).id
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def complete(data: dict[str, str]) -> None:
        barrier.wait()
        try:
            with session_factory.begin() as session:
                commands.complete_task(
                    session, task_id=task_id, actor=actors["verifikator"], data=data, now=NOW
                )
            outcomes.append("ok")
        except Conflict:
            outcomes.append("conflict")

    threads = [
        threading.Thread(target=complete, args=(d,))
        for d in ({"decision": "route"}, {"decision": "reject", "reason": "duplicate"})
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(outcomes) == ["conflict", "ok"]
    with session_factory() as session:
        actions = session.scalars(select(AuditEvent.action)).all()
        assert actions.count("task_completed") == 1


def test_optimistic_version_check_catches_a_writer_that_skipped_the_lock(session_factory, actors):
    """If two writers ever hold the same version, the second flush is refused (rule 1)."""
    number = submit(session_factory)
    with session_factory.begin() as session:
        instance_id = open_task(session, number).instance_id
    with session_factory() as session:
        row = session.get(ProcessInstance, instance_id)
        move_version_behind(session, instance_id)
        row.updated_at = NOW + timedelta(minutes=1)
        with pytest.raises(StaleDataError):
            session.flush()


def test_audit_records_every_element_passed(session_factory, actors, session):
    number = submit(session_factory)
    with session_factory.begin() as s:
        task = open_task(s, number)
        commands.complete_task(
            s, task_id=task.id, actor=actors["verifikator"], data={"decision": "route"}, now=NOW
        )
    rows = session.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()
    elements = [r.element_id for r in rows if r.action == "element_completed"]
    assert elements == [
        "received",
        "verification_clock_started",
        "verify",
        "verification_clock_stopped",
        "verification_outcome",
        "prepare_routing",
        "route",
        "routing_found",
        "ack_clock_started",
    ]
    assert [r.seq for r in rows] == list(range(1, len(rows) + 1))
    assert all(r.actor for r in rows)


def test_overdue_ticket_keeps_its_breached_deadline(session_factory):
    """After the deadline timer fires the ticket is overdue, not without a deadline."""
    number = submit(session_factory)
    with session_factory.begin() as session:
        deadline = session.scalars(select(Ticket.due_at).where(Ticket.number == number)).one()
        instance_id = open_task(session, number).instance_id
    assert deadline is not None
    with session_factory.begin() as session:
        late = deadline + timedelta(days=1)
        assert commands.fire_timers(session, instance_id=instance_id, now=late).changed
    with session_factory() as session:
        ticket = session.scalars(select(Ticket).where(Ticket.number == number)).one()
        task = open_task(session, number)
        assert (ticket.status, ticket.escalation_level) == ("verification", 1)
        assert ticket.due_at == task.due_at == deadline
