"""Moving running tickets to another version of the complaint process (engine.moves)."""

from __future__ import annotations

import json
from datetime import UTC
from datetime import datetime
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from engine import attachments
from engine import audit
from engine import clock
from engine import commands
from engine import definitions
from engine import moves
from engine.errors import InvalidInput
from engine.errors import NotFound
from engine.identity import Actor
from engine.models import AuditEvent
from engine.models import Definition
from engine.models import HumanTask
from engine.models import PendingTimer
from engine.models import ProcessInstance
from engine.models import Ticket
from engine.runtime import NotMovable
from tests.conftest import NOW
from tests.conftest import WORKFLOWS
from tests.factories import ROAD
from tests.factories import complete
from tests.factories import correlate
from tests.factories import fake_image
from tests.factories import submit

H = timedelta(hours=1)
STAFF = Actor("staff", "officer", frozenset({"verifier", "dpupr", "dlh", "supervisor"}))
GARBAGE = commands.TicketInput(
    kind="complaint", category="sampah", title="Sampah menumpuk", description="Sudah seminggu"
)
RESOLVE = {"decision": "resolve", "resolution": "Sudah diperbaiki"}
VERIFY_3 = "<bpmn:timeDuration>working_days(3)</bpmn:timeDuration>"
# Wednesday 25 November, end of the day in Jakarta: two working days from Monday 09:00.
TWO_WORKING_DAYS = datetime(2026, 11, 25, 16, 59, 59, tzinfo=UTC)
THREE_WORKING_DAYS = datetime(2026, 11, 26, 16, 59, 59, tzinfo=UTC)


def deploy_changed(factory: sessionmaker[Session], *edits: tuple[str, str]) -> int:
    """Deploy workflows/ with text edits to complaint.bpmn; return the new version."""
    files = definitions.read_files(WORKFLOWS)
    text = files["complaint.bpmn"]
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new)
    files["complaint.bpmn"] = text
    with factory.begin() as session:
        result = definitions.deploy(session, files, actor="test", now=NOW + H)
    assert result.created
    return result.versions["complaint"]


# (a) only the verification timer changes: 3 -> 2 working days (the first timeDuration).
def verification_in_two_days(factory: sessionmaker[Session]) -> int:
    files = definitions.read_files(WORKFLOWS)
    text = files["complaint.bpmn"]
    head, _, tail = text.partition(VERIFY_3)
    assert 'id="verification_overdue_timer"' in head[-200:]
    files["complaint.bpmn"] = head + VERIFY_3.replace("3", "2") + tail
    with factory.begin() as session:
        return definitions.deploy(session, files, actor="test", now=NOW + H).versions["complaint"]


# (b) the after-photo task is renamed (a new id: for a running ticket, another element).
RENAME_AFTER_PHOTO = [
    ('="add_after_photo"', '="upload_after_photo"'),
    (">add_after_photo<", ">upload_after_photo<"),
]


def after_upload(factory: sessionmaker[Session], number: str) -> int:
    with factory.begin() as session:
        ticket_id = session.scalars(select(Ticket.id).where(Ticket.number == number)).one()
        rows = attachments.add(
            session,
            ticket_id=ticket_id,
            purpose="after",
            uploader="staff",
            images=[fake_image(ticket_id)],
            now=NOW + 4 * H,
            linked=False,
        )
        return rows[0].id


def open_tasks(factory: sessionmaker[Session], number: str) -> list[HumanTask]:
    with factory() as session:
        return list(
            session.scalars(
                select(HumanTask)
                .join(Ticket, Ticket.id == HumanTask.ticket_id)
                .where(Ticket.number == number, HumanTask.completed_at.is_(None))
            )
        )


def ticket(factory: sessionmaker[Session], number: str) -> Ticket:
    with factory() as session:
        return session.scalars(select(Ticket).where(Ticket.number == number)).one()


def version_of(factory: sessionmaker[Session], number: str) -> int:
    with factory() as session:
        return session.scalars(
            select(Definition.version)
            .join(ProcessInstance, ProcessInstance.definition_id == Definition.id)
            .join(Ticket, Ticket.id == ProcessInstance.ticket_id)
            .where(Ticket.number == number)
        ).one()


def timers(factory: sessionmaker[Session], number: str) -> dict[str, datetime]:
    with factory() as session:
        rows = session.execute(
            select(PendingTimer.element_id, PendingTimer.due_at)
            .join(ProcessInstance, ProcessInstance.id == PendingTimer.instance_id)
            .join(Ticket, Ticket.id == ProcessInstance.ticket_id)
            .where(Ticket.number == number)
        ).all()
    return {element: aware(due) for element, due in rows}


def aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def migrated_events(factory: sessionmaker[Session], number: str) -> list[dict[str, object]]:
    with factory() as session:
        rows = session.scalars(
            select(AuditEvent.data)
            .join(ProcessInstance, ProcessInstance.id == AuditEvent.instance_id)
            .join(Ticket, Ticket.id == ProcessInstance.ticket_id)
            .where(Ticket.number == number, AuditEvent.action == moves.ACTION)
            .order_by(AuditEvent.seq)
        ).all()
    return [json.loads(r) for r in rows]


def city(factory: sessionmaker[Session]) -> dict[str, str]:
    """Tickets waiting at each kind of place in the lifecycle, and one closed."""
    t = {"verify": submit(factory)}
    t["acknowledge"] = submit(factory)
    complete(factory, STAFF, t["acknowledge"], {"decision": "route"}, now=NOW + H)
    t["handle"] = submit(factory)
    complete(factory, STAFF, t["handle"], {"decision": "route"}, now=NOW + H)
    complete(
        factory, STAFF, t["handle"], {"decision": "accept", "complexity": "simple"}, now=NOW + 2 * H
    )
    t["after_photo"] = submit(factory)
    complete(factory, STAFF, t["after_photo"], {"decision": "route"}, now=NOW + H)
    complete(
        factory,
        STAFF,
        t["after_photo"],
        {"decision": "accept", "complexity": "simple"},
        now=NOW + 2 * H,
    )
    complete(factory, STAFF, t["after_photo"], RESOLVE, now=NOW + 3 * H)
    t["confirmation"] = submit(factory, GARBAGE)
    complete(factory, STAFF, t["confirmation"], {"decision": "route"}, now=NOW + H)
    complete(
        factory,
        STAFF,
        t["confirmation"],
        {"decision": "accept", "complexity": "simple"},
        now=NOW + 2 * H,
    )
    complete(factory, STAFF, t["confirmation"], RESOLVE, now=NOW + 3 * H)
    closed = submit(factory)
    complete(factory, STAFF, closed, {"decision": "reject", "reason": "spam"}, now=NOW + H)
    return t


WAITING = {
    "verify": ("verify", "verification_overdue"),
    "acknowledge": ("acknowledge", "acknowledgement_overdue"),
    "handle": (
        "handle",
        "resolution_reminder",
        "resolution_overdue",
        "supervisor_escalation",
        "overdue_reminders",
    ),
    "after_photo": ("add_after_photo", "after_photo_overdue"),
    "confirmation": ("await_confirmation", "reporter_disputed", "confirmation_timeout"),
}


def finish(factory: sessionmaker[Session], number: str, *, now: datetime) -> None:
    """Drive a ticket to its end the ordinary way: route, accept, resolve, photo, confirm."""
    data = {
        "verify": {"decision": "route"},
        "acknowledge": {"decision": "accept", "complexity": "simple"},
        "handle": RESOLVE,
    }
    for step in range(8):
        if ticket(factory, number).closed_at is not None:
            return
        tasks = open_tasks(factory, number)
        at = now + step * H
        if not tasks:
            correlate(factory, number, "reporter_confirms", now=at)
            continue
        (task,) = tasks
        if task.element_id.endswith("after_photo"):
            form = {"after_photo": after_upload(factory, number)}
        else:
            form = data[task.element_id]
        complete(factory, STAFF, number, form, now=at)
    raise AssertionError(f"{number} did not close")


# -- (a) a timer changed ----------------------------------------------------------------------


def test_a_dry_run_lists_each_waiting_ticket_as_movable_with_what_waits(backend_factory):
    t = city(backend_factory)
    to = verification_in_two_days(backend_factory)
    with backend_factory() as session:
        run = moves.dry_run(session, key="complaint", to_version=to)
    by_number = {c.ticket_number: c for c in run.tickets}
    assert run.total == len(t) == len(by_number)  # the closed ticket is not listed
    for place, number in t.items():
        check = by_number[number]
        assert check.movable, (place, check.reason)
        assert check.waiting == WAITING[place]
        assert check.from_version == 1
    verify = by_number[t["verify"]]
    assert [(f.code, f.element_id) for f in verify.notable] == [
        ("timer_recomputed", "verification_overdue")
    ]
    assert "working_days(3) becomes working_days(2)" in verify.reason
    assert by_number[t["handle"]].reason == ""  # its timers all carry over


def test_a_dry_run_writes_nothing(backend_factory):
    t = city(backend_factory)
    to = verification_in_two_days(backend_factory)
    with backend_factory() as session:
        moves.dry_run(session, key="complaint", to_version=to)
    assert {version_of(backend_factory, n) for n in t.values()} == {1}
    assert migrated_events(backend_factory, t["verify"]) == []


def test_applying_moves_every_ticket_recomputes_the_changed_timer_and_carries_the_others(
    backend_factory,
):
    t = city(backend_factory)
    before = {n: timers(backend_factory, n) for n in t.values()}
    tasks_before = {n: [x.id for x in open_tasks(backend_factory, n)] for n in t.values()}
    assert before[t["verify"]]["verification_overdue"] == THREE_WORKING_DAYS
    to = verification_in_two_days(backend_factory)

    outcomes = moves.apply(
        backend_factory, key="complaint", to_version=to, actor="designer", now=NOW + 5 * H, batch=2
    )

    assert sorted(o.ticket_number for o in outcomes) == sorted(t.values())
    assert {o.result for o in outcomes} == {moves.MOVED}
    for place, number in t.items():
        assert version_of(backend_factory, number) == to
        # the same tasks stay open (inbox rows and links keep working)
        assert [x.id for x in open_tasks(backend_factory, number)] == tasks_before[number]
        after = timers(backend_factory, number)
        if place == "verify":
            assert after == {"verification_overdue": TWO_WORKING_DAYS}
        else:
            assert after == before[number], place
    (task,) = open_tasks(backend_factory, t["verify"])
    assert aware(task.due_at) == TWO_WORKING_DAYS
    assert aware(ticket(backend_factory, t["verify"]).due_at) == TWO_WORKING_DAYS
    for number in t.values():
        (event,) = migrated_events(backend_factory, number)
        assert (event["from"], event["to"]) == (1, to)
    (event,) = migrated_events(backend_factory, t["verify"])
    assert event["timers"] == {
        "verification_overdue": {
            "before": THREE_WORKING_DAYS.isoformat(),
            "after": TWO_WORKING_DAYS.isoformat(),
        }
    }
    assert event["changes"][0]["code"] == "timer_recomputed"
    with backend_factory() as session:
        assert audit.verify(session) == []


def test_moved_tickets_run_to_their_end_on_the_new_version(backend_factory):
    t = city(backend_factory)
    to = verification_in_two_days(backend_factory)
    moves.apply(backend_factory, key="complaint", to_version=to, actor="d", now=NOW + 5 * H)
    for number in t.values():
        finish(backend_factory, number, now=NOW + 6 * H)
        assert version_of(backend_factory, number) == to
        assert ticket(backend_factory, number).status in {"confirmed", "closed"}
    with backend_factory() as session:
        assert audit.verify(session) == []


def test_the_recomputed_timer_fires_at_its_new_time(backend_factory):
    number = submit(backend_factory)
    to = verification_in_two_days(backend_factory)
    moves.apply(backend_factory, key="complaint", to_version=to, actor="d", now=NOW + H)
    with backend_factory.begin() as session:
        instance_id = session.scalars(
            select(ProcessInstance.id)
            .join(Ticket, Ticket.id == ProcessInstance.ticket_id)
            .where(Ticket.number == number)
        ).one()
        fired = commands.fire_timers(
            session, instance_id=instance_id, now=TWO_WORKING_DAYS + timedelta(seconds=2)
        )
    assert fired.changed
    assert ticket(backend_factory, number).breached


def test_migrating_back_restores_the_old_timer_from_when_the_ticket_entered(backend_factory):
    t = city(backend_factory)
    before = {n: timers(backend_factory, n) for n in t.values()}
    to = verification_in_two_days(backend_factory)
    moves.apply(backend_factory, key="complaint", to_version=to, actor="d", now=NOW + 5 * H)

    back = moves.apply(
        backend_factory, key="complaint", to_version=1, from_version=to, actor="d", now=NOW + 6 * H
    )

    assert {o.result for o in back} == {moves.MOVED}
    for number in t.values():
        assert version_of(backend_factory, number) == 1
        assert timers(backend_factory, number) == before[number]
        assert [(e["from"], e["to"]) for e in migrated_events(backend_factory, number)] == [
            (1, to),
            (to, 1),
        ]
    finish(backend_factory, t["verify"], now=NOW + 7 * H)
    with backend_factory() as session:
        assert audit.verify(session) == []


def test_a_ticket_changed_since_the_dry_run_is_a_conflict_and_the_others_move(backend_factory):
    first, second = submit(backend_factory), submit(backend_factory)
    to = verification_in_two_days(backend_factory)
    with backend_factory() as session:
        run = moves.dry_run(session, key="complaint", to_version=to)
    seen = {c.instance_id: c.instance_version for c in run.tickets}
    complete(backend_factory, STAFF, first, {"decision": "route"}, now=NOW + 2 * H)  # a command

    outcomes = moves.apply(
        backend_factory, key="complaint", to_version=to, actor="d", now=NOW + 3 * H, expected=seen
    )

    by_number = {o.ticket_number: o for o in outcomes}
    assert by_number[first].result == moves.CONFLICT
    assert "changed since the dry run" in by_number[first].reason
    assert by_number[second].result == moves.MOVED
    assert version_of(backend_factory, first) == 1
    assert version_of(backend_factory, second) == to
    assert migrated_events(backend_factory, first) == []


# -- (b) a waiting task renamed, a lane changed ----------------------------------------------


def test_tickets_at_or_past_a_renamed_task_are_not_movable_and_say_why(backend_factory):
    t = city(backend_factory)
    to = deploy_changed(backend_factory, *RENAME_AFTER_PHOTO)
    with backend_factory() as session:
        run = moves.dry_run(session, key="complaint", to_version=to)
    by_number = {c.ticket_number: c for c in run.tickets}
    at_photo = by_number[t["after_photo"]]
    assert not at_photo.movable
    assert ("missing", "add_after_photo") in [(p.code, p.element_id) for p in at_photo.problems]
    assert at_photo.reason == "waits at 'add_after_photo', which the target version does not have"
    passed = by_number[t["confirmation"]]  # resolved with no photo needed: never passed it
    assert passed.movable
    for place in ("verify", "acknowledge", "handle"):
        assert by_number[t[place]].movable, place


def test_applying_leaves_unmovable_tickets_untouched_and_moves_the_rest(backend_factory):
    t = city(backend_factory)
    to = deploy_changed(backend_factory, *RENAME_AFTER_PHOTO)

    outcomes = {
        o.ticket_number: o
        for o in moves.apply(
            backend_factory, key="complaint", to_version=to, actor="d", now=NOW + 5 * H
        )
    }

    assert outcomes[t["after_photo"]].result == moves.NOT_MOVABLE
    assert version_of(backend_factory, t["after_photo"]) == 1
    assert migrated_events(backend_factory, t["after_photo"]) == []
    # the ticket at handle moved; resolving it now reaches the renamed task of the new version
    assert outcomes[t["handle"]].result == moves.MOVED
    complete(backend_factory, STAFF, t["handle"], RESOLVE, now=NOW + 6 * H)
    assert [x.element_id for x in open_tasks(backend_factory, t["handle"])] == [
        "upload_after_photo"
    ]
    finish(backend_factory, t["handle"], now=NOW + 7 * H)
    finish(backend_factory, t["after_photo"], now=NOW + 7 * H)  # on its own version
    with backend_factory() as session:
        assert audit.verify(session) == []


def test_a_ticket_that_passed_a_removed_task_is_not_movable(backend_factory):
    number = submit(backend_factory)
    complete(backend_factory, STAFF, number, {"decision": "route"}, now=NOW + H)
    accept = {"decision": "accept", "complexity": "simple"}
    complete(backend_factory, STAFF, number, accept, now=NOW + 2 * H)
    complete(backend_factory, STAFF, number, RESOLVE, now=NOW + 3 * H)
    photo = {"after_photo": after_upload(backend_factory, number)}
    complete(backend_factory, STAFF, number, photo, now=NOW + 5 * H)
    to = deploy_changed(backend_factory, *RENAME_AFTER_PHOTO)
    with backend_factory() as session:
        (check,) = moves.dry_run(session, key="complaint", to_version=to).tickets
    assert check.waiting[0] == "await_confirmation"
    assert [(p.code, p.element_id) for p in check.problems] == [
        ("passed_missing", "add_after_photo")
    ]


def test_a_task_in_another_lane_is_not_movable(backend_factory):
    at_verify = submit(backend_factory)
    to = deploy_changed(backend_factory, ('name="verifier"', 'name="supervisor"'))
    with backend_factory() as session:
        (check,) = moves.dry_run(session, key="complaint", to_version=to).tickets
    assert [(p.code, p.element_id, p.before, p.after) for p in check.problems] == [
        ("lane_changed", "verify", "verifier", "supervisor")
    ]
    assert check.ticket_number == at_verify


def test_a_timer_turned_into_a_message_is_not_movable(backend_factory):
    submit(backend_factory)
    to = deploy_changed(
        backend_factory,
        (
            '<bpmn:timerEventDefinition id="verification_overdue_timer">\n'
            f"        {VERIFY_3}\n"
            "      </bpmn:timerEventDefinition>",
            '<bpmn:messageEventDefinition id="verification_overdue_message" '
            'messageRef="message_reporter_reply" />',
        ),
    )
    with backend_factory() as session:
        (check,) = moves.dry_run(session, key="complaint", to_version=to).tickets
    assert [(p.code, p.element_id, p.before, p.after) for p in check.problems] == [
        ("event_changed", "verification_overdue", "duration timer", "message")
    ]


def test_a_new_boundary_event_on_the_waiting_task_is_not_movable(backend_factory):
    submit(backend_factory)
    to = deploy_changed(
        backend_factory,
        ('attachedToRef="route_manually"', 'attachedToRef="verify"'),
    )
    with backend_factory() as session:
        (check,) = moves.dry_run(session, key="complaint", to_version=to).tickets
    assert ("boundary_added", "rerouting_overdue", "verify") in [
        (p.code, p.element_id, p.before) for p in check.problems
    ]


# -- bad input ---------------------------------------------------------------------------------


def test_an_unknown_version_or_the_same_version_is_refused(backend_factory):
    with backend_factory() as session:
        with pytest.raises(NotFound):
            moves.dry_run(session, key="complaint", to_version=9)
        with pytest.raises(NotFound):
            moves.dry_run(session, key="nope", to_version=1)
        with pytest.raises(InvalidInput):
            moves.dry_run(session, key="complaint", to_version=1, from_version=1)
    with pytest.raises(InvalidInput):
        moves.apply(backend_factory, key="complaint", to_version=1, actor="d", now=NOW, batch=0)


def test_versions_count_the_running_tickets_on_each(backend_factory):
    submit(backend_factory)
    submit(backend_factory, ROAD)
    to = verification_in_two_days(backend_factory)
    with backend_factory() as session:
        assert moves.versions(session, "complaint") == [(1, 2), (to, 0)]


def test_a_renamed_title_reaches_the_open_task_of_a_moved_ticket(backend_factory):
    number = submit(backend_factory)
    (task,) = open_tasks(backend_factory, number)
    assert task.title == "Verify complaint"
    to = deploy_changed(backend_factory, ('name="Verify complaint"', 'name="Check the complaint"'))
    (outcome,) = moves.apply(
        backend_factory, key="complaint", to_version=to, actor="d", now=NOW + H
    )
    assert ("title_changed", "verify", "Check the complaint") in [
        (f.code, f.element_id, f.after) for f in outcome.findings
    ]
    (moved,) = open_tasks(backend_factory, number)
    assert (moved.id, moved.title) == (task.id, "Check the complaint")


# -- subprocesses (the runtime alone, no database) ----------------------------------------------

SUBPROCESS = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d"
    targetNamespace="t">
  <bpmn:process id="p" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:subProcess id="sub"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:startEvent id="sub_start"><bpmn:outgoing>s1</bpmn:outgoing></bpmn:startEvent>
      <bpmn:userTask id="inner" name="Inner">
        <bpmn:incoming>s1</bpmn:incoming><bpmn:outgoing>s2</bpmn:outgoing>
      </bpmn:userTask>
      <bpmn:boundaryEvent id="inner_due" cancelActivity="false" attachedToRef="inner">
        <bpmn:timerEventDefinition id="inner_due_timer">
          <bpmn:timeDuration>"PT1H"</bpmn:timeDuration>
        </bpmn:timerEventDefinition>
      </bpmn:boundaryEvent>
      <bpmn:endEvent id="sub_end"><bpmn:incoming>s2</bpmn:incoming></bpmn:endEvent>
      <bpmn:sequenceFlow id="s1" sourceRef="sub_start" targetRef="inner"/>
      <bpmn:sequenceFlow id="s2" sourceRef="inner" targetRef="sub_end"/>
    </bpmn:subProcess>
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="sub"/>
    <bpmn:sequenceFlow id="f2" sourceRef="sub" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>"""


def test_a_task_inside_a_subprocess_moves_with_its_timer_recomputed_from_its_entry():
    runtime = definitions.get_runtime()
    source = runtime.compile_bundle({"p.bpmn": SUBPROCESS})["p"]
    target = runtime.compile_bundle({"p.bpmn": SUBPROCESS.replace('"PT1H"', '"PT2H"')})["p"]
    with clock.frozen_at(NOW):
        state = runtime.dump(runtime.start(source, {}))
    check = runtime.check_move(source, target, state)
    assert check.waiting == ("sub", "inner", "inner_due")
    assert [f.code for f in check.changes] == ["timer_recomputed"]
    with clock.frozen_at(NOW + 3 * H):
        moved, _ = runtime.move(source, target, state)
        assert [t.due_at for t in moved.waiting_timers()] == [NOW + 2 * H]
        (task,) = moved.ready_tasks()
        moved.complete_task(task.guid, {})
    assert moved.completed


def test_a_task_inside_a_subprocess_that_the_target_renames_is_not_movable():
    runtime = definitions.get_runtime()
    source = runtime.compile_bundle({"p.bpmn": SUBPROCESS})["p"]
    renamed = SUBPROCESS.replace('"inner"', '"inner_task"')
    target = runtime.compile_bundle({"p.bpmn": renamed})["p"]
    with clock.frozen_at(NOW):
        state = runtime.dump(runtime.start(source, {}))
    check = runtime.check_move(source, target, state)
    assert [(p.code, p.element_id) for p in check.problems] == [("missing", "inner")]
    with pytest.raises(NotMovable):
        runtime.move(source, target, state)
