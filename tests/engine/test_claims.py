"""Claim, release and take over a task (engine.claims) on SQLite and PostgreSQL: who holds it,
one audit event per move on an intact chain, and the instance's version left alone."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from engine import audit
from engine import claims
from engine import commands
from engine.errors import Conflict
from engine.errors import Forbidden
from engine.errors import NotFound
from engine.identity import Actor
from engine.models import AuditEvent
from engine.models import HumanTask
from engine.models import ProcessInstance
from tests.conftest import NOW
from tests.factories import open_task
from tests.factories import submit

ANI = Actor("user:ani", "verifier", frozenset({"verifier"}))
BUDI = Actor("user:budi", "verifier", frozenset({"verifier"}))
DPUPR = Actor("user:dedi", "officer", frozenset({"dpupr"}))
LATER = NOW + timedelta(minutes=5)

CLAIM_ACTIONS = ("task_claimed", "task_taken_over", "task_released")


def verify_task(factory: sessionmaker[Session], number: str) -> tuple[int, int, int]:
    """The ticket's open task id, its instance's version and its audit sequence."""
    with factory() as session:
        task = open_task(session, number)
        instance = session.get(ProcessInstance, task.instance_id)
        assert instance is not None
        return task.id, instance.version, instance.audit_seq


def holder(factory: sessionmaker[Session], task_id: int) -> str | None:
    with factory() as session:
        task = session.get(HumanTask, task_id)
        assert task is not None
        return task.claimed_by


def claim_events(factory: sessionmaker[Session], number: str) -> list[tuple[str, str, str]]:
    """(actor, action, data) of the claim moves on the ticket's audit trail, in order."""
    with factory() as session:
        instance_id = open_task(session, number).instance_id
        return [
            (e.actor, e.action, e.data)
            for e in session.scalars(
                select(AuditEvent)
                .where(AuditEvent.instance_id == instance_id, AuditEvent.action.in_(CLAIM_ACTIONS))
                .order_by(AuditEvent.seq)
            )
        ]


def claim(factory: sessionmaker[Session], task_id: int, actor: Actor, **kw: bool) -> str | None:
    with factory.begin() as session:
        return claims.claim(session, task_id=task_id, actor=actor, now=LATER, **kw)


def release(factory: sessionmaker[Session], task_id: int, actor: Actor) -> None:
    with factory.begin() as session:
        claims.release(session, task_id=task_id, actor=actor, now=LATER)


def test_a_claim_names_the_holder_and_a_colleagues_claim_is_a_conflict(backend_factory):
    number = submit(backend_factory)
    task_id, _, _ = verify_task(backend_factory, number)
    assert claim(backend_factory, task_id, ANI) is None
    assert holder(backend_factory, task_id) == ANI.name
    with pytest.raises(Conflict):
        claim(backend_factory, task_id, BUDI)
    assert holder(backend_factory, task_id) == ANI.name
    with backend_factory() as session:
        task = session.get(HumanTask, task_id)
        assert task is not None
        assert task.claimed_at is not None


def test_claiming_ones_own_task_again_changes_nothing(backend_factory):
    number = submit(backend_factory)
    task_id, _, _ = verify_task(backend_factory, number)
    claim(backend_factory, task_id, ANI)
    _, _, seq = verify_task(backend_factory, number)
    assert claim(backend_factory, task_id, ANI) is None
    assert verify_task(backend_factory, number)[2] == seq
    assert len(claim_events(backend_factory, number)) == 1


def test_take_over_moves_the_claim_and_returns_the_previous_holder(backend_factory):
    number = submit(backend_factory)
    task_id, _, _ = verify_task(backend_factory, number)
    claim(backend_factory, task_id, ANI)
    assert claim(backend_factory, task_id, BUDI, take_over=True) == ANI.name
    assert holder(backend_factory, task_id) == BUDI.name


def test_take_over_of_a_free_task_is_a_plain_claim(backend_factory):
    number = submit(backend_factory)
    task_id, _, _ = verify_task(backend_factory, number)
    assert claim(backend_factory, task_id, BUDI, take_over=True) is None
    assert [a for _, a, _ in claim_events(backend_factory, number)] == ["task_claimed"]


def test_release_by_someone_who_does_not_hold_the_task_is_a_conflict(backend_factory):
    number = submit(backend_factory)
    task_id, _, _ = verify_task(backend_factory, number)
    with pytest.raises(Conflict):
        release(backend_factory, task_id, ANI)  # nobody holds it
    claim(backend_factory, task_id, ANI)
    with pytest.raises(Conflict):
        release(backend_factory, task_id, BUDI)
    assert holder(backend_factory, task_id) == ANI.name
    release(backend_factory, task_id, ANI)
    assert holder(backend_factory, task_id) is None
    with backend_factory() as session:
        task = session.get(HumanTask, task_id)
        assert task is not None
        assert task.claimed_at is None
    assert claim(backend_factory, task_id, BUDI) is None  # free for the group again


def test_another_groups_officer_may_neither_claim_nor_release(backend_factory):
    number = submit(backend_factory)
    task_id, _, _ = verify_task(backend_factory, number)
    with pytest.raises(Forbidden):
        claim(backend_factory, task_id, DPUPR)
    with pytest.raises(Forbidden):
        claim(backend_factory, task_id, DPUPR, take_over=True)
    claim(backend_factory, task_id, ANI)
    with pytest.raises(Forbidden):
        release(backend_factory, task_id, DPUPR)
    assert holder(backend_factory, task_id) == ANI.name


def test_a_missing_task_is_not_found_and_a_completed_one_is_a_conflict(backend_factory):
    number = submit(backend_factory)
    task_id, _, _ = verify_task(backend_factory, number)
    with pytest.raises(NotFound):
        claim(backend_factory, 999_999, ANI)
    with backend_factory.begin() as session:
        commands.complete_task(
            session, task_id=task_id, actor=ANI, data={"decision": "route"}, now=LATER
        )
    with pytest.raises(Conflict):
        claim(backend_factory, task_id, ANI)
    with pytest.raises(Conflict):
        release(backend_factory, task_id, ANI)


def test_each_move_adds_one_audit_event_and_the_chain_stays_intact(backend_factory):
    number = submit(backend_factory)
    task_id, _, seq = verify_task(backend_factory, number)
    claim(backend_factory, task_id, ANI)
    assert verify_task(backend_factory, number)[2] == seq + 1
    claim(backend_factory, task_id, BUDI, take_over=True)
    assert verify_task(backend_factory, number)[2] == seq + 2
    release(backend_factory, task_id, BUDI)
    assert verify_task(backend_factory, number)[2] == seq + 3
    events = claim_events(backend_factory, number)
    assert [(actor, action) for actor, action, _ in events] == [
        (ANI.name, "task_claimed"),
        (BUDI.name, "task_taken_over"),
        (BUDI.name, "task_released"),
    ]
    assert f'"from":"{ANI.name}"' in events[1][2]
    assert all(f'"task":{task_id}' in data for _, _, data in events)
    with backend_factory() as session:
        assert audit.verify(session) == []
        (head,) = session.scalars(select(ProcessInstance.audit_head)).all()
        last = session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc())).first()
        assert last is not None
        assert last.hash == head


def test_a_failed_move_writes_no_audit_event(backend_factory):
    number = submit(backend_factory)
    task_id, _, _ = verify_task(backend_factory, number)
    claim(backend_factory, task_id, ANI)
    _, _, seq = verify_task(backend_factory, number)
    for attempt in (
        lambda: claim(backend_factory, task_id, BUDI),
        lambda: release(backend_factory, task_id, BUDI),
        lambda: claim(backend_factory, task_id, DPUPR),
    ):
        with pytest.raises((Conflict, Forbidden)):
            attempt()
    assert verify_task(backend_factory, number)[2] == seq


def test_claims_leave_the_version_so_a_form_opened_before_them_still_completes(backend_factory):
    number = submit(backend_factory)
    task_id, version, _ = verify_task(backend_factory, number)
    claim(backend_factory, task_id, ANI)
    claim(backend_factory, task_id, BUDI, take_over=True)
    release(backend_factory, task_id, BUDI)
    claim(backend_factory, task_id, ANI)
    assert verify_task(backend_factory, number)[1] == version
    with backend_factory.begin() as session:
        result = commands.complete_task(
            session,
            task_id=task_id,
            actor=ANI,
            data={"decision": "route"},
            now=LATER,
            expected_version=version,
        )
        assert result.ticket.status == "dispatched"
    with backend_factory() as session:
        assert audit.verify(session) == []
        task = session.get(HumanTask, task_id)
        assert task is not None
        assert task.completed_by == ANI.name


def test_a_claim_does_not_lock_out_a_colleague_from_completing(backend_factory):
    number = submit(backend_factory)
    task_id, version, _ = verify_task(backend_factory, number)
    claim(backend_factory, task_id, ANI)
    with backend_factory.begin() as session:
        commands.complete_task(
            session,
            task_id=task_id,
            actor=BUDI,
            data={"decision": "route"},
            now=LATER,
            expected_version=version,
        )
    with backend_factory() as session:
        task = session.get(HumanTask, task_id)
        assert task is not None
        assert task.completed_by == BUDI.name
        assert audit.verify(session) == []


def test_a_claim_racing_a_completion_of_the_same_task_never_deadlocks(
    backend_url, backend_factory, monkeypatch
):
    number = submit(backend_factory)
    task_id, version, _ = verify_task(backend_factory, number)
    task_updated = threading.Event()
    real_note = audit.note

    def slow_note(*args, **kwargs):
        task_updated.set()
        time.sleep(1.5)  # the completion starts meanwhile
        return real_note(*args, **kwargs)

    monkeypatch.setattr(audit, "note", slow_note)
    outcomes: dict[str, BaseException | None] = {}

    def run(name, action):
        try:
            action()
            outcomes[name] = None
        except BaseException as exc:  # reported below
            outcomes[name] = exc

    def completion():
        with backend_factory.begin() as session:
            commands.complete_task(
                session,
                task_id=task_id,
                actor=BUDI,
                data={"decision": "route"},
                now=LATER,
                expected_version=version,
            )

    claiming = threading.Thread(
        target=run, args=("claim", lambda: claim(backend_factory, task_id, ANI))
    )
    claiming.start()
    assert task_updated.wait(10)
    completing = threading.Thread(target=run, args=("complete", completion))
    completing.start()
    claiming.join(30)
    completing.join(30)
    assert set(outcomes) == {"claim", "complete"}
    unexpected = {
        k: v for k, v in outcomes.items() if v is not None and not isinstance(v, Conflict)
    }
    assert unexpected == {}
    assert outcomes["complete"] is None  # a claim never stops a completion
    with backend_factory() as session:
        assert audit.verify(session) == []
