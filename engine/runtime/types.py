"""What the runtime hands the rest of the engine: plain dataclasses and errors."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any


class DefinitionError(Exception):
    """A deployed file that cannot run; str() is one line naming file, line and element."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | str | None = None,
        element_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line or None
        self.element_id = element_id or None

    def __str__(self) -> str:
        where = self.file or "definition"
        if self.line:
            where += f":{self.line}"
        element = f" element '{self.element_id}':" if self.element_id else ""
        return f"{where}:{element} {self.message}".replace("\n", " ")


class DefinitionProblems(DefinitionError):
    """Every problem found in a deployed bundle; it reads as its first problem plus a count."""

    def __init__(self, problems: list[DefinitionError]) -> None:
        if not problems:
            raise ValueError("DefinitionProblems needs at least one problem")
        first = problems[0]
        super().__init__(
            first.message, file=first.file, line=first.line, element_id=first.element_id
        )
        self.problems = list(problems)

    def __str__(self) -> str:
        first = DefinitionError.__str__(self)
        if len(self.problems) == 1:
            return first
        return f"{first} (1 of {len(self.problems)} problems)"


class EngineError(Exception):
    """A script, expression or engine step failed while running an instance."""

    def __init__(self, message: str, *, element_id: str | None = None) -> None:
        super().__init__(message)
        self.element_id = element_id


class MissingData(EngineError):
    """An expression named data it was not given (known only at run time)."""


class TaskNotReady(Exception):
    """The task is not READY (already done, cancelled, or never existed)."""


@dataclass(frozen=True)
class Element:
    """What the engine knows about one BPMN element of a compiled process."""

    element_id: str
    name: str
    kind: str
    lane: str | None
    properties: Mapping[str, str]


@dataclass(frozen=True)
class CompiledProcess:
    key: str
    spec: Any
    subprocess_specs: Any
    elements: Mapping[str, Element]


@dataclass(frozen=True)
class CompiledDecision:
    """One DMN decision table of a deployed bundle, for deploy-time checks."""

    decision_id: str
    file: str | None
    engine: Any


@dataclass(frozen=True)
class ReadyTask:
    guid: str
    element_id: str
    title: str
    lane: str | None
    properties: Mapping[str, str]
    data: Mapping[str, Any]


@dataclass(frozen=True)
class WaitingTimer:
    guid: str
    element_id: str
    due_at: datetime
    attached_to: str | None  # guid of the task a boundary timer sits on
    properties: Mapping[str, str]


@dataclass(frozen=True)
class WaitingMessage:
    guid: str
    element_id: str
    message: str


@dataclass(frozen=True)
class Step:
    """An element the instance passed, with the data it changed."""

    guid: str
    element_id: str
    name: str
    kind: str
    properties: Mapping[str, str]
    delta: Mapping[str, Any]
