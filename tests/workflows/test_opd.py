"""The OPD: acknowledgement, resolution targets, the escalation ladder, follow-up, hand-back."""

from __future__ import annotations

from datetime import timedelta

import pytest

from engine import projection
from engine.runtime import Step
from tests.workflows.driver import Ticket
from tests.workflows.driver import bundle
from tests.workflows.driver import end_of
from tests.workflows.driver import form_errors
from tests.workflows.driver import wib

MONDAY = wib(2026, 11, 23)


def dispatched(category: str = "jalan_rusak", infrastructure: bool = True) -> Ticket:
    ticket = Ticket.start(MONDAY, category=category, infrastructure=infrastructure)
    ticket.complete("verify", {"decision": "route"}, MONDAY)
    return ticket


def handling(complexity: str = "simple", at=MONDAY) -> Ticket:
    ticket = dispatched()
    ticket.complete("acknowledge", {"decision": "accept", "complexity": complexity}, at)
    return ticket


RESOLUTION_TIMERS = {"resolution_reminder", "resolution_overdue", "supervisor_escalation"}


@pytest.mark.parametrize(
    ("complexity", "reminder", "breach", "supervisor", "daily"),
    [
        # 5 working days from Monday: half = 12:00 on the 3rd working day (Thursday)
        (
            "simple",
            wib(2026, 11, 26, 12),
            end_of(2026, 11, 30),
            end_of(2026, 12, 2),
            end_of(2026, 12, 1),
        ),
        # 14 working days: half = 7 -> Wed 2 Dec; breach Fri 11 Dec; +2 grace Tue 15 Dec
        (
            "medium",
            end_of(2026, 12, 2),
            end_of(2026, 12, 11),
            end_of(2026, 12, 15),
            end_of(2026, 12, 14),
        ),
        # 60 working days across Christmas and New Year (Fri 25 Dec, Fri 1 Jan, Tue 5 Jan)
        (
            "complex",
            end_of(2027, 1, 7),
            end_of(2027, 2, 18),
            end_of(2027, 2, 22),
            end_of(2027, 2, 19),
        ),
        # emergencies count clock hours: 6 hours, reminder at 3, supervisor 2 hours after breach
        (
            "emergency",
            MONDAY + timedelta(hours=3),
            MONDAY + timedelta(hours=6),
            MONDAY + timedelta(hours=8),
            MONDAY + timedelta(hours=30),
        ),
    ],
)
def test_the_resolution_target_depends_on_the_complexity_class(
    complexity, reminder, breach, supervisor, daily
):
    ticket = handling(complexity)
    assert ticket.ready == {"handle": "dpupr"}
    assert ticket.status == "in_progress"
    assert ticket.timers == {
        "resolution_reminder": reminder,
        "resolution_overdue": breach,
        "supervisor_escalation": supervisor,
        "overdue_reminders": daily,
    }
    assert ticket.due_at == breach
    assert ticket.data["resolution_due"] == breach.isoformat()


def test_acknowledging_needs_a_complexity_class():
    assert form_errors("acknowledge.schema.json", {"decision": "accept"})
    assert form_errors("acknowledge.schema.json", {"decision": "accept", "complexity": "huge"})
    assert not form_errors(
        "acknowledge.schema.json", {"decision": "accept", "complexity": "simple"}
    )


def test_an_overdue_acknowledgement_escalates_and_resets_when_acknowledged():
    ticket = dispatched()
    assert ticket.fire(end_of(2026, 11, 30) + timedelta(seconds=1)) == [
        "acknowledgement_overdue",
        "acknowledgement_escalated",
    ]
    assert ticket.escalation_level == 1
    assert ticket.ready == {"acknowledge": "dpupr"}
    ticket.complete("acknowledge", {"decision": "accept", "complexity": "simple"}, wib(2026, 12, 1))
    assert ticket.escalation_level == 0
    assert [e[1] for e in ticket.clock_events("acknowledgement")] == ["start", "breach", "fulfil"]
    # the resolution target counts from the acknowledgement
    assert ticket.timers["resolution_overdue"] == end_of(2026, 12, 8)


def test_the_full_escalation_ladder_fires_each_step_once():
    ticket = handling("simple")  # breach end of Mon 30 Nov
    assert ticket.fire(wib(2026, 11, 26, 11, 59)) == []
    # half the target: a reminder to the OPD, nothing else changes
    assert ticket.fire(wib(2026, 11, 26, 12, 1)) == ["resolution_reminder", "opd_reminded"]
    assert ticket.escalation_level == 0
    assert ticket.ready == {"handle": "dpupr"}
    assert "resolution_reminder" not in ticket.timers
    assert ticket.fire(wib(2026, 11, 27)) == []
    # breach: a task for the OPD head, level 1 (the supervisor's overdue list)
    breach = end_of(2026, 11, 30) + timedelta(seconds=1)
    assert ticket.fire(breach) == ["resolution_overdue", "escalated_to_head"]
    assert ticket.escalation_level == 1
    assert ticket.ready == {"handle": "dpupr", "head_review": "dpupr_head"}
    assert ticket.fire(breach + timedelta(minutes=5)) == []
    # daily reminders while overdue, from a day after the breach
    assert ticket.timers["overdue_reminders"] == end_of(2026, 12, 1)
    assert ticket.fire(end_of(2026, 12, 1) + timedelta(seconds=1)) == ["overdue_reminded"]
    assert ticket.timers["overdue_reminders"] == end_of(2026, 12, 2)
    assert ticket.escalation_level == 1
    # grace of 2 working days after the breach: the supervisor, level 2
    passed = ticket.fire(end_of(2026, 12, 2) + timedelta(seconds=1))
    assert sorted(passed) == sorted(
        ["supervisor_escalation", "escalated_to_supervisor", "overdue_reminded"]
    )
    assert ticket.escalation_level == 2
    assert ticket.ready == {
        "handle": "dpupr",
        "head_review": "dpupr_head",
        "supervisor_review": "supervisor",
    }
    assert ticket.timers == {"overdue_reminders": end_of(2026, 12, 3)}
    # a head review does not lower the level
    ticket.complete("head_review", {"review_note": "called the field team"}, wib(2026, 12, 3))
    assert ticket.escalation_level == 2
    assert ticket.fire(end_of(2026, 12, 3) + timedelta(seconds=1)) == ["overdue_reminded"]
    assert ticket.fire(end_of(2026, 12, 4) + timedelta(seconds=1)) == ["overdue_reminded"]
    # resolving stops the clock: level 0, no more reminders
    ticket.complete(
        "handle",
        {"decision": "resolve", "resolution": "Lubang ditambal", "after_photo": 7},
        wib(2026, 12, 7),
    )
    assert ticket.escalation_level == 0
    assert "overdue_reminders" not in ticket.timers
    assert ticket.fire(wib(2026, 12, 9)) == []
    assert [e[1] for e in ticket.clock_events("resolution")] == [
        "start",
        "half",
        "breach",
        "grace_exceeded",
        "fulfil",
    ]
    reminders = [p for p in ticket.passed if p.element_id == "overdue_reminded"]
    assert len(reminders) == 4


def test_a_sweep_that_was_down_for_days_fires_the_ladder_and_ends_at_the_highest_level():
    ticket = handling("simple")
    passed = ticket.fire(wib(2026, 12, 10))
    assert {"resolution_reminder", "resolution_overdue", "supervisor_escalation"} <= set(passed)
    assert ticket.escalation_level == 2
    assert set(ticket.ready) == {"handle", "head_review", "supervisor_review"}


def test_the_escalation_level_only_rises_until_a_clock_resets_it():
    """Whatever order one sweep runs the breach (1) and the supervisor (2) in, it ends at 2."""
    elements = {e.element_id: e for e in bundle().processes["complaint"].elements.values()}

    def step(element_id: str, delta: dict | None = None) -> Step:
        element = elements[element_id]
        return Step("guid", element_id, element.name, element.kind, element.properties, delta or {})

    def level_after(*steps: Step, current: int = 0) -> int | None:
        level = None
        for s in steps:
            level = projection.escalation_level_after(s, level, current)
        return level

    head, supervisor = step("escalated_to_head"), step("escalated_to_supervisor")
    assert level_after(head, supervisor) == 2
    assert level_after(supervisor, head) == 2
    # a later sweep firing only the breach branch again does not lower a ticket at level 2
    assert level_after(head, current=2) == 2
    assert level_after(step("overdue_reminded"), current=2) is None  # no change
    # a reset wins when it comes last, and a raise after a reset counts
    assert level_after(supervisor, step("resolution_clock_fulfilled")) == 0
    assert level_after(step("resolution_clock_paused"), head, current=2) == 1
    # a script raising the variable counts like the property
    assert level_after(step("overdue_reminded", {"escalation_level": 1}), current=2) == 2
    assert level_after(step("overdue_reminded", {"escalation_level": 3}), current=2) == 3


def test_the_grace_before_the_supervisor_is_a_process_variable():
    ticket = Ticket.start(MONDAY, escalation_grace_days=5)
    ticket.complete("verify", {"decision": "route"}, MONDAY)
    ticket.complete("acknowledge", {"decision": "accept", "complexity": "simple"}, MONDAY)
    assert ticket.timers["supervisor_escalation"] == end_of(2026, 12, 7)  # breach + 5 wd


def test_the_opd_hands_back_a_wrongly_routed_ticket_at_acknowledgement():
    ticket = dispatched()
    assert form_errors("acknowledge.schema.json", {"decision": "wrongly_routed"})
    passed = ticket.complete(
        "acknowledge",
        {"decision": "wrongly_routed", "handback_reason": "saluran milik BBWS"},
        wib(2026, 11, 24),
    )
    assert "handed_back" in passed
    assert ticket.ready == {"route_manually": "verifier"}
    assert ticket.status == "rerouting"
    ticket.complete("route_manually", {"decision": "dispatch", "opd": "dlh"}, wib(2026, 11, 24))
    assert ticket.ready == {"acknowledge": "dlh"}


def test_the_opd_hands_back_while_handling_and_the_escalation_resets():
    ticket = handling("simple")
    ticket.fire(end_of(2026, 11, 30) + timedelta(seconds=1))
    assert ticket.escalation_level == 1
    passed = ticket.complete(
        "handle",
        {"decision": "wrongly_routed", "handback_reason": "bukan jalan kota"},
        wib(2026, 12, 1),
    )
    assert passed == [
        "handle",
        "handling_ended",
        "handle_outcome",
        "head_review_withdrawn",
        "resolution_clock_stopped",
        "head_review_closed",
        "handed_back",
        "rerouting_clock_started",
    ]
    assert ticket.escalation_level == 0
    # the head's review of an OPD that no longer handles the ticket is closed with it
    assert ticket.ready == {"route_manually": "verifier"}
    assert RESOLUTION_TIMERS.isdisjoint(ticket.timers)


def test_waiting_for_follow_up_is_its_own_status_with_a_reason_and_its_own_deadline():
    ticket = handling("complex")
    assert form_errors("handle.schema.json", {"decision": "follow_up"})
    ticket.complete(
        "handle",
        {
            "decision": "follow_up",
            "follow_up_reason": "menunggu anggaran perubahan",
            "follow_up_days": 10,
        },
        wib(2026, 11, 24),
    )
    assert ticket.status == "waiting_follow_up"
    assert ticket.data["follow_up_reason"] == "menunggu anggaran perubahan"
    assert ticket.ready == {"follow_up": "dpupr"}
    assert ticket.timers == {"follow_up_overdue": end_of(2026, 12, 8)}
    assert ticket.due_at == end_of(2026, 12, 8)
    assert ticket.fire(end_of(2026, 12, 8) + timedelta(seconds=1)) == [
        "follow_up_overdue",
        "follow_up_escalated",
    ]
    assert ticket.escalation_level == 1
    resumed = wib(2026, 12, 9)
    ticket.complete("follow_up", {"follow_up_note": "anggaran turun"}, resumed)
    assert ticket.status == "in_progress"
    assert ticket.ready == {"handle": "dpupr"}
    assert ticket.escalation_level == 0  # the follow-up clock is over
    # the clock resumes: 60 working days from Monday 23 Nov were due Thu 18 Feb 2027; Tuesday
    # 24 Nov was used, 59 are left, counted from Wednesday 9 Dec (Mon 8 Mar 2027 is Nyepi)
    assert ticket.data["resolution_left"]["resolution_due"] == 59
    assert ticket.timers["resolution_overdue"] == end_of(2027, 3, 5)
    assert [(e[1], e[2]) for e in ticket.clock_events("resolution")] == [
        ("start", MONDAY),
        ("pause", wib(2026, 11, 24)),
        ("resume", resumed),
    ]


def test_the_handle_form_requires_what_each_decision_needs():
    assert form_errors("handle.schema.json", {"resolution": "done"})  # decision required
    assert form_errors("handle.schema.json", {"decision": "resolve"})
    assert form_errors("handle.schema.json", {"decision": "need_info"})
    assert form_errors("handle.schema.json", {"decision": "wrongly_routed"})
    assert not form_errors("handle.schema.json", {"decision": "need_info", "question": "Di mana?"})


def test_signals_nobody_catches_are_not_kept_in_the_stored_state():
    """handling_ended with no review open is thrown into the void; the state must not grow."""
    ticket = handling("simple")
    ticket.complete(
        "handle",
        {"decision": "wrongly_routed", "handback_reason": "bukan jalan kota"},
        wib(2026, 11, 24),
    )
    assert "handling_ended" in ticket.last
    assert ticket.instance.workflow.bpmn_events == []
