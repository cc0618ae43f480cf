"""The city's statistics kept incrementally (engine/tally.py), on SQLite and PostgreSQL.

Every command moves the counts of the one ticket it changed; ``recount`` recomputes them from
the tickets. The two must agree after every command of every lifecycle.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import datetime
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from engine import commands
from engine import tally
from engine import timers
from engine.errors import InvalidInput
from engine.identity import Actor
from engine.models import StatCount
from engine.models import Ticket
from tests.conftest import NOW
from tests.factories import ROAD
from tests.factories import open_task

VERIFIER = Actor("verifikator", "verifier", frozenset({"verifier"}))
DPUPR = Actor("petugas_dpupr", "officer", frozenset({"dpupr"}))
DLH = Actor("petugas_dlh", "officer", frozenset({"dlh"}))
H = timedelta(hours=1)


class Lifecycle:
    """Drives tickets on one database and checks the kept counts after every command."""

    def __init__(self, factory: sessionmaker[Session]) -> None:
        self.factory = factory
        self.commands = 0

    def check(self) -> None:
        with self.factory() as session:
            stored = tally.stored(session)
            expected = tally.recount(session.scalars(select(Ticket)).all())
            medians = {k: v for k, v in tally.stored_medians(session).items() if v is not None}
        assert stored == expected, f"after command {self.commands}"
        # the medians kept beside the histograms are the medians of the full recount
        assert medians == tally.medians(expected[1]), f"after command {self.commands}"
        self.commands += 1

    def submit(self, *, now: datetime = NOW, **fields: Any) -> str:
        with self.factory.begin() as session:
            number = commands.submit_ticket(
                session, data=replace(ROAD, **fields), actor=Actor.public(), now=now
            ).ticket.number
        self.check()
        return number

    def complete(self, number: str, actor: Actor, data: dict[str, Any], *, now: datetime) -> None:
        with self.factory.begin() as session:
            commands.complete_task(
                session, task_id=open_task(session, number).id, actor=actor, data=data, now=now
            )
        self.check()

    def message(self, number: str, message: str, *, now: datetime, **payload: Any) -> None:
        with self.factory.begin() as session:
            commands.correlate_message(
                session,
                ticket_number=number,
                message=message,
                payload=payload,
                actor=Actor.public(),
                now=now,
            )
        self.check()

    def fire(self, number: str, *, now: datetime) -> None:
        with self.factory.begin() as session:
            ticket = session.scalars(select(Ticket).where(Ticket.number == number)).one()
            instance_id = session.scalars(
                select(commands.ProcessInstance.id).where(
                    commands.ProcessInstance.ticket_id == ticket.id
                )
            ).one()
            commands.fire_timers(session, instance_id=instance_id, now=now)
        self.check()

    def ticket(self, number: str) -> Ticket:
        with self.factory() as session:
            return session.scalars(select(Ticket).where(Ticket.number == number)).one()


def accepted(life: Lifecycle, number: str, officer: Actor, *, routed: datetime) -> None:
    life.complete(number, VERIFIER, {"decision": "route"}, now=routed)
    life.complete(number, officer, {"decision": "accept", "complexity": "simple"}, now=routed + H)


def city(life: Lifecycle) -> dict[str, str]:
    """Six tickets, each left in a different place; counts checked after every command."""
    t: dict[str, str] = {}
    t["rejected"] = life.submit(category="drainase", kecamatan="Cipondoh")
    t["fixed"] = life.submit(category="sampah", kecamatan="Karawaci")
    t["no_reply"] = life.submit(category="sampah")
    t["overdue"] = life.submit(category="jalan_rusak", kecamatan="Cipondoh")
    t["follow_up"] = life.submit(category="jalan_rusak", kecamatan="Karawaci")
    t["reopened"] = life.submit(category="sampah", kecamatan="Karawaci")

    life.complete(t["rejected"], VERIFIER, {"decision": "reject", "reason": "spam"}, now=NOW + H)

    accepted(life, t["fixed"], DLH, routed=NOW + 2 * H)
    life.complete(
        t["fixed"], DLH, {"decision": "resolve", "resolution": "Diangkut"}, now=NOW + 24 * H
    )
    life.message(t["fixed"], "reporter_confirms", now=NOW + 30 * H)

    accepted(life, t["no_reply"], DLH, routed=NOW + 5 * H)
    life.complete(
        t["no_reply"], DLH, {"decision": "need_info", "question": "Di mana?"}, now=NOW + 7 * H
    )

    accepted(life, t["follow_up"], DPUPR, routed=NOW + 50 * H)
    life.complete(
        t["follow_up"],
        DPUPR,
        {"decision": "follow_up", "follow_up_reason": "Menunggu anggaran", "follow_up_days": 20},
        now=NOW + 52 * H,
    )

    accepted(life, t["reopened"], DLH, routed=NOW + 3 * H)
    life.complete(
        t["reopened"], DLH, {"decision": "resolve", "resolution": "Diangkut"}, now=NOW + 10 * H
    )
    life.message(t["reopened"], "reporter_disputes", now=NOW + 11 * H, reason="Masih ada")

    # Friday 27 Nov 2026: the verification deadline (end of Thursday) has passed
    life.fire(t["overdue"], now=NOW + timedelta(days=4))
    # far later: no reply in 10 working days closes the ticket
    life.fire(t["no_reply"], now=NOW + timedelta(days=30))
    return t


@pytest.fixture
def life(backend_factory: sessionmaker[Session]) -> Lifecycle:
    return Lifecycle(backend_factory)


def test_the_kept_counts_equal_a_recount_after_every_command(life):
    t = city(life)
    assert life.commands == 23
    assert life.ticket(t["overdue"]).escalation_level == 1
    assert life.ticket(t["overdue"]).breached is True
    assert life.ticket(t["overdue"]).status == "verification"
    assert (life.ticket(t["no_reply"]).status, life.ticket(t["no_reply"]).outcome) == (
        "closed_no_reply",
        "closed_no_reply",
    )
    assert life.ticket(t["follow_up"]).status == "waiting_follow_up"
    assert life.ticket(t["reopened"]).status == "reopened"
    assert life.ticket(t["fixed"]).outcome == "fixed"
    assert life.ticket(t["rejected"]).outcome == "rejected"


def test_a_refused_command_moves_no_count(life):
    number = life.submit(category="sampah")
    with life.factory() as session:
        before = tally.stored(session)
    with pytest.raises(InvalidInput), life.factory.begin() as session:
        commands.complete_task(
            session,
            task_id=open_task(session, number).id,
            actor=VERIFIER,
            data={"decision": "reject"},  # a reason is required
            now=NOW,
        )
    with life.factory() as session:
        assert tally.stored(session) == before


def test_the_city_totals(life):
    city(life)
    with life.factory() as session:
        stats = tally.read(session)
        tickets = session.scalars(select(Ticket)).all()
    totals = stats.totals
    assert totals.received == 6
    assert totals.fixed == 1
    assert totals.other_closures == {"rejected": 1, "closed_no_reply": 1}
    assert totals.closed == 3
    assert totals.in_process == 2  # the overdue one at verification, the reopened one
    assert totals.waiting_follow_up == 1
    assert totals.open == 3
    assert totals.open_overdue == 1
    closed_on_time = sum(1 for x in tickets if x.closed_at is not None and not x.breached)
    assert totals.closed_on_time == closed_on_time
    assert totals.on_time_share == pytest.approx(closed_on_time / (3 + 1))
    assert totals.resolved_share == pytest.approx(1 / 6)


def test_a_ticket_is_not_breached_before_a_deadline_passes(life):
    # a deadline timer that merely started waiting is no breach
    number = life.submit(category="sampah")
    assert life.ticket(number).breached is False
    life.complete(number, VERIFIER, {"decision": "route"}, now=NOW + H)
    assert life.ticket(number).breached is False


def test_tickets_closed_within_their_deadlines_count_as_on_time(life):
    t = city(life)
    assert life.ticket(t["rejected"]).breached is False
    assert life.ticket(t["fixed"]).breached is False
    # the reporter's silence is not the city being late
    assert life.ticket(t["no_reply"]).breached is False
    with life.factory() as session:
        totals = tally.read(session).totals
    # three closures on time; one open ticket overdue
    assert totals.closed_on_time == 3
    assert totals.on_time_share == pytest.approx(3 / 4)


def test_the_city_medians(life):
    city(life)
    with life.factory() as session:
        totals = tally.read(session).totals
    # first responses (the verifier's decision): 1, 2, 3, 5 and 50 hours; the overdue one none
    assert totals.median_first_response_hours == 3.5
    # resolution of the one fixed ticket: 24 hours after receipt
    assert totals.median_resolution_hours == 24.5


def test_the_figures_per_dimension(life):
    t = city(life)
    with life.factory() as session:
        by = tally.read(session).by
    sampah = by["category"]["sampah"]
    assert (sampah.received, sampah.fixed, sampah.other_closures) == (
        3,
        1,
        {"closed_no_reply": 1},
    )
    assert sampah.in_process == 1
    roads = by["category"]["jalan_rusak"]
    assert (roads.received, roads.in_process, roads.waiting_follow_up, roads.open_overdue) == (
        2,
        1,
        1,
        1,
    )
    assert by["category"]["drainase"].other_closures == {"rejected": 1}
    assert by["opd"]["dlh"].received == 3
    assert by["opd"]["dpupr"].received == 1  # the follow-up; the overdue one was never routed
    assert by["opd"][""].received == 2
    assert by["kecamatan"]["Cipondoh"].received == 2
    assert by["kecamatan"]["Karawaci"].received == 3
    assert by["kecamatan"][""].received == 1
    assert by["month"]["2026-11"].received == 6
    assert by["opd"]["dlh"].median_resolution_hours == 24.5
    assert life.ticket(t["fixed"]).opd == "dlh"


def test_the_month_is_the_month_of_receipt_in_jakarta(life):
    # 30 Nov 2026 18:00 UTC is 1 Dec 01:00 in Jakarta
    life.submit(category="sampah", now=datetime.fromisoformat("2026-11-30T18:00:00+00:00"))
    with life.factory() as session:
        months = tally.read(session).by["month"]
    assert set(months) == {"2026-12"}


def test_a_sweep_of_due_timers_keeps_the_counts_too(life):
    life.submit(category="sampah")
    life.submit(category="drainase")
    result = timers.run_due(life.factory, now=NOW + timedelta(days=4))
    assert result.fired == 2
    life.check()
    with life.factory() as session:
        totals = tally.read(session).totals
        late = session.scalars(select(StatCount).where(StatCount.late.is_(True))).all()
    assert totals.open_overdue == 2
    assert totals.on_time_share == 0
    assert {(r.dimension, r.count) for r in late if r.dimension == "all"} == {("all", 2)}


def test_a_closed_ticket_that_once_missed_a_deadline_counts_as_late(life):
    number = life.submit(category="sampah")
    life.fire(number, now=NOW + timedelta(days=4))
    life.complete(number, VERIFIER, {"decision": "reject", "reason": "spam"}, now=NOW + 100 * H)
    ticket = life.ticket(number)
    assert (ticket.escalation_level, ticket.breached) == (0, True)
    with life.factory() as session:
        totals = tally.read(session).totals
    assert (totals.closed, totals.closed_on_time, totals.open_overdue) == (1, 0, 0)
    assert totals.on_time_share == 0


def test_an_empty_city_has_no_shares_or_medians(life):
    with life.factory() as session:
        stats = tally.read(session)
        assert tally.stored(session) == (Counter(), Counter())
    totals = stats.totals
    assert totals.received == 0
    assert totals.on_time_share is None
    assert totals.resolved_share is None
    assert totals.median_first_response_hours is None
    assert set(stats.by) == {"category", "opd", "kecamatan", "month"}


# -- the histogram ----------------------------------------------------------------------------


def test_median_of_a_hand_made_histogram():
    assert tally.median_of([(0, 1), (5, 1), (10, 1)]) == 5.5
    assert tally.median_of([(10, 1), (0, 1), (5, 1)]) == 5.5  # any order
    assert tally.median_of([(3, 4)]) == 3.5
    assert tally.median_of([(0, 1), (1, 1), (48, 5)]) == 51  # a 6-hour bucket's middle
    assert tally.median_of([(168, 1)]) == 168 + 12
    assert tally.median_of([(0, 10), (7, 1)]) == 0.5


def test_median_of_nothing_is_none():
    assert tally.median_of([]) is None
    assert tally.median_of([(5, 0)]) is None


@pytest.mark.parametrize(
    ("hours", "lower"),
    [
        (-2, 0),
        (0, 0),
        (0.99, 0),
        (1, 1),
        (47, 47),
        (47.99, 47),
        (48, 48),
        (53.9, 48),
        (54, 54),
        (167, 162),
        (167.99, 162),
        (168, 168),
        (191, 168),
        (192, 192),
        (120 * 24 - 1, 120 * 24 - 24),
    ],
)
def test_bucket_edges(hours, lower):
    assert tally.bucket(hours) == lower


@pytest.mark.parametrize(
    "lower",
    [0, 47, 48, 162, 168, 2832, 2856, 2880, 3048],  # to the last day, the first weeks
)
def test_bucket_widths_match_the_bucket_edges(lower):
    width = tally.bucket_width(lower)
    assert tally.bucket(lower) == lower
    assert tally.bucket(lower + width - 0.01) == lower
    assert tally.bucket(lower + width) == lower + width


def test_every_duration_lies_inside_its_bucket_from_120_days_on():
    assert tally.bucket(120 * 24) == 120 * 24
    for hours in range(120 * 24, 200 * 24):
        lower = tally.bucket(hours)
        assert lower <= hours < lower + tally.bucket_width(lower), hours


def test_every_duration_under_120_days_lies_inside_its_bucket():
    for hours in range(0, 120 * 24):
        lower = tally.bucket(hours)
        assert lower <= hours < lower + tally.bucket_width(lower), hours


def test_cells_of_a_ticket_are_a_function_of_its_row():
    ticket = Ticket(
        category="sampah",
        opd="dlh",
        kecamatan="Karawaci",
        status="in_progress",
        escalation_level=2,
        breached=True,
        created_at=NOW,
        first_response_at=NOW + 3 * H,
        closed_at=None,
        outcome=None,
    )
    cells = tally.cells(ticket)
    assert ("all", "", "in_process", True) in cells.counts
    assert ("opd", "dlh", "in_process", True) in cells.counts
    assert ("month", "2026-11", "in_process", True) in cells.counts
    # and crossed with the month of receipt, for the supervisors' trends (no durations)
    assert ("category_month", "2026-11|sampah", "in_process", True) in cells.counts
    assert ("opd_month", "2026-11|dlh", "in_process", True) in cells.counts
    assert ("kecamatan_month", "2026-11|Karawaci", "in_process", True) in cells.counts
    assert len(cells.counts) == 8
    assert cells.durations == {
        ("first_response", d, k, 3)
        for d, k in [
            ("all", ""),
            ("category", "sampah"),
            ("opd", "dlh"),
            ("kecamatan", "Karawaci"),
            ("month", "2026-11"),
        ]
    }
    ticket.closed_at = NOW + 30 * H
    ticket.resolved_at = NOW + 20 * H
    ticket.outcome = "fixed"
    closed = tally.cells(ticket)
    assert ("all", "", "closed:fixed", True) in closed.counts
    assert ("resolution", "all", "", 20) in closed.durations


def test_a_rebuild_keeps_what_the_commands_kept(backend_factory):
    life = Lifecycle(backend_factory)
    for _ in range(3):
        number = life.submit()
        life.complete(number, VERIFIER, {"decision": "route"}, now=NOW)
    with backend_factory.begin() as session:
        before = tally.stored(session), tally.stored_medians(session)
        assert tally.rebuild(session) == 3
    with backend_factory() as session:
        assert (tally.stored(session), tally.stored_medians(session)) == before


def test_a_database_counted_before_the_monthly_cells_is_recounted_once(backend_factory):
    life = Lifecycle(backend_factory)
    life.submit()
    with backend_factory.begin() as session:
        before = tally.stored(session)
        session.execute(delete(StatCount).where(StatCount.dimension.in_(tally.MONTHLY)))
        assert tally.rebuild_if_missing(session) == 1
        assert tally.rebuild_if_missing(session) == 0
    with backend_factory() as session:
        assert tally.stored(session) == before
