"""Drive workflows/ through the runtime without a database, saving and restoring after every step.

Each command runs at an explicit Jakarta time with the real Indonesian holidays, then the
instance is dumped and loaded again (like spiff-example-cli's save/restore), so every path
also proves the state survives serialization. Status, outcome and escalation level are
derived from the elements a command reached, exactly as engine.projection does.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import time
from functools import lru_cache
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema import FormatChecker

from engine import calendar
from engine import clock
from engine import definitions
from engine import projection
from engine.calendar import JAKARTA
from engine.calendar import WorkingCalendar
from engine.runtime import Instance
from engine.runtime import Step
from engine.settings import REPO_ROOT

WORKFLOWS = REPO_ROOT / "workflows"
CALENDAR = calendar.package_calendar((2025, 2026, 2027, 2028))  # Indonesian public holidays


def wib(year: int, month: int, day: int, hour: int = 9, minute: int = 0) -> datetime:
    """A Jakarta wall-clock time as aware UTC."""
    return datetime(year, month, day, hour, minute, tzinfo=JAKARTA).astimezone(UTC)


def end_of(year: int, month: int, day: int) -> datetime:
    """23:59:59 Jakarta time of a day: where a working-day deadline falls."""
    return datetime.combine(date(year, month, day), time(23, 59, 59), JAKARTA).astimezone(UTC)


@lru_cache(maxsize=1)
def bundle() -> definitions.Bundle:
    return definitions.compile_files(definitions.read_files(WORKFLOWS))


@dataclass
class Passed:
    at: datetime
    element_id: str
    properties: Mapping[str, str]
    delta: Mapping[str, Any]


@dataclass
class Ticket:
    instance: Instance
    status: str | None = None
    outcome: str | None = None
    escalation_level: int = 0
    passed: list[Passed] = field(default_factory=list)
    last: list[str] = field(default_factory=list)  # elements passed by the last command

    # -- commands ---------------------------------------------------------------------------

    @classmethod
    def start(
        cls,
        at: datetime,
        *,
        category: str = "jalan_rusak",
        infrastructure: bool = True,
        kecamatan: str | None = None,
        cal: WorkingCalendar = CALENDAR,
        **extra: Any,
    ) -> Ticket:
        process = bundle().processes["complaint"]
        data = {
            "ticket": "LK-TEST0001",
            "kind": "complaint",
            "category": category,
            "infrastructure": infrastructure,
            "kecamatan": kecamatan,
            **extra,
        }
        with clock.frozen_at(at), calendar.using_calendar(cal):
            instance = definitions.get_runtime().start(process, data)
        ticket = cls(instance)
        ticket._after(at, set(), cal)
        return ticket

    def complete(
        self,
        element_id: str,
        data: Mapping[str, Any],
        at: datetime,
        cal: WorkingCalendar = CALENDAR,
    ) -> list[str]:
        """Complete the one READY task of ``element_id`` with form data valid for its form."""
        matching = [t for t in self.instance.ready_tasks() if t.element_id == element_id]
        assert len(matching) == 1, (element_id, self.ready)
        task = matching[0]
        form = task.properties.get(definitions.FORM_PROPERTY)
        if form:
            errors = form_errors(form, data)
            assert not errors, errors
        else:
            assert not data
        return self._command(at, cal, lambda: self.instance.complete_task(task.guid, data))

    def message(
        self, name: str, payload: Mapping[str, Any], at: datetime, cal: WorkingCalendar = CALENDAR
    ) -> list[str]:
        delivered: list[bool] = []
        passed = self._command(
            at, cal, lambda: delivered.append(self.instance.send_message(name, dict(payload)))
        )
        assert delivered == [True], f"nothing waits for {name}"
        return passed

    def fire(self, at: datetime, cal: WorkingCalendar = CALENDAR) -> list[str]:
        """Fire every timer due at ``at`` (what one sweep does for this instance)."""
        return self._command(at, cal, self.instance.fire_due_timers)

    def _command(self, at: datetime, cal: WorkingCalendar, action: Callable[[], Any]) -> list[str]:
        before = self.instance.open_tasks()
        with clock.frozen_at(at), calendar.using_calendar(cal):
            action()
        return self._after(at, before, cal)

    def _after(self, at: datetime, before: set[str], cal: WorkingCalendar) -> list[str]:
        instance = self.instance
        reached: list[Step] = [*instance.steps, *instance.reached_since(before)]
        level: int | None = None
        for step in reached:
            self.status = step.properties.get("status") or self.status
            self.outcome = step.properties.get("outcome") or self.outcome
            level = projection.escalation_level_after(step, level, self.escalation_level)
        if level is not None:
            self.escalation_level = level
        self.last = [s.element_id for s in instance.steps]
        self.passed += [Passed(at, s.element_id, s.properties, s.delta) for s in instance.steps]
        instance.steps.clear()
        # save and restore after every step
        runtime = definitions.get_runtime()
        state = runtime.dump(instance)
        self.instance = runtime.load(instance.process, state)
        assert runtime.dump(self.instance) == state
        return self.last

    # -- what a projection would show -------------------------------------------------------

    @property
    def ready(self) -> dict[str, str | None]:
        """READY human tasks: element id -> candidate group (lanes bound from process data)."""
        return {
            t.element_id: definitions.lane_group(t.lane, t.data)
            for t in self.instance.ready_tasks()
        }

    @property
    def timers(self) -> dict[str, datetime]:
        """Waiting timers: element id -> due time."""
        return {t.element_id: t.due_at for t in self.instance.waiting_timers()}

    @property
    def messages(self) -> set[str]:
        return {m.message for m in self.instance.waiting_messages()}

    @property
    def due_at(self) -> datetime | None:
        """The ticket's due date: the earliest `deadline` timer on a READY task."""
        ready = {t.guid for t in self.instance.ready_tasks()}
        due = [
            t.due_at
            for t in self.instance.waiting_timers()
            if t.attached_to in ready and t.properties.get("deadline") == "true"
        ]
        return min(due) if due else None

    @property
    def completed(self) -> bool:
        return self.instance.completed

    @property
    def data(self) -> dict[str, Any]:
        return self.instance.data

    def clock_events(self, clock_name: str | None = None) -> list[tuple[str, str, datetime]]:
        """(clock, event, time) of every clock element passed, in order."""
        return [
            (p.properties["clock"], p.properties["clock_event"], p.at)
            for p in self.passed
            if "clock" in p.properties
            and (clock_name is None or p.properties["clock"] == clock_name)
        ]


def form_errors(form: str, data: Mapping[str, Any]) -> list[str]:
    schema = bundle().forms[form]
    validator = Draft202012Validator(schema, format_checker=FormatChecker())
    return [e.message for e in validator.iter_errors(dict(data))]
