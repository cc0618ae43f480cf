"""Working-day deadlines in Asia/Jakarta, and the holiday table they are computed from.

A deadline of ``n`` working days is the end (23:59:59 Jakarta time) of the n-th working day
after the Jakarta date on which the clock started; that start day never counts. Working days are
Monday to Friday minus the holidays of the calendar in force.

Holidays come from the ``holiday`` table, seeded from the ``holidays`` package for Indonesia
(``country_holidays("ID")``). The package's default ``public`` category holds the national
public holidays (hari libur nasional). It also has a ``government`` category with the "cuti
bersama" collective-leave days (e.g. Thursday 2026-12-24 before Christmas); they are *not*
included by default, because they bind civil servants only and are decreed year by year, but
:func:`seed_holidays` can add them and an administrator can add or remove any day.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import time
from datetime import timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import holidays
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import clock
from engine.models import Holiday

JAKARTA = ZoneInfo("Asia/Jakarta")
END_OF_DAY = time(23, 59, 59)
_NAME_LENGTH = 200  # Holiday.name is String(200)


@dataclass(frozen=True)
class WorkingCalendar:
    """Monday to Friday, minus ``holidays`` (Jakarta dates)."""

    holidays: frozenset[date] = frozenset()

    def is_working_day(self, d: date) -> bool:
        return d.weekday() < 5 and d not in self.holidays

    def next_working_day(self, d: date) -> date:
        """The first working day strictly after ``d``."""
        d += timedelta(days=1)
        while not self.is_working_day(d):
            d += timedelta(days=1)
        return d

    def add_working_days(self, start: datetime, n: float) -> datetime:
        """The deadline ``n`` working days after ``start``, as aware UTC.

        A whole ``n`` ends at 23:59:59 Jakarta time of the n-th working day after the Jakarta
        date of ``start`` (the start day itself never counts, even if it is a working day).
        A fractional ``n`` (say 2.5, a reminder at half of a 5-day target) takes the whole
        days first, then the fraction of the next working day's 24 hours from its midnight:
        2.5 is 12:00 Jakarta time of the third working day, 0.25 is 06:00 of the first.
        """
        if start.tzinfo is None:
            raise ValueError("working days need an aware start datetime")
        if not math.isfinite(n) or n <= 0:
            raise ValueError(f"working days must be a positive number, not {n!r}")
        whole = math.floor(n)
        fraction = n - whole
        day = start.astimezone(JAKARTA).date()
        for _ in range(whole):
            day = self.next_working_day(day)
        if fraction == 0:
            deadline = datetime.combine(day, END_OF_DAY, tzinfo=JAKARTA)
        else:
            midnight = datetime.combine(self.next_working_day(day), time(0), tzinfo=JAKARTA)
            deadline = midnight + timedelta(hours=24 * fraction)
        return deadline.astimezone(UTC)

    # -- paused clocks --------------------------------------------------------------------------
    #
    # A working-day clock reads "working time" W(t): each working day counts 1, spread evenly
    # over its 24 hours from Jakarta midnight (23:59:59 counts as the whole day); other days
    # count 0. ``add_working_days(start, n)`` is the moment where W = W(end of start's day) + n,
    # so a clock's remainder is measured from the end of today as well: pausing and resuming it
    # with ``resume_deadline(now, working_time_left(deadline, paused))`` keeps the shape of a
    # deadline (a whole remainder still ends at 23:59:59) and, like a fresh start, does not
    # count the rest of the day of the resume.

    def _day_fraction(self, moment: datetime) -> float:
        local = moment.astimezone(JAKARTA)
        if not self.is_working_day(local.date()):
            return 0.0
        seconds = local.hour * 3600 + local.minute * 60 + local.second + local.microsecond / 1e6
        return 1.0 if seconds >= _END_OF_DAY_SECONDS else seconds / 86400

    def _working_days_from(self, first: date, last: date) -> int:
        """Working days ``first <= d < last``, negative if ``last`` is earlier."""
        sign = 1
        if last < first:
            first, last, sign = last, first, -1
        count = 0
        day = first
        while day < last:
            count += self.is_working_day(day)
            day += timedelta(days=1)
        return sign * count

    def working_time_left(self, deadline: datetime, now: datetime) -> float:
        """Working days from the end of ``now``'s Jakarta day to ``deadline`` (may be negative).

        4.0 means the deadline is the end of the 4th working day after today; 0.5 noon of the
        next working day; 0 the end of today; -1.0 the end of the last working day before today
        (one working day overdue).
        """
        if deadline.tzinfo is None or now.tzinfo is None:
            raise ValueError("working time needs aware datetimes")
        tomorrow = now.astimezone(JAKARTA).date() + timedelta(days=1)
        due_day = deadline.astimezone(JAKARTA).date()
        return self._working_days_from(tomorrow, due_day) + self._day_fraction(deadline)

    def resume_deadline(self, now: datetime, left: float) -> datetime:
        """The deadline ``left`` working days after the end of ``now``'s day, as aware UTC.

        The inverse of :meth:`working_time_left`: a positive ``left`` is
        :meth:`add_working_days`; zero is the end of today (of the last working day if today is
        none); a negative one lies that much working time in the past, so a clock that was
        already overdue when it paused is overdue by as much when it resumes.
        """
        if now.tzinfo is None:
            raise ValueError("working days need an aware start datetime")
        if not math.isfinite(left):
            raise ValueError(f"working time left must be a number, not {left!r}")
        if left > 0:
            return self.add_working_days(now, left)
        behind = -left
        day = now.astimezone(JAKARTA).date()
        while True:
            if self.is_working_day(day):
                if behind == 0:
                    return datetime.combine(day, END_OF_DAY, tzinfo=JAKARTA).astimezone(UTC)
                if behind < 1:
                    midnight = datetime.combine(day, time(0), tzinfo=JAKARTA)
                    return (midnight + timedelta(hours=24 * (1 - behind))).astimezone(UTC)
                behind -= 1
            day -= timedelta(days=1)


_END_OF_DAY_SECONDS = END_OF_DAY.hour * 3600 + END_OF_DAY.minute * 60 + END_OF_DAY.second


def _aware(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError(f"a deadline needs a time zone: {value!r}")
    return moment


def duration_until(deadline: datetime, now: datetime) -> str:
    """An exact ISO-8601 duration, e.g. ``PT12344.750000S``; ``PT0S`` once past.

    Exact to the microsecond, so a timer started at ``now`` is due at the deadline itself
    (23:59:59 Jakarta time), not at the deadline plus the sub-second part of ``now``.
    """
    if deadline.tzinfo is None or now.tzinfo is None:
        raise ValueError("durations need aware datetimes")
    delta = deadline - now
    if delta <= timedelta(0):
        return "PT0S"
    seconds = delta.days * 86_400 + delta.seconds
    if delta.microseconds:
        return f"PT{seconds}.{delta.microseconds:06d}S"
    return f"PT{seconds}S"


def script_helpers(calendar: WorkingCalendar) -> dict[str, Callable[..., Any]]:
    """The functions BPMN scripts and timer expressions may call, reading the process clock.

    ``working_days(n)`` is a ``timeDuration`` (``PT…S``) from now to the deadline;
    ``working_deadline(n)`` is the deadline itself as an ISO datetime (for ``timeDate``).

    For clocks that pause and resume: ``working_time_left(deadline)`` is the working time
    (days, fractional, negative once overdue) from the end of today to an ISO deadline, and
    ``resume_working_deadline(left)`` the ISO deadline that leaves that much from now on.
    ``hours_left(deadline)`` and ``resume_hours_deadline(left)`` are the same in clock hours
    (emergency targets, where weekends and holidays count).
    """

    def working_days(n: float) -> str:
        now = clock.now()
        return duration_until(calendar.add_working_days(now, n), now)

    def working_deadline(n: float) -> str:
        return calendar.add_working_days(clock.now(), n).isoformat()

    def working_time_left(deadline: str) -> float:
        return calendar.working_time_left(_aware(deadline), clock.now())

    def resume_working_deadline(left: float) -> str:
        return calendar.resume_deadline(clock.now(), float(left)).isoformat()

    def hours_left(deadline: str) -> float:
        return (_aware(deadline) - clock.now()).total_seconds() / 3600

    def resume_hours_deadline(left: float) -> str:
        if not math.isfinite(left):
            raise ValueError(f"hours left must be a number, not {left!r}")
        moment = clock.now() + timedelta(seconds=round(float(left) * 3600))
        return moment.astimezone(UTC).isoformat()

    return {
        "working_days": working_days,
        "working_deadline": working_deadline,
        "working_time_left": working_time_left,
        "resume_working_deadline": resume_working_deadline,
        "hours_left": hours_left,
        "resume_hours_deadline": resume_hours_deadline,
    }


# --- the calendar in force for a command -------------------------------------------------------

_current: ContextVar[WorkingCalendar | None] = ContextVar("laksa_calendar", default=None)


@lru_cache(maxsize=8)
def package_calendar(years: tuple[int, ...]) -> WorkingCalendar:
    """Weekends plus the ``holidays`` package's Indonesian public holidays of ``years``."""
    return WorkingCalendar(frozenset(holidays.country_holidays("ID", years=years).keys()))


def default_calendar() -> WorkingCalendar:
    """The package's holidays for the clock's Jakarta year and the years either side."""
    year = clock.now().astimezone(JAKARTA).year
    return package_calendar((year - 1, year, year + 1))


def current_calendar() -> WorkingCalendar:
    """The calendar of the running command, else :func:`default_calendar`."""
    calendar = _current.get()
    return calendar if calendar is not None else default_calendar()


@contextmanager
def using_calendar(calendar: WorkingCalendar) -> Iterator[WorkingCalendar]:
    """Run a block with ``calendar`` in force."""
    token = _current.set(calendar)
    try:
        yield calendar
    finally:
        _current.reset(token)


@lru_cache(maxsize=16)
def _cached_helpers(calendar: WorkingCalendar) -> dict[str, Callable[..., Any]]:
    return script_helpers(calendar)


def command_helpers() -> dict[str, Any]:
    """The script helpers for the calendar in force (built once per calendar)."""
    # A copy, so a caller adding names cannot change what the next evaluation sees.
    return dict(_cached_helpers(current_calendar()))


# --- the holiday table -------------------------------------------------------------------------


@lru_cache(maxsize=4)
def _calendar_of(days: frozenset[date]) -> WorkingCalendar:
    return WorkingCalendar(days)


def load_calendar(session: Session) -> WorkingCalendar:
    """The calendar of the holiday table; the same object while the table's days are unchanged.

    The key is the set of days itself (one narrow query), not an aggregate like
    (count, max(day)): moving a holiday by a day, as happens after the sidang isbat for Idul
    Fitri, keeps both, and another process would keep the stale calendar.
    """
    days = frozenset(session.connection().execute(_HOLIDAY_DAYS).scalars())
    return _calendar_of(days)


# A Core statement built once, on the connection: every command reads the days, and through
# the ORM's statement path the read cost two to three times as much (230-270 against 80-90 us).
_HOLIDAY_DAYS = select(Holiday.__table__.c.day)


def seed_holidays(
    session: Session, years: Iterable[int], *, include_cuti_bersama: bool = False
) -> int:
    """Add the package's Indonesian holidays of ``years`` not yet in the table; returns the count.

    Names are in Indonesian. Days already present keep their (possibly edited) name.
    """
    categories = ("public", "government") if include_cuti_bersama else ("public",)
    found = holidays.country_holidays(
        "ID", years=sorted(set(years)), categories=categories, language="id"
    )
    if not found:
        return 0
    present = set(session.scalars(select(Holiday.day).where(Holiday.day.in_(list(found)))))
    added = [
        Holiday(day=day, name=str(name)[:_NAME_LENGTH])
        for day, name in sorted(found.items())
        if day not in present
    ]
    session.add_all(added)
    session.flush()
    return len(added)


def add_holiday(session: Session, day: date, name: str) -> Holiday:
    """Mark ``day`` as a holiday, or rename it if it already is one."""
    holiday = session.get(Holiday, day)
    if holiday is None:
        holiday = Holiday(day=day, name=name)
        session.add(holiday)
    else:
        holiday.name = name
    session.flush()
    return holiday


def remove_holiday(session: Session, day: date) -> bool:
    """Make ``day`` an ordinary day again; False if it was not a holiday."""
    holiday = session.get(Holiday, day)
    if holiday is None:
        return False
    session.delete(holiday)
    session.flush()
    return True


def list_holidays(session: Session, year: int | None = None) -> list[Holiday]:
    """The holidays in day order, of one year if given."""
    query = select(Holiday).order_by(Holiday.day)
    if year is not None:
        query = query.where(Holiday.day.between(date(year, 1, 1), date(year, 12, 31)))
    return list(session.scalars(query))
