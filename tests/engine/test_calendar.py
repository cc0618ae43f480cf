"""Working-day deadlines against the real Indonesian holidays of 2026 and 2027.

Dates checked against the installed ``holidays`` package (public category): Christmas is
Friday 2026-12-25, New Year Friday 2027-01-01, Nyepi Monday 2027-03-08 and Idul Fitri
Wednesday/Thursday 2027-03-10/11. The package's cuti bersama (``government`` category) include
Thursday 2026-12-24 and Tuesday 2027-03-09, Friday 2027-03-12, Monday 2027-03-15.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC
from datetime import date
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from engine import calendar
from engine import clock
from engine.calendar import WorkingCalendar
from engine.db import Base
from engine.models import Holiday

WIB = ZoneInfo("Asia/Jakarta")

CHRISTMAS_2026 = date(2026, 12, 25)
NEW_YEAR_2027 = date(2027, 1, 1)
NYEPI_2027 = date(2027, 3, 8)
IDUL_FITRI_2027 = (date(2027, 3, 10), date(2027, 3, 11))


def wib(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=WIB)


def end_of_day_wib(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, 23, 59, 59, tzinfo=WIB).astimezone(UTC)


@pytest.fixture
def public_holidays() -> WorkingCalendar:
    """The package's 2026-2027 Indonesian public holidays, as the default calendar sees them."""
    return calendar.package_calendar((2026, 2027))


@pytest.fixture
def session() -> Iterator[Session]:
    engine = sa.create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        yield session
    engine.dispose()


# --- pure calendar ---------------------------------------------------------------------------


def test_package_lists_the_holidays_these_tests_rely_on(public_holidays: WorkingCalendar) -> None:
    expected = {CHRISTMAS_2026, NEW_YEAR_2027, NYEPI_2027, *IDUL_FITRI_2027}
    assert expected <= public_holidays.holidays
    assert date(2026, 12, 24) not in public_holidays.holidays  # cuti bersama, not public


def test_weekends_and_holidays_are_not_working_days(public_holidays: WorkingCalendar) -> None:
    assert public_holidays.is_working_day(date(2026, 12, 24))  # Thursday
    assert not public_holidays.is_working_day(CHRISTMAS_2026)  # Friday, holiday
    assert not public_holidays.is_working_day(date(2026, 12, 26))  # Saturday
    assert not public_holidays.is_working_day(date(2026, 12, 27))  # Sunday
    assert public_holidays.is_working_day(date(2026, 12, 28))  # Monday


def test_ticket_received_on_friday_is_due_at_end_of_wednesday() -> None:
    received = wib(2026, 7, 10, 9)
    assert received.strftime("%A") == "Friday"

    deadline = WorkingCalendar().add_working_days(received, 3)

    assert deadline == end_of_day_wib(2026, 7, 15)
    assert deadline.tzinfo is UTC


def test_ticket_received_before_christmas_2026_is_due_after_the_holiday(
    public_holidays: WorkingCalendar,
) -> None:
    deadline = public_holidays.add_working_days(wib(2026, 12, 24, 7), 3)

    # Fri 25 Christmas, weekend, then Mon 28, Tue 29, Wed 30.
    assert deadline == end_of_day_wib(2026, 12, 30)
    assert deadline == datetime(2026, 12, 30, 16, 59, 59, tzinfo=UTC)


def test_ticket_spanning_new_year_2027_skips_the_holiday(public_holidays: WorkingCalendar) -> None:
    deadline = public_holidays.add_working_days(wib(2026, 12, 30, 10), 2)

    # Thu 31, Fri 1 January holiday, weekend, Mon 4.
    assert deadline == end_of_day_wib(2027, 1, 4)


def test_ticket_received_before_nyepi_and_idul_fitri_2027_skips_both(
    public_holidays: WorkingCalendar,
) -> None:
    deadline = public_holidays.add_working_days(wib(2027, 3, 5, 14), 3)

    # Mon 8 Nyepi, Tue 9, Wed 10 + Thu 11 Idul Fitri, Fri 12, weekend, Mon 15.
    assert deadline == end_of_day_wib(2027, 3, 15)


def test_ticket_received_on_a_holiday_counts_from_the_next_working_day(
    public_holidays: WorkingCalendar,
) -> None:
    deadline = public_holidays.add_working_days(wib(2026, 12, 25, 10), 1)

    assert deadline == end_of_day_wib(2026, 12, 28)


def test_start_day_is_the_jakarta_date_not_the_utc_date(public_holidays: WorkingCalendar) -> None:
    # 18:00 UTC on Wednesday the 23rd is already 01:00 Thursday the 24th in Jakarta.
    late_utc = datetime(2026, 12, 23, 18, 0, tzinfo=UTC)
    # 16:00 UTC is still 23:00 Wednesday in Jakarta.
    evening_utc = datetime(2026, 12, 23, 16, 0, tzinfo=UTC)

    assert public_holidays.add_working_days(late_utc, 3) == end_of_day_wib(2026, 12, 30)
    assert public_holidays.add_working_days(evening_utc, 3) == end_of_day_wib(2026, 12, 29)


def test_half_a_working_day_is_noon_of_the_next_working_day(
    public_holidays: WorkingCalendar,
) -> None:
    start = wib(2026, 12, 24, 7)

    assert public_holidays.add_working_days(start, 0.5) == wib(2026, 12, 28, 12).astimezone(UTC)
    # Two whole days (Mon 28, Tue 29), then half of Wednesday 30.
    assert public_holidays.add_working_days(start, 2.5) == wib(2026, 12, 30, 12).astimezone(UTC)


def test_fractional_reminder_falls_before_the_whole_target(
    public_holidays: WorkingCalendar,
) -> None:
    start = wib(2027, 3, 5, 14)

    reminder = public_holidays.add_working_days(start, 1.5)
    target = public_holidays.add_working_days(start, 3)

    assert reminder == wib(2027, 3, 12, 12).astimezone(UTC)
    assert reminder < target


@pytest.mark.parametrize("n", [0, -1, float("nan"), float("inf")])
def test_non_positive_or_non_finite_working_days_are_rejected(n: float) -> None:
    with pytest.raises(ValueError, match="positive number"):
        WorkingCalendar().add_working_days(wib(2026, 12, 24), n)


# --- paused clocks -----------------------------------------------------------------------------


def test_working_time_left_counts_from_the_end_of_today(public_holidays: WorkingCalendar) -> None:
    # Wednesday 23 Dec 2026: Thu 24, (Christmas Fri 25), Mon 28, Tue 29, Wed 30
    now = wib(2026, 12, 23, 10)
    left = public_holidays.working_time_left

    assert left(end_of_day_wib(2026, 12, 30), now) == 4.0
    assert left(wib(2026, 12, 28, 12), now) == 1.5  # a reminder at noon of the 2nd day
    assert left(end_of_day_wib(2026, 12, 23), now) == 0.0  # due tonight
    assert left(wib(2026, 12, 23, 18), now) == 0.75 - 1  # due earlier than the end of today
    assert left(end_of_day_wib(2026, 12, 22), now) == -1.0  # a working day late
    assert left(end_of_day_wib(2026, 12, 18), now) == -3.0  # Fri 18, Mon 21, Tue 22
    # a deadline on a holiday or a weekend day lies at the end of the working day before it
    assert left(wib(2026, 12, 25, 12), now) == 1.0


def test_resume_deadline_inverts_working_time_left(public_holidays: WorkingCalendar) -> None:
    paused = wib(2026, 12, 23, 10)
    deadlines = [
        end_of_day_wib(2026, 12, 30),
        wib(2026, 12, 28, 12).astimezone(UTC),
        end_of_day_wib(2026, 12, 23),
        end_of_day_wib(2026, 12, 22),
        end_of_day_wib(2026, 12, 18),
        wib(2026, 12, 22, 6).astimezone(UTC),
    ]
    for deadline in deadlines:
        left = public_holidays.working_time_left(deadline, paused)
        assert public_holidays.resume_deadline(paused, left) == deadline


def test_a_resumed_clock_keeps_its_remainder_across_holidays(
    public_holidays: WorkingCalendar,
) -> None:
    # 4 working days left on Wed 23 Dec 2026; resumed Thursday 31 Dec: Fri 1 Jan 2027 and
    # Tue 5 Jan (Isra Mi'raj) are holidays, so Mon 4, Wed 6, Thu 7, Fri 8
    resumed = wib(2026, 12, 31, 15)
    assert public_holidays.resume_deadline(resumed, 4.0) == end_of_day_wib(2027, 1, 8)
    assert public_holidays.resume_deadline(resumed, 4.0) == public_holidays.add_working_days(
        resumed, 4
    )
    # overdue by a working day and a half when it paused: noon of Wed 30 Dec
    assert public_holidays.resume_deadline(resumed, -1.5) == wib(2026, 12, 30, 12).astimezone(UTC)
    # resumed on a holiday: the end of the last working day is "now" for a zero remainder
    assert public_holidays.resume_deadline(wib(2027, 1, 1, 9), 0) == end_of_day_wib(2026, 12, 31)


def test_pause_helpers_read_the_process_clock(public_holidays: WorkingCalendar) -> None:
    helpers = calendar.script_helpers(public_holidays)
    deadline = end_of_day_wib(2026, 12, 30).isoformat()

    with clock.frozen_at(wib(2026, 12, 23, 10)):
        left = helpers["working_time_left"](deadline)
        hours = helpers["hours_left"]("2026-12-23T16:00:00+07:00")
    with clock.frozen_at(wib(2026, 12, 31, 15)):
        resumed = helpers["resume_working_deadline"](left)
        resumed_hours = helpers["resume_hours_deadline"](hours)

    assert left == 4.0
    assert hours == 6.0
    assert resumed == end_of_day_wib(2027, 1, 8).isoformat()
    assert resumed_hours == wib(2026, 12, 31, 21).astimezone(UTC).isoformat()
    with pytest.raises(ValueError, match="time zone"):
        helpers["working_time_left"]("2026-12-30T23:59:59")
    with pytest.raises(ValueError, match="number"):
        public_holidays.resume_deadline(wib(2026, 12, 31), float("nan"))


def test_naive_start_is_rejected() -> None:
    naive = datetime(2026, 12, 24, 7)  # noqa: DTZ001 - the point of the test
    with pytest.raises(ValueError, match="aware"):
        WorkingCalendar().add_working_days(naive, 1)


# --- durations and script helpers --------------------------------------------------------------


def test_duration_until_is_exact_to_the_microsecond() -> None:
    now = datetime(2026, 12, 24, 0, 0, 0, 250_000, tzinfo=UTC)
    deadline = datetime(2026, 12, 24, 3, 25, 45, tzinfo=UTC)

    assert calendar.duration_until(deadline, now) == "PT12344.750000S"
    assert calendar.duration_until(deadline, now.replace(microsecond=0)) == "PT12345S"


def test_a_working_day_timer_is_due_exactly_at_the_end_of_the_day() -> None:
    """SpiffWorkflow adds the duration to the clock it read; the sum is the deadline itself."""
    from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

    now = datetime(2026, 11, 28, 1, 7, 53, 856_896, tzinfo=UTC)
    deadline = WorkingCalendar().add_working_days(now, 3)
    parsed = TimerEventDefinition.parse_iso_duration(calendar.duration_until(deadline, now))
    assert now + TimerEventDefinition.get_timedelta_from_start(parsed, now) == deadline
    assert deadline == datetime(2026, 12, 2, 16, 59, 59, tzinfo=UTC)


def test_duration_until_a_past_deadline_is_zero() -> None:
    now = datetime(2026, 12, 24, tzinfo=UTC)

    assert calendar.duration_until(now, now) == "PT0S"
    assert calendar.duration_until(datetime(2026, 12, 1, tzinfo=UTC), now) == "PT0S"


def test_working_days_helper_reads_the_process_clock(public_holidays: WorkingCalendar) -> None:
    helpers = calendar.script_helpers(public_holidays)

    with clock.frozen_at(wib(2026, 12, 24, 7)):
        duration = helpers["working_days"](3)
        deadline = helpers["working_deadline"](3)

    # From 00:00 UTC Thursday 24th to 16:59:59 UTC Wednesday 30th.
    assert duration == f"PT{6 * 86400 + 16 * 3600 + 59 * 60 + 59}S"
    assert deadline == "2026-12-30T16:59:59+00:00"
    assert datetime.fromisoformat(deadline) == end_of_day_wib(2026, 12, 30)


def test_command_helpers_use_the_calendar_in_force() -> None:
    weekends_only = WorkingCalendar()
    with_cuti_bersama = WorkingCalendar(frozenset({date(2026, 12, 24), CHRISTMAS_2026}))

    with clock.frozen_at(wib(2026, 12, 23, 9)):
        with calendar.using_calendar(weekends_only):
            plain = calendar.command_helpers()["working_deadline"](2)
        with calendar.using_calendar(with_cuti_bersama):
            leave = calendar.command_helpers()["working_deadline"](2)

    assert plain == end_of_day_wib(2026, 12, 25).isoformat()
    assert leave == end_of_day_wib(2026, 12, 29).isoformat()


def test_command_helpers_are_built_once_per_calendar() -> None:
    cal = WorkingCalendar(frozenset({CHRISTMAS_2026}))

    with calendar.using_calendar(cal):
        first = calendar.command_helpers()
        first["extra"] = "a caller's own name"
        second = calendar.command_helpers()

    assert second["working_days"] is first["working_days"]
    assert "extra" not in second


def test_default_calendar_has_public_holidays_around_the_clock_year() -> None:
    with clock.frozen_at(wib(2026, 6, 1, 9)):
        cal = calendar.current_calendar()

    assert {date(2025, 12, 25), CHRISTMAS_2026, NEW_YEAR_2027, NYEPI_2027} <= cal.holidays
    assert date(2026, 12, 24) not in cal.holidays
    assert date(2028, 1, 1) not in cal.holidays  # only the clock year +-1


def test_using_calendar_is_undone_after_the_block() -> None:
    cal = WorkingCalendar(frozenset({date(2026, 7, 10)}))
    with clock.frozen_at(wib(2026, 7, 1)):
        with calendar.using_calendar(cal):
            assert calendar.current_calendar() is cal
        assert calendar.current_calendar() is not cal
        assert calendar.current_calendar().is_working_day(date(2026, 7, 10))


# --- the holiday table -------------------------------------------------------------------------


def test_seeding_adds_the_package_holidays_once_with_indonesian_names(session: Session) -> None:
    added = calendar.seed_holidays(session, [2026, 2027])

    rows = calendar.list_holidays(session)
    assert added == len(rows) > 30
    assert calendar.seed_holidays(session, [2026, 2027]) == 0
    names = {row.day: row.name for row in rows}
    assert names[CHRISTMAS_2026] == "Hari Raya Natal"
    assert names[NYEPI_2027] == "Hari Suci Nyepi"
    assert names[IDUL_FITRI_2027[0]].startswith("Hari Raya Idul Fitri")
    assert date(2026, 12, 24) not in names


def test_seeding_keeps_an_edited_name_and_can_add_cuti_bersama(session: Session) -> None:
    calendar.seed_holidays(session, [2026])
    calendar.add_holiday(session, CHRISTMAS_2026, "Natal (diubah)")

    added = calendar.seed_holidays(session, [2026], include_cuti_bersama=True)

    assert added > 0
    christmas = session.get(Holiday, CHRISTMAS_2026)
    assert christmas is not None
    assert christmas.name == "Natal (diubah)"
    assert session.get(Holiday, date(2026, 12, 24)) is not None


def test_list_holidays_of_one_year_in_day_order(session: Session) -> None:
    calendar.seed_holidays(session, [2026, 2027])

    days = [row.day for row in calendar.list_holidays(session, 2027)]

    assert days == sorted(days)
    assert days[0] == NEW_YEAR_2027
    assert all(day.year == 2027 for day in days)


def test_add_and_remove_holiday_change_the_loaded_calendar(session: Session) -> None:
    calendar.seed_holidays(session, [2026])
    received = wib(2026, 12, 23, 9)
    assert calendar.load_calendar(session).add_working_days(received, 1) == end_of_day_wib(
        2026, 12, 24
    )

    calendar.add_holiday(session, date(2026, 12, 24), "Cuti Bersama Natal")
    with_leave = calendar.load_calendar(session)
    assert with_leave.add_working_days(received, 1) == end_of_day_wib(2026, 12, 28)

    assert calendar.remove_holiday(session, CHRISTMAS_2026) is True
    assert calendar.remove_holiday(session, CHRISTMAS_2026) is False
    # The 24th is still leave, but Christmas Day is now a working day.
    assert calendar.load_calendar(session).add_working_days(received, 1) == end_of_day_wib(
        2026, 12, 25
    )


def test_loaded_calendar_is_reused_until_the_days_change(session: Session) -> None:
    calendar.seed_holidays(session, [2026])
    first = calendar.load_calendar(session)
    assert calendar.load_calendar(session) is first

    # Moving a holiday keeps the count and the latest day but must still be seen.
    calendar.remove_holiday(session, date(2026, 3, 19))
    calendar.add_holiday(session, date(2026, 3, 20), "Hari Suci Nyepi (dipindah)")
    moved = calendar.load_calendar(session)

    assert moved is not first
    assert moved.is_working_day(date(2026, 3, 19))
    assert not moved.is_working_day(date(2026, 3, 20))


def test_empty_holiday_table_means_weekends_only(session: Session) -> None:
    assert calendar.load_calendar(session) == WorkingCalendar()
