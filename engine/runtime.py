"""The runtime adapter: the one module that imports SpiffWorkflow (DESIGN.md, layout).

It compiles deployed files into specs, starts, restores and stores workflows, and exposes
what the rest of the engine needs as plain dataclasses, so SpiffWorkflow's untyped surface
stays in this room.
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from typing import Any

import SpiffWorkflow.bpmn.specs.event_definitions.timer as _spiff_timer
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.script_engine import BasePythonScriptEngineEnvironment
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import CycleTimerEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.util import BpmnEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.parser.process import VALIDATOR
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.util.task import TaskState

from engine import clock
from engine import sandbox


class _ProcessClockDatetime(datetime):
    """SpiffWorkflow's timers call ``datetime.now(timezone.utc)``; answer with the process clock."""

    @classmethod
    def now(cls, tz: Any = None) -> Any:
        moment = clock.now()
        return moment.astimezone(tz) if tz is not None else moment.replace(tzinfo=None)


# Timers read the process clock (issue 3, "so a test can move time"): the timer module is
# the only place SpiffWorkflow asks for the time.
_spiff_timer.datetime = _ProcessClockDatetime


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


class EngineError(Exception):
    """A script, expression or engine step failed while running an instance."""

    def __init__(self, message: str, *, element_id: str | None = None) -> None:
        super().__init__(message)
        self.element_id = element_id


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


_ISO_LITERAL = re.compile(
    r"^(R\d*/)?(P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?"
    r"|\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:?\d{2})?)?)(/.*)?$"
)


class SandboxEnvironment(BasePythonScriptEngineEnvironment):  # type: ignore[misc]
    """Runs SpiffWorkflow's scripts and expressions through engine.sandbox."""

    def __init__(self, helpers: Callable[[], Mapping[str, Any]]) -> None:
        super().__init__({})
        self._helpers = helpers

    def evaluate(
        self,
        expression: str,
        context: dict[str, Any],
        external_context: Mapping[str, Any] | None = None,
    ) -> Any:
        return sandbox.evaluate(
            expression, {**(external_context or {}), **context}, self._helpers()
        )

    def execute(
        self,
        script: str,
        context: dict[str, Any],
        external_context: Mapping[str, Any] | None = None,
    ) -> bool:
        helpers = {**self._helpers(), **(external_context or {})}
        clash = sandbox.shadowed_helpers(context, helpers)
        if clash:
            raise sandbox.SandboxError(f"task data hides helper names: {sorted(clash)}")
        sandbox.execute(script, context, helpers)
        return True

    def call_service(self, context: Any, **kwargs: Any) -> Any:
        raise sandbox.SandboxError("service tasks are not supported")


class Runtime:
    """Compiles, starts, restores and stores workflows with one sandboxed script engine."""

    def __init__(self, helpers: Callable[[], Mapping[str, Any]] = dict) -> None:
        self.script_engine = PythonScriptEngine(environment=SandboxEnvironment(helpers))
        config = dict(SPIFF_CONFIG)
        config[BpmnWorkflow] = _SpeclessWorkflowConverter
        self._serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(config))

    @property
    def serializer_version(self) -> str:
        return str(self._serializer.VERSION)

    # -- definitions -----------------------------------------------------------------------

    def compile_bundle(self, files: Mapping[str, str]) -> dict[str, CompiledProcess]:
        """Parse and check BPMN and DMN files; raise DefinitionError naming the first problem."""
        parser = SpiffBpmnParser(validator=VALIDATOR)
        for name in sorted(files):
            try:
                if name.endswith(".bpmn"):
                    parser.add_bpmn_str(files[name].encode(), filename=name)
                elif name.endswith(".dmn"):
                    parser.add_dmn_str(files[name].encode(), filename=name)
            except ValidationException as exc:
                raise _definition_error(exc, name) from None
            except Exception as exc:  # lxml syntax errors and the like
                raise DefinitionError(
                    _first_line(exc), file=name, line=getattr(exc, "lineno", None)
                ) from None
        processes: dict[str, CompiledProcess] = {}
        try:
            keys = parser.get_process_ids()
        except ValidationException as exc:
            raise _definition_error(exc, None) from None
        for key in keys:
            try:
                spec = parser.get_spec(key)
                subprocess_specs = parser.get_subprocess_specs(key)
            except ValidationException as exc:
                raise _definition_error(exc, None) from None
            except Exception as exc:
                raise DefinitionError(_first_line(exc), element_id=key) from None
            elements: dict[str, Element] = {}
            for process_spec in [spec, *subprocess_specs.values()]:
                for task_spec in process_spec.task_specs.values():
                    _quote_iso_literal(task_spec)
                    element = _element(task_spec)
                    if element is not None:
                        elements[element.element_id] = element
            processes[key] = CompiledProcess(key, spec, subprocess_specs, elements)
        return processes

    def expressions(self, process: CompiledProcess) -> list[tuple[str, str, str]]:
        """Every script and expression of a process as (element id, kind, source)."""
        found: list[tuple[str, str, str]] = []
        for process_spec in [process.spec, *process.subprocess_specs.values()]:
            for task_spec in process_spec.task_specs.values():
                found.extend(_expressions_of(task_spec))
        return found

    def file_of(self, process: CompiledProcess) -> str | None:
        return getattr(process.spec, "file", None)

    # -- instances -------------------------------------------------------------------------

    def start(self, process: CompiledProcess, data: Mapping[str, Any]) -> Instance:
        """Create an instance with start data and run it to its first wait."""
        wf = BpmnWorkflow(process.spec, process.subprocess_specs, script_engine=self.script_engine)
        wf.task_tree.set_data(**data)
        instance = Instance(wf, process)
        instance.run()
        return instance

    def load(self, process: CompiledProcess, state: bytes) -> Instance:
        """Restore an instance from stored state, reusing the cached spec."""
        dct = json.loads(zlib.decompress(state))
        self._serializer.migrate(dct)
        wf = self._serializer.from_dict(
            dct, spec=process.spec, subprocess_specs=process.subprocess_specs
        )
        wf.script_engine = self.script_engine  # a restored workflow gets a default, unsandboxed one
        return Instance(wf, process)

    def dump(self, instance: Instance) -> bytes:
        """The instance's own state as compressed JSON, without the spec."""
        text = self._serializer.serialize_json(instance.workflow)
        return zlib.compress(text.encode(), 6)

    def evaluate(self, expression: str, data: Mapping[str, Any]) -> Any:
        """Evaluate one expression in the sandbox (used by deploy checks)."""
        return self.script_engine.environment.evaluate(expression, dict(data))


class Instance:
    """One running workflow; records the elements it passes for audit and status."""

    def __init__(self, workflow: Any, process: CompiledProcess) -> None:
        self.workflow = workflow
        self.process = process
        self.steps: list[Step] = []

    @property
    def completed(self) -> bool:
        return bool(self.workflow.is_completed())

    @property
    def data(self) -> dict[str, Any]:
        """The data of the most recently finished task (the instance's current view)."""
        last = self.workflow.last_task
        if self.workflow.is_completed():
            return dict(self.workflow.data)
        return dict(last.data) if last is not None else dict(self.workflow.task_tree.data)

    def run(self) -> None:
        """Run engine steps until every path waits."""
        try:
            self.workflow.do_engine_steps(did_complete_task=self._record)
        except SpiffWorkflowException as exc:
            raise _engine_error(exc) from None

    def ready_tasks(self) -> list[ReadyTask]:
        tasks = self.workflow.get_tasks(state=TaskState.READY, manual=True)
        return [
            ReadyTask(
                str(t.id),
                t.task_spec.bpmn_id,
                t.task_spec.bpmn_name or t.task_spec.bpmn_id,
                t.task_spec.lane,
                _properties(t.task_spec),
                t.data,
            )
            for t in tasks
        ]

    def waiting_timers(self) -> list[WaitingTimer]:
        timers = []
        for t in self.workflow.get_tasks(state=TaskState.WAITING):
            definition = getattr(t.task_spec, "event_definition", None)
            if not isinstance(definition, TimerEventDefinition):
                continue
            value = definition.details(t).value
            if isinstance(definition, CycleTimerEventDefinition) and isinstance(value, dict):
                continue  # all cycles done
            if value is None:
                continue
            due = TimerEventDefinition.get_datetime(value) if isinstance(value, str) else value
            attached = None
            if t.parent is not None and t.parent.task_spec.name.endswith(".BoundaryEventSplit"):
                host = [
                    c
                    for c in t.parent.children
                    if c is not t
                    and getattr(c.task_spec, "bpmn_id", None) is not None
                    and not c.task_spec.name.endswith("BoundaryEventJoin")
                    and c.task_spec.manual
                ]
                attached = str(host[0].id) if host else None
            due = datetime.fromtimestamp(due.timestamp(), UTC)  # a plain datetime, not Spiff's
            timers.append(
                WaitingTimer(
                    str(t.id), t.task_spec.bpmn_id, due, attached, _properties(t.task_spec)
                )
            )
        return timers

    def waiting_messages(self) -> list[WaitingMessage]:
        found = []
        for t in self.workflow.get_tasks(state=TaskState.WAITING):
            definition = getattr(t.task_spec, "event_definition", None)
            if isinstance(definition, MessageEventDefinition):
                found.append(WaitingMessage(str(t.id), t.task_spec.bpmn_id, definition.name))
        return found

    def open_tasks(self) -> set[str]:
        """Guids of tasks that are ready or waiting (to find what a command newly reached)."""
        mask = TaskState.READY | TaskState.WAITING | TaskState.STARTED
        return {str(t.id) for t in self.workflow.get_tasks(state=mask)}

    def reached_since(self, before: set[str]) -> list[Step]:
        """Elements with properties that became ready or waiting after ``before`` was taken."""
        mask = TaskState.READY | TaskState.WAITING
        return [
            Step(
                str(t.id),
                t.task_spec.bpmn_id,
                t.task_spec.bpmn_name or "",
                type(t.task_spec).__name__,
                _properties(t.task_spec),
                {},
            )
            for t in self.workflow.get_tasks(state=mask)
            if str(t.id) not in before and getattr(t.task_spec, "bpmn_id", None)
        ]

    def complete_task(self, guid: str, data: Mapping[str, Any]) -> None:
        """Complete a READY manual task with form data, then run to the next wait."""
        task = self._task(guid)
        if task is None or task.state != TaskState.READY or not task.task_spec.manual:
            raise TaskNotReady(guid)
        task.set_data(**data)
        try:
            task.run()
        except SpiffWorkflowException as exc:
            raise _engine_error(exc) from None
        self._record(task)
        self.run()

    def send_message(self, name: str, payload: Any) -> bool:
        """Deliver a message to a waiting catch event; False if nothing waits for it."""
        for t in self.workflow.get_tasks(state=TaskState.WAITING):
            definition = getattr(t.task_spec, "event_definition", None)
            if isinstance(definition, MessageEventDefinition) and definition.name == name:
                try:
                    self.workflow.send_event(BpmnEvent(definition, payload))
                except SpiffWorkflowException as exc:
                    raise _engine_error(exc) from None
                self.run()
                return True
        return False

    def fire_due_timers(self) -> None:
        """Let timers due at the process clock fire, then run."""
        try:
            self.workflow.refresh_timers()
        except SpiffWorkflowException as exc:
            raise _engine_error(exc) from None
        self.run()

    def _task(self, guid: str) -> Any:
        from uuid import UUID

        try:
            return self.workflow.get_task_from_id(UUID(guid))
        except (ValueError, KeyError, SpiffWorkflowException):
            return None

    def _record(self, task: Any) -> None:
        element_id = getattr(task.task_spec, "bpmn_id", None)
        if not element_id:
            return
        parent = task.parent.data if task.parent is not None else {}
        delta: dict[str, Any] = {
            k: v for k, v in task.data.items() if k not in parent or parent[k] != v
        }
        removed = [k for k in parent if k not in task.data]
        if removed:
            delta = {**delta, "__removed__": removed}
        self.steps.append(
            Step(
                str(task.id),
                element_id,
                task.task_spec.bpmn_name or "",
                type(task.task_spec).__name__,
                _properties(task.task_spec),
                delta,
            )
        )


class TaskNotReady(Exception):
    """The task is not READY (already done, cancelled, or never existed)."""


class _SpeclessWorkflowConverter(BpmnWorkflowConverter):  # type: ignore[misc]
    """Stores only an instance's own state; the spec comes from the definition (rule 2)."""

    def to_dict(self, workflow: Any) -> dict[str, Any]:
        dct: dict[str, Any] = super(BpmnWorkflowConverter, self).to_dict(workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct: dict[str, Any], spec: Any = None, subprocess_specs: Any = None) -> Any:
        from uuid import UUID

        if spec is None:
            return super().from_dict(dct)
        workflow = self.target_class(spec, subprocess_specs, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


def _properties(task_spec: Any) -> Mapping[str, str]:
    extensions = getattr(task_spec, "extensions", None) or {}
    return dict(extensions.get("properties") or {})


def _element(task_spec: Any) -> Element | None:
    element_id = getattr(task_spec, "bpmn_id", None)
    if not element_id:
        return None
    return Element(
        element_id,
        task_spec.bpmn_name or element_id,
        type(task_spec).__name__,
        getattr(task_spec, "lane", None),
        _properties(task_spec),
    )


def _quote_iso_literal(task_spec: Any) -> None:
    """Standard modelers write ``P3D`` unquoted; SpiffWorkflow would evaluate it as a name."""
    definition = getattr(task_spec, "event_definition", None)
    if isinstance(definition, TimerEventDefinition):
        text = (definition.expression or "").strip()
        if _ISO_LITERAL.match(text):
            definition.expression = repr(text)


def _expressions_of(task_spec: Any) -> list[tuple[str, str, str]]:
    element_id = getattr(task_spec, "bpmn_id", None) or task_spec.name
    found: list[tuple[str, str, str]] = []
    script = getattr(task_spec, "script", None)
    if isinstance(script, str):
        found.append((element_id, "script", script))
    for attr in ("prescript", "postscript"):
        value = getattr(task_spec, attr, None)
        if isinstance(value, str) and value.strip():
            found.append((element_id, "script", value))
    for cond, _target in getattr(task_spec, "cond_task_specs", None) or []:
        if cond is not None and getattr(cond, "args", None):
            found.append((element_id, "condition", str(cond.args[0])))
    definition = getattr(task_spec, "event_definition", None)
    if isinstance(definition, TimerEventDefinition):
        found.append((element_id, type(definition).__name__, definition.expression or ""))
    if isinstance(definition, MessageEventDefinition):
        expression = getattr(definition, "expression", None)
        if expression:
            found.append((element_id, "condition", expression))
    engine = getattr(task_spec, "dmnEngine", None)
    if engine is not None:
        table = engine.decision_table
        for column in table.inputs:
            if column.expression:
                found.append((element_id, "condition", column.expression))
        for rule in table.rules:
            for entry in rule.outputEntries:
                if entry.text:
                    found.append((element_id, "condition", entry.text))
    return found


def _definition_error(exc: ValidationException, name: str | None) -> DefinitionError:
    message = str(exc.args[0]) if exc.args else str(exc)
    return DefinitionError(
        _clean(message),
        file=exc.file_name or name,
        line=getattr(exc, "line_number", None) or getattr(exc, "sourceline", None),
        element_id=getattr(exc, "id", None),
    )


def _engine_error(exc: SpiffWorkflowException) -> EngineError:
    task = getattr(exc, "task", None)
    element_id = getattr(getattr(task, "task_spec", None), "bpmn_id", None)
    return EngineError(_clean(str(exc)), element_id=element_id)


def _first_line(exc: BaseException) -> str:
    return _clean(str(exc)) or type(exc).__name__


def _clean(message: str) -> str:
    return " ".join(message.split())


def time_after(duration: str) -> str:
    """The process clock plus an ISO 8601 duration, as an ISO datetime (a script helper).

    Working-day deadlines come from ``working_deadline``; this one is for clock hours, such as
    an emergency's ``PT6H``, so that a script can store a due time for a ``timeDate`` timer.
    """
    now = clock.now()
    parsed = TimerEventDefinition.parse_iso_duration(duration)
    return str((now + TimerEventDefinition.get_timedelta_from_start(parsed, now)).isoformat())


def iso_timer_error(kind: str, value: Any) -> str | None:
    """Why a timer expression's value is not usable by its kind of timer, or None."""
    if not isinstance(value, str):
        return "a timer expression must give an ISO 8601 string"
    try:
        if kind == "DurationTimerEventDefinition":
            TimerEventDefinition.parse_iso_duration(value)
        elif kind == "TimeDateEventDefinition":
            if not isinstance(TimerEventDefinition.parse_time_or_duration(value), datetime):
                return "a date timer needs an ISO 8601 date-time"
        else:
            TimerEventDefinition.parse_iso_recurring_interval(value)
    except Exception:
        return f"not an ISO 8601 value for a {kind.removesuffix('EventDefinition')}"
    return None
