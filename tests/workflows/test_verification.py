"""Received -> verification (3 working days) -> archive, forward, duplicate or dispatch."""

from __future__ import annotations

from datetime import date
from datetime import timedelta

import pytest

from engine import calendar
from tests.workflows.driver import CALENDAR
from tests.workflows.driver import Ticket
from tests.workflows.driver import end_of
from tests.workflows.driver import form_errors
from tests.workflows.driver import wib

MONDAY = wib(2026, 11, 23)  # Monday 09:00 in Jakarta, no holiday that week


def test_a_new_ticket_waits_at_the_verifier_desk_for_three_working_days():
    ticket = Ticket.start(MONDAY)
    assert ticket.ready == {"verify": "verifier"}
    assert ticket.status == "verification"
    assert ticket.timers == {"verification_overdue": end_of(2026, 11, 26)}  # end of Thursday
    assert ticket.due_at == end_of(2026, 11, 26)
    assert ticket.clock_events() == [("verification", "start", MONDAY)]
    assert ticket.escalation_level == 0


@pytest.mark.parametrize(
    ("received", "due", "holidays"),
    [
        # Thursday before Christmas (Fri 25 Dec): Mon 28, Tue 29, Wed 30
        (wib(2026, 12, 24, 10), end_of(2026, 12, 30), ["2026-12-25"]),
        # New Year's Eve: Fri 1 Jan and Tue 5 Jan (Isra Mi'raj 2027) are holidays
        (wib(2026, 12, 31, 15), end_of(2027, 1, 7), ["2027-01-01", "2027-01-05"]),
        # Tuesday before Idul Fitri 2027 (Wed 10, Thu 11 March): Fri 12, Mon 15, Tue 16
        (wib(2027, 3, 9, 8), end_of(2027, 3, 16), ["2027-03-10", "2027-03-11"]),
        # Friday before Nyepi 2027 (Mon 8 March) and Idul Fitri: Tue 9, Fri 12, Mon 15
        (wib(2027, 3, 5, 16), end_of(2027, 3, 15), ["2027-03-08", "2027-03-10"]),
    ],
    ids=["christmas_2026", "new_year_2027", "idul_fitri_2027", "nyepi_2027"],
)
def test_the_verification_deadline_skips_national_holidays(received, due, holidays):
    for day in holidays:  # the holidays package knows them
        assert not CALENDAR.is_working_day(date.fromisoformat(day))
    ticket = Ticket.start(received)
    assert ticket.timers["verification_overdue"] == due
    assert ticket.due_at == due
    assert due.astimezone(calendar.JAKARTA).strftime("%H:%M:%S") == "23:59:59"


def test_a_holiday_added_to_the_table_moves_the_deadline():
    """Cuti bersama (24 Dec 2026) is not in the package's public list; a city may add it."""
    received = wib(2026, 12, 23)  # Wednesday
    plain = Ticket.start(received)
    assert plain.timers["verification_overdue"] == end_of(2026, 12, 29)  # Thu 24, Mon 28, Tue 29
    with_leave = calendar.WorkingCalendar(CALENDAR.holidays | {date(2026, 12, 24)})
    ticket = Ticket.start(received, cal=with_leave)
    assert ticket.timers["verification_overdue"] == end_of(2026, 12, 30)


def test_reject_archives_with_a_reason_and_closes():
    ticket = Ticket.start(MONDAY)
    assert form_errors("verify.schema.json", {"decision": "reject"})  # reason required
    ticket.complete("verify", {"decision": "reject", "reason": "spam"}, MONDAY + timedelta(hours=2))
    assert ticket.last == [
        "verify",
        "verification_clock_stopped",
        "verification_outcome",
        "archived",
    ]
    assert (ticket.status, ticket.outcome, ticket.completed) == ("archived", "rejected", True)
    assert ticket.ready == {}
    assert ticket.timers == {}
    assert ticket.clock_events() == [
        ("verification", "start", MONDAY),
        ("verification", "fulfil", MONDAY + timedelta(hours=2)),
    ]


def test_not_our_authority_forwards_with_a_reason():
    ticket = Ticket.start(MONDAY)
    assert form_errors("verify.schema.json", {"decision": "not_our_authority"})
    ticket.complete(
        "verify",
        {"decision": "not_our_authority", "reason": "jalan provinsi"},
        MONDAY + timedelta(hours=1),
    )
    assert (ticket.status, ticket.outcome, ticket.completed) == ("forwarded", "forwarded", True)
    assert ticket.data["reason"] == "jalan provinsi"


def test_duplicate_links_the_original_ticket():
    ticket = Ticket.start(MONDAY)
    assert form_errors("verify.schema.json", {"decision": "duplicate"})  # duplicate_of required
    assert form_errors("verify.schema.json", {"decision": "duplicate", "duplicate_of": "nope"})
    ticket.complete("verify", {"decision": "duplicate", "duplicate_of": "LK-7K2M9QXA"}, MONDAY)
    assert (ticket.status, ticket.outcome, ticket.completed) == ("duplicate", "duplicate", True)
    assert ticket.data["duplicate_of"] == "LK-7K2M9QXA"
    # the end event tells the reporter and names the variable that links the original
    end = next(p for p in ticket.passed if p.element_id == "duplicate")
    assert end.properties["notify"] == "reporter"
    assert end.properties["links_to"] == "duplicate_of"
    assert ticket.ready == {}
    assert ticket.timers == {}


def test_route_dispatches_through_routing_dmn_to_the_opd():
    ticket = Ticket.start(MONDAY, category="sampah", infrastructure=False)
    ticket.complete("verify", {"decision": "route"}, MONDAY + timedelta(hours=3))
    assert ticket.ready == {"acknowledge": "dlh"}
    assert ticket.data["opd"] == "dlh"
    assert ticket.status == "dispatched"
    # acknowledge within 5 working days: Tue..Mon
    assert ticket.timers == {"acknowledgement_overdue": end_of(2026, 11, 30)}
    assert [e[:2] for e in ticket.clock_events()] == [
        ("verification", "start"),
        ("verification", "fulfil"),
        ("acknowledgement", "start"),
    ]


def test_a_category_with_no_routing_rule_goes_back_to_the_verifier_desk():
    ticket = Ticket.start(MONDAY, category="banjir_rob", infrastructure=False)
    passed = ticket.complete("verify", {"decision": "route"}, MONDAY + timedelta(hours=1))
    assert "routing_incident" in passed
    incident = next(p for p in ticket.passed if p.element_id == "routing_incident")
    assert incident.properties["incident"] == "no_routing_rule"
    assert ticket.ready == {"route_manually": "verifier"}
    assert ticket.status == "rerouting"
    assert ticket.timers == {"rerouting_overdue": end_of(2026, 11, 26)}
    assert form_errors("route.schema.json", {"decision": "dispatch"})  # opd required
    ticket.complete("route_manually", {"decision": "dispatch", "opd": "dishub"}, MONDAY)
    assert ticket.ready == {"acknowledge": "dishub"}


def test_manual_routing_can_still_forward_the_ticket():
    ticket = Ticket.start(MONDAY, category="banjir_rob", infrastructure=False)
    ticket.complete("verify", {"decision": "route"}, MONDAY)
    ticket.complete(
        "route_manually", {"decision": "not_our_authority", "reason": "BBWS Cisadane"}, MONDAY
    )
    assert (ticket.status, ticket.outcome, ticket.completed) == ("forwarded", "forwarded", True)


def test_kecamatan_is_an_input_of_the_routing_table():
    ticket = Ticket.start(MONDAY, kecamatan="Ciledug")
    ticket.complete("verify", {"decision": "route"}, MONDAY)
    assert ticket.ready == {"acknowledge": "dpupr"}


def test_an_overdue_verification_escalates_once_and_the_level_resets_when_verified():
    ticket = Ticket.start(MONDAY)
    due = ticket.timers["verification_overdue"]
    assert ticket.fire(due - timedelta(seconds=1)) == []  # not yet
    assert ticket.fire(due + timedelta(seconds=1)) == [
        "verification_overdue",
        "escalate_verification",
        "verification_escalated",
    ]
    assert ticket.escalation_level == 1
    assert ticket.ready == {"verify": "verifier"}  # the task stays open
    assert ticket.timers == {}
    assert ticket.fire(due + timedelta(days=5)) == []  # fires exactly once
    ticket.complete("verify", {"decision": "route"}, due + timedelta(days=1))
    assert ticket.escalation_level == 0
    assert [e[:2] for e in ticket.clock_events("verification")] == [
        ("verification", "start"),
        ("verification", "breach"),
        ("verification", "fulfil"),
    ]


def test_an_overdue_manual_routing_escalates():
    ticket = Ticket.start(MONDAY, category="banjir_rob", infrastructure=False)
    ticket.complete("verify", {"decision": "route"}, MONDAY)
    assert ticket.fire(end_of(2026, 11, 27)) == ["rerouting_overdue", "rerouting_escalated"]
    assert ticket.escalation_level == 1
    ticket.complete("route_manually", {"decision": "dispatch", "opd": "dlh"}, end_of(2026, 11, 27))
    assert ticket.escalation_level == 0
