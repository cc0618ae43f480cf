"""Need-information pause, after-photo, and the reporter's confirm / dispute / silence."""

from __future__ import annotations

from datetime import timedelta

from tests.workflows.driver import Ticket
from tests.workflows.driver import end_of
from tests.workflows.driver import wib

MONDAY = wib(2026, 11, 23)
RESOLUTION_TIMERS = {
    "resolution_reminder",
    "resolution_overdue",
    "supervisor_escalation",
    "overdue_reminders",
}
FIXED = {"decision": "resolve", "resolution": "Lubang ditambal", "after_photo": 7}


def handling(category: str = "jalan_rusak", infrastructure: bool = True) -> Ticket:
    ticket = Ticket.start(MONDAY, category=category, infrastructure=infrastructure)
    ticket.complete("verify", {"decision": "route"}, MONDAY)
    ticket.complete("acknowledge", {"decision": "accept", "complexity": "simple"}, MONDAY)
    return ticket


def asked() -> Ticket:
    ticket = handling()
    ticket.complete(
        "handle", {"decision": "need_info", "question": "Nomor rumah?"}, wib(2026, 11, 24)
    )
    return ticket


def test_needing_information_pauses_the_resolution_clock():
    ticket = asked()
    assert ticket.last[-3:] == ["handle_outcome", "resolution_clock_paused", "info_requested"]
    assert ticket.status == "waiting_info"
    assert ticket.ready == {}
    assert ticket.messages == {"reporter_reply"}
    # no handling timer runs while we wait; only the 10-working-day reply window
    assert ticket.timers == {"reply_overdue": end_of(2026, 12, 8)}
    assert ticket.fire(end_of(2026, 11, 30) + timedelta(hours=1)) == []  # old breach time
    assert ticket.escalation_level == 0
    info = next(p for p in ticket.passed if p.element_id == "info_requested")
    assert info.properties["notify"] == "reporter"


def test_the_reply_resumes_the_paused_clock_with_the_time_that_was_left():
    ticket = asked()  # 5 wd from Monday 23 Nov: due end of Mon 30 Nov; paused Tue 24 Nov
    assert ticket.data["resolution_left"] == {
        "resolution_due": 4.0,  # Wed, Thu, Fri, Mon
        "reminder_due": 1.5,  # noon of Thursday
        "supervisor_due": 6.0,
        "overdue_reminders": 5.0,
    }
    assert ticket.data["resolution_left_at"] == wib(2026, 11, 24).isoformat()
    replied = wib(2026, 12, 3, 14)  # Thursday
    passed = ticket.message("reporter_reply", {"text": "No. 12"}, replied)
    assert passed == [
        "await_reply",
        "resolution_clock_resumed",
        "carry_over_resolution_clock",
    ]
    assert ticket.data["reporter_reply"] == {"text": "No. 12"}
    assert ticket.status == "in_progress"
    assert ticket.ready == {"handle": "dpupr"}
    # 4 working days from Thursday (a fresh clock would give 5: Thu 10 Dec)
    assert ticket.timers == {
        "resolution_reminder": wib(2026, 12, 7, 12),
        "resolution_overdue": end_of(2026, 12, 9),
        "supervisor_escalation": end_of(2026, 12, 11),
        "overdue_reminders": end_of(2026, 12, 10),
    }
    assert ticket.due_at == end_of(2026, 12, 9)
    assert ticket.data["resolution_resumed_at"] == replied.isoformat()
    assert [(e[1], e[2]) for e in ticket.clock_events("resolution")] == [
        ("start", MONDAY),
        ("pause", wib(2026, 11, 24)),
        ("resume", replied),
    ]
    assert [e[1] for e in ticket.clock_events("reply")] == ["start"]
    # the clock runs on from there: the reminder, then the breach
    assert ticket.fire(wib(2026, 12, 7, 12, 1)) == ["resolution_reminder", "opd_reminded"]
    assert ticket.fire(end_of(2026, 12, 9) + timedelta(seconds=1)) == [
        "resolution_overdue",
        "escalated_to_head",
    ]
    assert ticket.escalation_level == 1


def test_pausing_twice_carries_the_remainder_over_both_pauses():
    ticket = asked()  # 4 wd left from Tue 24 Nov
    ticket.message("reporter_reply", {"text": "No. 12"}, wib(2026, 12, 3, 14))  # due Wed 9 Dec
    ticket.complete(
        "handle", {"decision": "need_info", "question": "RT berapa?"}, wib(2026, 12, 7, 10)
    )
    assert ticket.data["resolution_left"]["resolution_due"] == 2.0  # Tue 8, Wed 9
    ticket.message("reporter_reply", {"text": "RT 03"}, wib(2026, 12, 10, 9))
    assert ticket.timers["resolution_overdue"] == end_of(2026, 12, 14)  # Fri 11, Mon 14


def test_a_clock_that_was_overdue_when_it_paused_is_overdue_when_it_resumes():
    ticket = handling()  # due end of Mon 30 Nov, supervisor end of Wed 2 Dec
    ticket.fire(end_of(2026, 11, 30) + timedelta(seconds=1))
    assert (ticket.escalation_level, set(ticket.ready)) == (1, {"handle", "head_review"})
    ticket.complete(
        "handle", {"decision": "need_info", "question": "Nomor rumah?"}, wib(2026, 12, 1)
    )
    # the pause resets the level and closes the head's review with the handling
    assert (ticket.escalation_level, ticket.ready) == (0, {})
    assert ticket.data["resolution_left"]["resolution_due"] == -1.0  # a working day late
    assert ticket.data["resolution_left"]["supervisor_due"] == 1.0
    replied = wib(2026, 12, 3, 10)  # Thursday
    passed = ticket.message("reporter_reply", {"text": "No. 12"}, replied)
    # still a working day late (due end of Wednesday, already past): the breach and the
    # half-way reminder fire at once, so the ladder stands where it stood before the pause
    assert passed == [
        "await_reply",
        "resolution_clock_resumed",
        "carry_over_resolution_clock",
        "resolution_reminder",
        "resolution_overdue",
        "opd_reminded",
        "escalated_to_head",
    ]
    assert ticket.data["resolution_due"] == end_of(2026, 12, 2).isoformat()
    assert ticket.escalation_level == 1
    assert set(ticket.ready) == {"handle", "head_review"}
    # the grace had a working day left: the supervisor at the end of Friday
    assert ticket.timers["supervisor_escalation"] == end_of(2026, 12, 4)
    assert ticket.fire(end_of(2026, 12, 4)) == ["overdue_reminded"]  # daily from Thursday
    passed = ticket.fire(end_of(2026, 12, 4) + timedelta(seconds=1))
    assert "escalated_to_supervisor" in passed
    assert ticket.escalation_level == 2


def test_an_emergency_clock_resumes_in_clock_hours():
    ticket = Ticket.start(MONDAY)
    ticket.complete("verify", {"decision": "route"}, MONDAY)
    ticket.complete("acknowledge", {"decision": "accept", "complexity": "emergency"}, MONDAY)
    # due 6 hours after Monday 09:00; asked at 11:00 with 4 hours left
    ticket.complete(
        "handle", {"decision": "need_info", "question": "Pohon di mana?"}, wib(2026, 11, 23, 11)
    )
    assert ticket.data["resolution_left"]["resolution_due"] == 4.0
    replied = wib(2026, 11, 28, 20)  # Saturday evening: weekends count for emergencies
    ticket.message("reporter_reply", {"text": "depan SD 3"}, replied)
    assert ticket.timers["resolution_overdue"] == replied + timedelta(hours=4)
    assert ticket.timers["resolution_reminder"] == replied + timedelta(hours=1)
    assert ticket.timers["supervisor_escalation"] == replied + timedelta(hours=6)


def test_no_reply_in_ten_working_days_closes_the_ticket():
    ticket = asked()
    assert ticket.fire(end_of(2026, 12, 8)) == []
    assert ticket.fire(end_of(2026, 12, 8) + timedelta(seconds=1)) == [
        "reply_overdue",
        "closed_no_reply",
    ]
    assert (ticket.status, ticket.outcome, ticket.completed) == (
        "closed_no_reply",
        "closed_no_reply",
        True,
    )


def test_a_late_reply_is_not_accepted_after_closing():
    ticket = asked()
    ticket.fire(wib(2026, 12, 10))
    assert ticket.messages == set()


def test_an_infrastructure_ticket_cannot_be_resolved_without_an_after_photo():
    ticket = handling()
    passed = ticket.complete(
        "handle", {"decision": "resolve", "resolution": "Lubang ditambal"}, wib(2026, 11, 25)
    )
    assert passed[-1] == "photo_check"
    assert ticket.ready == {"add_after_photo": "dpupr"}
    assert ticket.status == "in_progress"
    ticket.complete("add_after_photo", {"after_photo": 7}, wib(2026, 11, 25, 15))
    assert ticket.status == "resolved"
    assert ticket.messages == {"reporter_confirms", "reporter_disputes"}


def test_the_resolution_clock_is_fulfilled_only_when_the_after_photo_exists():
    ticket = handling()  # 5 working days from Monday 23 Nov: due the end of Monday 30 Nov
    ticket.complete(
        "handle", {"decision": "resolve", "resolution": "Lubang ditambal"}, wib(2026, 11, 25)
    )
    assert ("resolution", "fulfil") not in [(c, e) for c, e, _ in ticket.clock_events()]
    # the after-photo task keeps the resolution deadline: no ticket sits there undated
    assert ticket.timers == {"after_photo_overdue": end_of(2026, 11, 30)}
    assert ticket.due_at == end_of(2026, 11, 30)
    ticket.complete("add_after_photo", {"after_photo": 7}, wib(2026, 11, 26))
    fulfilled = [at for c, e, at in ticket.clock_events("resolution") if e == "fulfil"]
    assert fulfilled == [wib(2026, 11, 26)]
    assert ticket.status == "resolved"


def test_an_after_photo_still_missing_at_the_resolution_deadline_escalates():
    ticket = handling()
    ticket.complete(
        "handle", {"decision": "resolve", "resolution": "Lubang ditambal"}, wib(2026, 11, 25)
    )
    passed = ticket.fire(end_of(2026, 11, 30) + timedelta(minutes=1))
    assert passed[:2] == ["after_photo_overdue", "after_photo_escalated"]
    assert ticket.escalation_level == 1
    assert ticket.ready == {"add_after_photo": "dpupr"}  # still to do, now late
    assert ("resolution", "breach") in [(c, e) for c, e, _ in ticket.clock_events()]


def test_an_infrastructure_ticket_with_its_photo_is_resolved_at_once():
    ticket = handling()
    ticket.complete("handle", FIXED, wib(2026, 11, 25))
    assert ticket.status == "resolved"
    assert ticket.ready == {}


def test_other_categories_resolve_without_a_photo():
    ticket = handling("adminduk", infrastructure=False)
    assert ticket.ready == {"handle": "disdukcapil"}
    ticket.complete(
        "handle", {"decision": "resolve", "resolution": "KTP sudah dicetak"}, wib(2026, 11, 25)
    )
    assert ticket.status == "resolved"
    assert ticket.outcome is None  # resolved, not yet closed


def test_the_reporter_confirms_the_fix():
    ticket = handling()
    ticket.complete("handle", FIXED, wib(2026, 11, 25))
    assert ticket.timers == {"confirmation_timeout": end_of(2026, 12, 9)}
    ticket.message("reporter_confirms", {"rating": 5}, wib(2026, 11, 26))
    assert (ticket.status, ticket.outcome, ticket.completed) == ("confirmed", "fixed", True)
    assert [e[1] for e in ticket.clock_events("confirmation")] == ["start", "fulfil"]


def test_silence_for_ten_working_days_closes_it_as_fixed():
    ticket = handling()
    ticket.complete("handle", FIXED, wib(2026, 11, 25))
    assert ticket.fire(end_of(2026, 12, 9) + timedelta(seconds=1)) == [
        "confirmation_timeout",
        "closed",
    ]
    assert (ticket.status, ticket.outcome, ticket.completed) == ("closed", "fixed", True)


def test_a_dispute_reopens_it_to_the_same_opd_which_takes_it_up_with_a_fresh_clock():
    ticket = handling()
    ticket.complete("handle", FIXED, wib(2026, 11, 25))
    disputed = wib(2026, 11, 30, 10)
    passed = ticket.message("reporter_disputes", {"reason": "masih berlubang"}, disputed)
    assert passed == ["reporter_disputed", "reopened"]
    assert ticket.data["dispute"] == {"reason": "masih berlubang"}
    # "Dibuka kembali" until the OPD takes it up (5 working days, like an acknowledgement)
    assert ticket.status == "reopened"
    assert ticket.ready == {"acknowledge_reopened": "dpupr"}
    assert ticket.timers == {"reopen_acknowledgement_overdue": end_of(2026, 12, 7)}
    assert ticket.due_at == end_of(2026, 12, 7)
    assert ticket.outcome is None
    reopened = next(p for p in ticket.passed if p.element_id == "reopened")
    assert reopened.properties["notify"] == "opd"
    taken_up = wib(2026, 12, 1, 8)
    ticket.complete("acknowledge_reopened", {"reopen_note": "tim turun besok"}, taken_up)
    assert ticket.status == "in_progress"
    assert ticket.ready == {"handle": "dpupr"}
    # a fresh clock of the same target from the day it was taken up (not the remainder:
    # the first clock was fulfilled at the resolution, not paused)
    assert ticket.timers["resolution_overdue"] == end_of(2026, 12, 8)
    assert ticket.data["after_photo"] is None  # a new photo is needed for the new fix
    assert [(e[1], e[2]) for e in ticket.clock_events("resolution")] == [
        ("start", MONDAY),
        ("fulfil", wib(2026, 11, 25)),
        ("start", taken_up),
    ]
    assert [e[1] for e in ticket.clock_events("acknowledgement")] == [
        "start",
        "fulfil",
        "start",
        "fulfil",
    ]
    ticket.complete("handle", {"decision": "resolve", "resolution": "Diaspal ulang"}, taken_up)
    assert ticket.ready == {"add_after_photo": "dpupr"}


def test_a_reopened_ticket_not_taken_up_in_five_working_days_escalates():
    ticket = handling()
    ticket.complete("handle", FIXED, wib(2026, 11, 25))
    ticket.message("reporter_disputes", {"reason": "masih berlubang"}, wib(2026, 11, 30, 10))
    assert ticket.fire(end_of(2026, 12, 7) + timedelta(seconds=1)) == [
        "reopen_acknowledgement_overdue",
        "reopen_acknowledgement_escalated",
    ]
    assert (ticket.escalation_level, ticket.status) == (1, "reopened")
    ticket.complete("acknowledge_reopened", {}, wib(2026, 12, 8))
    assert (ticket.escalation_level, ticket.status) == (0, "in_progress")


def test_open_reviews_close_when_the_opd_resolves():
    ticket = handling()
    ticket.fire(wib(2026, 12, 10))  # breach and supervisor
    assert set(ticket.ready) == {"handle", "head_review", "supervisor_review"}
    passed = ticket.complete("handle", FIXED, wib(2026, 12, 10))
    assert {"head_review_withdrawn", "supervisor_review_withdrawn"} <= set(passed)
    assert ticket.ready == {}  # nothing lingers while the reporter is asked to confirm
    assert ticket.escalation_level == 0
    assert ticket.status == "resolved"
    # a dispute reopens it without the old reviews coming back
    ticket.message("reporter_disputes", {"reason": "belum"}, wib(2026, 12, 11))
    assert ticket.ready == {"acknowledge_reopened": "dpupr"}


def test_a_review_done_before_the_resolution_is_not_withdrawn():
    ticket = handling()
    ticket.fire(end_of(2026, 11, 30) + timedelta(seconds=1))
    ticket.complete("head_review", {"review_note": "sudah ditegur"}, wib(2026, 12, 1))
    passed = ticket.complete("handle", FIXED, wib(2026, 12, 1, 15))
    assert "head_review_withdrawn" not in passed
    assert [p.element_id for p in ticket.passed].count("head_reviewed") == 1
    assert ticket.ready == {}


def test_escalation_tasks_are_closed_with_the_ticket():
    ticket = handling()
    ticket.fire(wib(2026, 12, 10))  # breach and supervisor
    assert set(ticket.ready) == {"handle", "head_review", "supervisor_review"}
    ticket.complete("handle", FIXED, wib(2026, 12, 10))
    ticket.message("reporter_confirms", {}, wib(2026, 12, 11))
    assert ticket.completed
    assert ticket.ready == {}
    assert ticket.timers == {}
