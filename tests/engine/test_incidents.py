"""Incidents of the timer sweep reach the verifier desk; resolving one releases the timers.

On SQLite and on PostgreSQL (when LAKSA_TEST_POSTGRES_URL is set).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from engine import audit
from engine import queries
from engine import timers
from engine.errors import Conflict
from engine.errors import Forbidden
from engine.errors import NotFound
from engine.identity import Actor
from engine.incidents import resolve_incident
from engine.models import AuditEvent
from engine.models import Incident
from engine.models import PendingTimer
from engine.models import ProcessInstance
from engine.models import Ticket
from tests.engine.test_timers import LATER
from tests.engine.test_timers import fired_events
from tests.engine.test_timers import submit_many

VERIFIER = Actor(name="user:verifikator", role="verifier", groups=frozenset({"verifier"}))
ADMIN = Actor(name="user:admin", role="admin")
OFFICER = Actor(name="user:petugas_dpupr", role="officer", groups=frozenset({"dpupr"}))


def break_one(factory: sessionmaker[Session]) -> tuple[int, bytes]:
    """Corrupt the first instance's state; return its id and the good state."""
    with factory.begin() as session:
        instance = session.scalars(select(ProcessInstance).order_by(ProcessInstance.id)).first()
        assert instance is not None
        good = instance.state
        session.execute(
            update(ProcessInstance)
            .where(ProcessInstance.id == instance.id)
            .values(state=b"not a workflow")
        )
        return instance.id, good


def open_incidents(factory: sessionmaker[Session]) -> list[queries.IncidentView]:
    with factory() as session:
        return queries.incidents(session)


def test_a_failed_sweep_reaches_the_desk_and_resolving_it_fires_the_timer_next_sweep(
    backend_factory,
):
    submit_many(backend_factory, 3)
    broken, good = break_one(backend_factory)
    first = timers.run_due(backend_factory, now=LATER)
    assert (first.fired, first.failed) == (2, 1)
    retry = timers.run_due(backend_factory, now=LATER + timers.LEASE)  # after the backoff
    assert retry.failed == 1

    with backend_factory() as session:
        number = session.scalar(
            select(Ticket.number)
            .join(ProcessInstance, ProcessInstance.ticket_id == Ticket.id)
            .where(ProcessInstance.id == broken)
        )
        seq_before = session.get(ProcessInstance, broken).audit_seq
    listed = open_incidents(backend_factory)
    assert [(i.ticket, i.kind) for i in listed] == [(number, "timer_failed")] * 2
    assert listed[0].message
    assert listed[0].at == LATER
    assert (listed[0].resolved_at, listed[0].resolved_by) == (None, None)

    # the desk repairs the ticket (here: puts its state back) and resolves the incident
    with backend_factory.begin() as session:
        session.execute(
            update(ProcessInstance).where(ProcessInstance.id == broken).values(state=good)
        )
    resolved_at = LATER + timedelta(minutes=7)
    with backend_factory.begin() as session:
        result = resolve_incident(
            session, incident_id=listed[0].id, actor=VERIFIER, now=resolved_at, note="restored"
        )
    assert (result.ticket, result.resolved_by, result.resolved_at) == (
        number,
        "user:verifikator",
        resolved_at,
    )
    assert result.also_resolved == [listed[1].id]  # the retry's repeat of the same failure
    assert result.released_timers == 1
    assert open_incidents(backend_factory) == []
    with backend_factory() as session:
        incident = session.get(Incident, listed[0].id)
        assert (incident.resolved_at, incident.resolved_by) == (resolved_at, "user:verifikator")
        timer = session.scalars(
            select(PendingTimer).where(PendingTimer.instance_id == broken)
        ).one()
        assert (timer.claimed_by, timer.claimed_until, timer.attempts) == (None, None, 0)
        event = session.scalars(
            select(AuditEvent).where(
                AuditEvent.instance_id == broken, AuditEvent.seq == seq_before + 1
            )
        ).one()
        assert (event.actor, event.action) == ("user:verifikator", "incident_resolved")
        assert '"note":"restored"' in event.data
        assert audit.verify(session) == []

    # released: the very next sweep fires it, without waiting out the backoff
    after = timers.run_due(backend_factory, now=resolved_at)
    assert (after.fired, after.failed) == (1, 0)
    assert sorted(fired_events(backend_factory)).count(broken) == 1


def test_resolving_is_for_the_desk_once(backend_factory):
    submit_many(backend_factory, 1)
    break_one(backend_factory)
    timers.run_due(backend_factory, now=LATER)
    (incident,) = open_incidents(backend_factory)
    with backend_factory.begin() as session, pytest.raises(Forbidden):
        resolve_incident(session, incident_id=incident.id, actor=OFFICER, now=LATER)
    with backend_factory.begin() as session, pytest.raises(NotFound):
        resolve_incident(session, incident_id=incident.id + 100, actor=VERIFIER, now=LATER)
    with backend_factory.begin() as session:
        resolve_incident(session, incident_id=incident.id, actor=ADMIN, now=LATER)
    with backend_factory.begin() as session, pytest.raises(Conflict, match="user:admin"):
        resolve_incident(session, incident_id=incident.id, actor=VERIFIER, now=LATER)
    with backend_factory() as session:
        assert audit.verify(session) == []
        actions = session.scalars(
            select(AuditEvent.action).where(AuditEvent.action == "incident_resolved")
        ).all()
        assert actions == ["incident_resolved"]


def test_an_incident_without_an_instance_resolves_without_an_audit_entry(backend_factory):
    with backend_factory.begin() as session:
        session.add(Incident(instance_id=None, at=LATER, kind="other", message="boom"))
    (incident,) = open_incidents(backend_factory)
    assert incident.ticket is None
    with backend_factory.begin() as session:
        result = resolve_incident(session, incident_id=incident.id, actor=VERIFIER, now=LATER)
    assert (result.ticket, result.released_timers, result.also_resolved) == (None, 0, [])
    with backend_factory() as session:
        assert session.scalar(select(func.count()).select_from(AuditEvent)) == 0
        assert [i.resolved_by for i in queries.incidents(session, include_resolved=True)] == [
            "user:verifikator"
        ]
