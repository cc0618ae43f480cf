"""The officer's inbox (engine.inbox) on SQLite and PostgreSQL: most urgent first, filters,
counts that match the filters, cursor pages that cover every row once, and titles."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from engine import claims
from engine import commands
from engine import inbox
from engine.identity import Actor
from engine.models import HumanTask
from engine.models import OpenTaskCount
from tests.conftest import NOW
from tests.factories import ROAD
from tests.factories import open_task
from tests.factories import submit

VERIFIER = Actor("user:ani", "verifier", frozenset({"verifier"}))
DESK = frozenset({"verifier"})
# NOW is Monday 23 Nov 2026, 09:00 in Jakarta; a verification is due at 23:59:59 (Jakarta) of
# the third working day after the day it came in. The inbox is read on Thursday 26, 09:00.
READ_AT = NOW + timedelta(days=3)
SUBMITTED = {
    "late_most": NOW - timedelta(days=7),  # Mon 16 -> due Thu 19: overdue
    "late": NOW - timedelta(days=4),  # Thu 19 -> due Tue 24: overdue
    "today": NOW,  # Mon 23 -> due Thu 26: due today
    "later": NOW + timedelta(days=1),  # Tue 24 -> due Fri 27
}
WHERE = {
    "late_most": ("jalan_rusak", "Cipondoh"),
    "late": ("sampah", "Karawaci"),
    "today": ("drainase", "Cipondoh"),
    "later": ("jalan_rusak", None),
}


def file(
    factory: sessionmaker[Session], *, at: datetime, category: str, kecamatan: str | None
) -> str:
    return submit(factory, replace(ROAD, category=category, kecamatan=kecamatan), now=at)


@pytest.fixture
def desk(backend_factory: sessionmaker[Session]) -> dict[str, str]:
    """Four tickets at the verifier desk with four different due times (see SUBMITTED)."""
    return {
        key: file(backend_factory, at=at, category=WHERE[key][0], kecamatan=WHERE[key][1])
        for key, at in SUBMITTED.items()
    }


def rows_of(
    factory: sessionmaker[Session],
    groups: Iterable[str] = DESK,
    *,
    now: datetime = READ_AT,
    **filters: object,
) -> list[inbox.Row]:
    """Every row of the inbox, page by page."""
    found: list[inbox.Row] = []
    cursor: str | None = None
    with factory() as session:
        while True:
            page, cursor = inbox.page(
                session, groups, now=now, filters=inbox.Filters(**filters), after=cursor
            )
            found += page
            if cursor is None:
                return found


def tickets(rows: Sequence[inbox.Row]) -> list[str]:
    return [r.ticket for r in rows]


def counts(
    factory: sessionmaker[Session],
    groups: Iterable[str] = DESK,
    *,
    now: datetime = READ_AT,
    opd: str | None = None,
) -> inbox.Counts:
    with factory() as session:
        return inbox.counts(session, groups, now=now, opd=opd)


def complete(
    factory: sessionmaker[Session], number: str, actor: Actor, data: dict[str, object]
) -> None:
    with factory.begin() as session:
        commands.complete_task(
            session, task_id=open_task(session, number).id, actor=actor, data=data, now=READ_AT
        )


# -- order and filters ------------------------------------------------------------------------


def test_overdue_tasks_come_first_then_by_due_time(backend_factory, desk):
    rows = rows_of(backend_factory)
    assert tickets(rows) == [desk["late_most"], desk["late"], desk["today"], desk["later"]]
    dues = [r.due_at for r in rows]
    assert all(d is not None for d in dues)
    assert dues == sorted(dues)  # type: ignore[type-var]
    assert [r.due_at is not None and r.due_at < READ_AT for r in rows] == [1, 1, 0, 0]


def test_a_row_carries_what_the_inbox_shows(backend_factory, desk):
    (row,) = rows_of(backend_factory, number=desk["late"])
    assert row.ticket == desk["late"]
    assert (row.element_id, row.candidate_group, row.form) == (
        "verify",
        "verifier",
        "verify.schema.json",
    )
    assert (row.category, row.kecamatan) == WHERE["late"]
    assert row.received_at == SUBMITTED["late"]
    assert row.ticket_title == ROAD.title
    assert (row.claimed_by, row.escalation_level, row.confidential) == (None, 0, False)
    assert row.version >= 1


def test_the_overdue_filter_keeps_tasks_past_their_due_time(backend_factory, desk):
    assert tickets(rows_of(backend_factory, overdue=True)) == [desk["late_most"], desk["late"]]


def test_the_due_today_filter_keeps_tasks_due_before_midnight_in_jakarta(backend_factory, desk):
    assert tickets(rows_of(backend_factory, due_today=True)) == [desk["today"]]
    # An hour before midnight (Jakarta) the task due at 23:59:59 is still due today.
    evening = datetime.fromisoformat("2026-11-26T22:00:00+07:00")
    assert tickets(rows_of(backend_factory, now=evening, due_today=True)) == [desk["today"]]
    # The next morning it is overdue and Friday's task is due today.
    friday = READ_AT + timedelta(days=1)
    assert tickets(rows_of(backend_factory, now=friday, due_today=True)) == [desk["later"]]
    assert desk["today"] in tickets(rows_of(backend_factory, now=friday, overdue=True))


def test_the_category_and_kecamatan_filters(backend_factory, desk):
    assert tickets(rows_of(backend_factory, category="jalan_rusak")) == [
        desk["late_most"],
        desk["later"],
    ]
    assert tickets(rows_of(backend_factory, kecamatan="Cipondoh")) == [
        desk["late_most"],
        desk["today"],
    ]
    assert tickets(rows_of(backend_factory, category="jalan_rusak", kecamatan="Cipondoh")) == [
        desk["late_most"]
    ]
    assert rows_of(backend_factory, category="taman") == []
    assert tickets(rows_of(backend_factory, overdue=True, kecamatan="Cipondoh")) == [
        desk["late_most"]
    ]


def test_the_number_filter_takes_any_case_and_spaces(backend_factory, desk):
    number = desk["today"]
    assert tickets(rows_of(backend_factory, number=number)) == [number]
    assert tickets(rows_of(backend_factory, number=f"  {number.lower()} ")) == [number]
    assert rows_of(backend_factory, number="LK-ZZZZZZZZ") == []


def test_counts_match_what_each_filter_shows(backend_factory, desk):
    found = counts(backend_factory)
    everything = rows_of(backend_factory)
    assert found.all == len(everything) == 4
    assert found.overdue == len(rows_of(backend_factory, overdue=True)) == 2
    assert found.due_today == len(rows_of(backend_factory, due_today=True)) == 1
    assert found.by_category == dict(Counter(r.category for r in everything))
    assert found.by_category == {"jalan_rusak": 2, "sampah": 1, "drainase": 1}
    for category, n in found.by_category.items():
        assert len(rows_of(backend_factory, category=category)) == n
    assert found.by_kecamatan == {"Cipondoh": 2, "Karawaci": 1}  # no kecamatan: not a choice
    for kecamatan, n in found.by_kecamatan.items():
        assert len(rows_of(backend_factory, kecamatan=kecamatan)) == n


def test_overdue_and_due_today_are_counted_up_to_the_cap(backend_factory, desk, monkeypatch):
    monkeypatch.setattr(inbox, "COUNT_CAP", 1)
    found = counts(backend_factory)
    assert (found.overdue, found.due_today) == (2, 1)  # two overdue: counting stopped past 1
    assert (found.shown(found.overdue), found.shown(found.due_today)) == ("1+", "1")
    assert found.all == 4  # the kept counts are exact


def test_another_groups_task_never_appears_and_a_completed_task_disappears(backend_factory, desk):
    complete(backend_factory, desk["late"], VERIFIER, {"decision": "route"})  # sampah -> dlh
    assert desk["late"] not in tickets(rows_of(backend_factory))
    assert counts(backend_factory).all == 3
    dlh_rows = rows_of(backend_factory, {"dlh"})
    assert [(r.ticket, r.element_id) for r in dlh_rows] == [(desk["late"], "acknowledge")]
    assert rows_of(backend_factory, {"dpupr"}) == []
    assert counts(backend_factory, {"dpupr"}).all == 0
    assert counts(backend_factory, {"dlh"}).all == 1
    assert rows_of(backend_factory, set()) == []
    # Both groups at once, narrowed to one OPD (as a head or supervisor would).
    both = {"verifier", "dlh"}
    assert len(rows_of(backend_factory, both)) == 4
    assert tickets(rows_of(backend_factory, both, opd="dlh")) == [desk["late"]]
    assert counts(backend_factory, both, opd="dlh").all == 1


def test_a_claim_shows_in_the_row(backend_factory, desk):
    with backend_factory.begin() as session:
        task_id = open_task(session, desk["today"]).id
        claims.claim(session, task_id=task_id, actor=VERIFIER, now=READ_AT)
    (row,) = rows_of(backend_factory, number=desk["today"])
    assert row.claimed_by == VERIFIER.name


# -- the cursor -------------------------------------------------------------------------------


@pytest.fixture
def sixty(backend_factory: sessionmaker[Session]) -> list[str]:
    """60 tickets at the desk, 20 each at three times (so many share a due time)."""
    numbers = []
    for day in range(3):
        with backend_factory.begin() as session:
            for i in range(20):
                data = replace(ROAD, category=("jalan_rusak", "sampah")[i % 2])
                numbers.append(
                    commands.submit_ticket(
                        session, data=data, actor=Actor.public(), now=NOW + timedelta(days=day)
                    ).ticket.number
                )
    return numbers


def test_cursor_pages_of_25_cover_every_task_exactly_once(backend_factory, sixty):
    pages: list[list[inbox.Row]] = []
    cursor: str | None = None
    with backend_factory() as session:
        while True:
            page, cursor = inbox.page(session, DESK, now=READ_AT, after=cursor)
            pages.append(list(page))
            if cursor is None:
                break
        assert inbox.counts(session, DESK, now=READ_AT).all == 60
    assert [len(p) for p in pages] == [25, 25, 10]
    ids = [r.id for p in pages for r in p]
    assert len(ids) == len(set(ids)) == 60
    assert sorted(r.ticket for p in pages for r in p) == sorted(sixty)
    keys = [(r.due_at, r.id) for p in pages for r in p]
    assert keys == sorted(keys)  # type: ignore[type-var]


def test_a_filtered_cursor_stays_within_the_filter(backend_factory, sixty):
    rows = rows_of(backend_factory, category="sampah")
    assert len(rows) == len({r.id for r in rows}) == 30
    assert {r.category for r in rows} == {"sampah"}


def test_the_last_full_page_has_no_next_cursor(backend_factory, sixty):
    with backend_factory() as session:
        first, cursor = inbox.page(session, DESK, now=READ_AT, limit=30)
        second, cursor = inbox.page(session, DESK, now=READ_AT, after=cursor, limit=30)
        assert (len(first), len(second), cursor) == (30, 30, None)
        assert not {r.id for r in first} & {r.id for r in second}


def test_a_garbled_cursor_starts_from_the_top(backend_factory, sixty):
    with backend_factory() as session:
        top, _ = inbox.page(session, DESK, now=READ_AT)
        for garbled in ("nonsense", "1e999_x", "_", ""):
            again, _ = inbox.page(session, DESK, now=READ_AT, after=garbled)
            assert [r.id for r in again] == [r.id for r in top]


# -- titles -----------------------------------------------------------------------------------


def test_titles_are_the_forms_titles_in_the_language_asked(backend_factory, desk):
    complete(backend_factory, desk["late"], VERIFIER, {"decision": "route"})
    desk_rows = rows_of(backend_factory)
    dlh_rows = rows_of(backend_factory, {"dlh"})
    with backend_factory() as session:
        indonesian = inbox.titles(session, desk_rows + dlh_rows, "id")
        english = inbox.titles(session, desk_rows, "en")
    assert {indonesian[r.id] for r in desk_rows} == {"Verifikasi laporan"}
    assert indonesian[dlh_rows[0].id] == "Terima laporan"
    assert {english[r.id] for r in desk_rows} == {"Verify the complaint"}


def test_titles_of_no_rows_is_empty(backend_factory):
    with backend_factory() as session:
        assert inbox.titles(session, [], "id") == {}


def test_the_kept_open_task_counts_equal_a_count_of_the_open_tasks(backend_factory, desk):
    def kept_and_counted() -> tuple[dict[Any, int], dict[Any, int]]:
        with backend_factory() as session:
            kept = {
                (c.candidate_group, c.category, c.kecamatan): c.count
                for c in session.scalars(select(OpenTaskCount).where(OpenTaskCount.count != 0))
            }
            counted = {
                (group, category, kecamatan or ""): n
                for group, category, kecamatan, n in session.execute(
                    select(
                        HumanTask.candidate_group,
                        HumanTask.category,
                        HumanTask.kecamatan,
                        func.count(),
                    )
                    .where(HumanTask.completed_at.is_(None))
                    .group_by(HumanTask.candidate_group, HumanTask.category, HumanTask.kecamatan)
                )
            }
        return kept, counted

    kept, counted = kept_and_counted()
    assert kept == counted
    assert sum(kept.values()) == len(desk)
    # Routing moves each ticket's open task from the desk to the OPD; the counts follow.
    for number in list(desk.values())[:2]:
        complete(backend_factory, number, VERIFIER, {"decision": "route"})
    kept, counted = kept_and_counted()
    assert kept == counted
