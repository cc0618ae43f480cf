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
FIXED = {"decision": "resolve", "resolution": "Lubang ditambal", "after_photo": "after.jpg"}


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


def test_the_reply_resumes_handling_with_a_fresh_clock():
    ticket = asked()
    replied = wib(2026, 12, 3, 14)  # Thursday
    passed = ticket.message("reporter_reply", {"text": "No. 12"}, replied)
    assert passed == [
        "await_reply",
        "resolution_clock_resumed",
        "resolution_clock_started",
    ]
    assert ticket.data["reporter_reply"] == {"text": "No. 12"}
    assert ticket.status == "in_progress"
    assert ticket.ready == {"handle": "dpupr"}
    assert set(ticket.timers) == RESOLUTION_TIMERS
    assert ticket.timers["resolution_overdue"] == end_of(2026, 12, 10)  # 5 wd from Thursday
    assert [(e[1], e[2]) for e in ticket.clock_events("resolution")] == [
        ("start", MONDAY),
        ("pause", wib(2026, 11, 24)),
        ("resume", replied),
        ("start", replied),
    ]
    assert [e[1] for e in ticket.clock_events("reply")] == ["start"]


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
    ticket.complete("add_after_photo", {"after_photo": "after.jpg"}, wib(2026, 11, 25, 15))
    assert ticket.status == "resolved"
    assert ticket.messages == {"reporter_confirms", "reporter_disputes"}


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


def test_a_dispute_reopens_it_to_the_same_opd_with_a_fresh_clock():
    ticket = handling()
    ticket.complete("handle", FIXED, wib(2026, 11, 25))
    disputed = wib(2026, 11, 30, 10)
    passed = ticket.message("reporter_disputes", {"reason": "masih berlubang"}, disputed)
    assert passed == ["reporter_disputed", "reopened", "resolution_clock_started"]
    assert ticket.data["dispute"] == {"reason": "masih berlubang"}
    assert ticket.ready == {"handle": "dpupr"}
    assert ticket.status == "in_progress"
    assert ticket.outcome is None
    assert ticket.timers["resolution_overdue"] == end_of(2026, 12, 7)
    assert ticket.data["after_photo"] is None  # a new photo is needed for the new fix
    ticket.complete("handle", {"decision": "resolve", "resolution": "Diaspal ulang"}, disputed)
    assert ticket.ready == {"add_after_photo": "dpupr"}


def test_escalation_tasks_are_closed_with_the_ticket():
    ticket = handling()
    ticket.fire(wib(2026, 12, 10))  # breach and supervisor
    assert set(ticket.ready) == {"handle", "head_review", "supervisor_review"}
    ticket.complete("handle", FIXED, wib(2026, 12, 10))
    ticket.message("reporter_confirms", {}, wib(2026, 12, 11))
    assert ticket.completed
    assert ticket.ready == {}
    assert ticket.timers == {}
