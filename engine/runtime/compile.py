"""Compiling deployed BPMN and DMN files into specs, and what deploy checks in them."""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.dmn.engine.DMNEngine import DMNEngine
from SpiffWorkflow.spiff.parser.process import VALIDATOR
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser

from engine import clock
from engine.definition_files import parse_xml
from engine.runtime.types import CompiledDecision
from engine.runtime.types import CompiledProcess
from engine.runtime.types import DefinitionError
from engine.runtime.types import Element
from engine.runtime.types import EngineError
from engine.runtime.types import MissingData

_ISO_LITERAL = re.compile(
    r"^(R\d*/)?(P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?"
    r"|\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:?\d{2})?)?)(/.*)?$"
)


def compile_bundle(
    files: Mapping[str, str], trees: Mapping[str, etree._Element] | None = None
) -> dict[str, CompiledProcess]:
    """Parse and check BPMN and DMN files; raise DefinitionError naming the first problem.

    ``trees`` are files already parsed by ``definition_files.parse_xml``; any other file is
    parsed by it here: SpiffWorkflow never parses text itself.
    """
    parser = SpiffBpmnParser(validator=VALIDATOR)
    for name in sorted(files):
        try:
            if name.endswith(".bpmn"):
                parser.add_bpmn_xml(_tree(files, name, trees), filename=name)
            elif name.endswith(".dmn"):
                parser.add_dmn_xml(_tree(files, name, trees), filename=name)
        except ValidationException as exc:
            raise _definition_error(exc, name) from None
        except DefinitionError:
            raise
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


def compile_decisions(files: Mapping[str, str]) -> dict[str, CompiledDecision]:
    """The DMN decision tables of a bundle by decision id (files already checked by
    ``compile_bundle``)."""
    parser = SpiffBpmnParser(validator=VALIDATOR)
    decisions: dict[str, CompiledDecision] = {}
    for name in sorted(files):
        if not name.endswith(".dmn"):
            continue
        try:
            parser.add_dmn_xml(_tree(files, name, None), filename=name)
        except ValidationException as exc:
            raise _definition_error(exc, name) from None
    for decision_id, dmn_parser in parser.dmn_parsers.items():
        try:
            dmn_parser.parse()
        except ValidationException as exc:
            raise _definition_error(exc, dmn_parser.filename) from None
        table = dmn_parser.decision.decisionTables[0]
        decisions[decision_id] = CompiledDecision(
            decision_id, dmn_parser.filename, DMNEngine(table)
        )
    return decisions


def _tree(
    files: Mapping[str, str], name: str, trees: Mapping[str, etree._Element] | None
) -> etree._Element:
    """A fresh copy of the safely parsed tree (SpiffWorkflow's validator edits what it gets)."""
    tree = (trees or {}).get(name)
    if tree is None:
        return parse_xml(files[name], name)
    return copy.deepcopy(tree)


class _DecisionTask:
    """What SpiffWorkflow's DMNEngine reads from a task: data, spec name, workflow."""

    def __init__(self, decision: CompiledDecision, script_engine: Any, data: dict[str, Any]):
        self.data = data
        self.task_spec = SimpleNamespace(bpmn_name=decision.decision_id, bpmn_id=None)
        self.workflow = SimpleNamespace(
            script_engine=script_engine, spec=SimpleNamespace(file=decision.file)
        )
        self.workflow.top_workflow = self.workflow


def decide(
    decision: CompiledDecision, script_engine: Any, data: Mapping[str, Any]
) -> dict[str, Any]:
    """Evaluate a decision table through the (sandboxed) script engine, outside a workflow.

    Returns the outputs of the matching rule (lists of values for a COLLECT table), or {}
    when no rule matches. Raises MissingData if the table reads data not given, EngineError
    for any other failure.
    """
    task = _DecisionTask(decision, script_engine, dict(data))
    try:
        return dict(decision.engine.result(task))
    except Exception as exc:
        if _names_unknown(exc):
            raise MissingData(_first_line(exc), element_id=decision.decision_id) from None
        raise EngineError(_first_line(exc), element_id=decision.decision_id) from None


def _names_unknown(exc: BaseException | None) -> bool:
    seen = 0
    while exc is not None and seen < 20:
        if isinstance(exc, NameError) or getattr(exc, "error_type", None) == "NameError":
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


def expressions(process: CompiledProcess) -> list[tuple[str, str, str]]:
    """Every script and expression of a process as (element id, kind, source)."""
    found: list[tuple[str, str, str]] = []
    for process_spec in [process.spec, *process.subprocess_specs.values()]:
        for task_spec in process_spec.task_specs.values():
            found.extend(_expressions_of(task_spec))
    return found


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
