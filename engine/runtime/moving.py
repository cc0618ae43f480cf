"""Moving a running workflow's state onto another version of its process.

A stored state names its task specs by name (the BPMN id, or ``verify.BoundaryEventSplit``
for the structure SpiffWorkflow adds), so it can be restored against a different spec that
still has those names: what spiff-arena calls a migration. SpiffWorkflow 3.2's own
``migrate_workflow`` resets every READY and WAITING branch, which gives waiting tasks new
predictions and restarts their timers from now; a ticket must keep its tasks (their ids are
in the inboxes and links) and its deadlines, so it is not used here.

The rules, in ``check``: every element the ticket waits at (a READY or WAITING task, in the
process or a subprocess) exists in the target with the same kind of element, the same lane,
the same kind of event (the same message, a timer still a timer of the same sort), a
boundary event attached to the same activity, and no new boundary event on an activity the
ticket is in; every element it already passed still exists (its history must restore).
Predictions beyond the waiting tasks are redrawn from the target where they differ.
"""

from __future__ import annotations

from collections.abc import Iterator
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from datetime import UTC
from datetime import datetime
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import CycleTimerEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.util.task import TaskState

from engine import clock
from engine.runtime.compile import _clean
from engine.runtime.compile import _properties
from engine.runtime.types import CompiledProcess

_FORM = "formJsonSchemaFilename"
_OPEN = TaskState.READY | TaskState.WAITING | TaskState.STARTED
_AHEAD = TaskState.FUTURE | TaskState.LIKELY | TaskState.MAYBE  # predictions
_SPLIT = ".BoundaryEventSplit"


@dataclass(frozen=True)
class Finding:
    """One reason a ticket cannot move, or one thing that changes for it when it moves.

    ``code`` names the rule (see ``describe``); ``element_id`` the element; ``before`` and
    ``after`` what the element was and is (a kind, a lane, a timer expression...).
    """

    code: str
    element_id: str
    before: str | None = None
    after: str | None = None


@dataclass(frozen=True)
class MoveCheck:
    """What moving one workflow state to a target process would do."""

    waiting: tuple[str, ...]  # element ids the ticket waits at, in tree order
    problems: tuple[Finding, ...]  # empty: movable
    changes: tuple[Finding, ...]  # what changes for the ticket (titles, forms, timers)

    @property
    def movable(self) -> bool:
        return not self.problems


@dataclass
class _Level:
    """One workflow of the state (the process, or one subprocess) and its two specs."""

    tasks: dict[str, dict[str, Any]]
    source: Any
    target: Any
    stale: list[str] = field(default_factory=list)  # open tasks whose predictions are redrawn
    recompute: list[str] = field(default_factory=list)  # timers whose expression changed


def describe(finding: Finding) -> str:
    """A finding in plain English (pages translate the codes themselves)."""
    e, before, after = finding.element_id, finding.before, finding.after
    texts = {
        "missing": f"waits at '{e}', which the target version does not have",
        "passed_missing": f"has passed '{e}', which the target version does not have",
        "kind_changed": f"'{e}' is a {before} here and a {after} in the target version",
        "lane_changed": f"the lane of '{e}' changes from '{before}' to '{after}'",
        "event_changed": f"'{e}' waits for a {before} here and for a {after} in the target",
        "message_changed": f"'{e}' waits for message '{before}' here and '{after}' in the target",
        "boundary_moved": f"'{e}' is attached to '{before}' here and to '{after}' in the target",
        "boundary_added": f"the target attaches '{e}' to '{before}', where the ticket already is",
        "cycle_changed": f"the repeating timer '{e}' changes from {before} to {after}",
        "subprocess_missing": f"runs subprocess '{e}', which the target version does not have",
        "not_restored": f"the state does not restore against the target: {after}",
        "waiting_changed": f"the waiting tasks differ after the move ({before} / {after})",
        "timer_carried": f"timer '{e}' keeps its due time ({before})",
        "timer_recomputed": f"timer '{e}' is recomputed: {before} becomes {after}",
        "title_changed": f"task '{e}' is now called '{after}' (was '{before}')",
        "form_changed": f"task '{e}' now uses form '{after}' (was '{before}')",
    }
    return texts.get(finding.code, f"{finding.code}: {e}")


def check(source: CompiledProcess, target: CompiledProcess, dct: dict[str, Any]) -> MoveCheck:
    """Whether a state (a serializer dict) can move from ``source`` to ``target``, and why not."""
    return _examine(dct, source, target)[1]


def _examine(
    dct: dict[str, Any], source: CompiledProcess, target: CompiledProcess
) -> tuple[list[_Level], MoveCheck]:
    levels, problems = _levels(dct, source, target)
    waiting: list[str] = []
    changes: list[Finding] = []
    for level in levels:
        _check_level(level, waiting, problems, changes)
    found = MoveCheck(tuple(waiting), tuple(_unique(_plain(problems))), tuple(_unique(changes)))
    return levels, found


def _plain(problems: list[Finding]) -> list[Finding]:
    """Say a missing waiting element once: not also as passed (the structure SpiffWorkflow
    put before it) nor as the host its boundary events are no longer attached to."""
    missing = {p.element_id for p in problems if p.code == "missing"}
    return [
        p
        for p in problems
        if not (p.code == "passed_missing" and p.element_id in missing)
        and not (p.code == "boundary_moved" and p.before in missing)
    ]


def move(
    source: CompiledProcess,
    target: CompiledProcess,
    dct: dict[str, Any],
    *,
    restore: Any,
) -> tuple[Any, MoveCheck]:
    """The workflow restored against ``target`` and the check that allowed it.

    ``restore(dct, process)`` turns a state dict into a workflow (the runtime's serializer).
    Timers whose expression changed are recomputed from the moment their task was entered,
    by SpiffWorkflow's own timer code, at the process clock of that moment; the others keep
    their stored due time. Raises ``NotMovable`` with the check when the rules refuse.
    """
    levels, result = _examine(dct, source, target)
    if not result.movable:
        raise NotMovable(result)
    before = _open_ids(dct)
    for level in levels:
        for guid in level.stale:
            _drop_descendants(level.tasks, guid)
    try:
        workflow = restore(dct, target)
        by_id = {str(t.id): t for t in _all_tasks(workflow)}
        for level in levels:
            for guid in level.stale:
                task = by_id[guid]
                task.task_spec._predict(task, mask=TaskState.PREDICTED_MASK | _AHEAD | task.state)
            for guid in level.recompute:
                _recompute_timer(by_id[guid])
    except (SpiffWorkflowException, KeyError, AttributeError, TypeError, ValueError) as exc:
        found = Finding("not_restored", "", None, _clean(str(exc)) or type(exc).__name__)
        raise NotMovable(MoveCheck(result.waiting, (found,), ())) from None
    after = {str(t.id) for t in _all_tasks(workflow) if t.state & _OPEN}
    if after != before:
        found = Finding("waiting_changed", "", str(len(before)), str(len(after)))
        raise NotMovable(MoveCheck(result.waiting, (found,), ()))
    return workflow, result


class NotMovable(Exception):
    """The rules refuse the move; ``check`` says why."""

    def __init__(self, check: MoveCheck) -> None:
        super().__init__("; ".join(describe(p) for p in check.problems))
        self.check = check


def _levels(
    dct: dict[str, Any], source: CompiledProcess, target: CompiledProcess
) -> tuple[list[_Level], list[Finding]]:
    levels = [_Level(dct["tasks"], source.spec, target.spec)]
    problems: list[Finding] = []
    for sub in dct.get("subprocesses", {}).values():
        name = sub.get("spec")
        old = source.subprocess_specs.get(name)
        new = target.subprocess_specs.get(name)
        if new is None or old is None:
            problems.append(Finding("subprocess_missing", str(name)))
            continue
        levels.append(_Level(sub["tasks"], old, new))
    return levels, problems


def _element_id(spec: Any, name: str) -> str:
    """The BPMN id of a task spec; for the structure SpiffWorkflow adds around an activity
    (``verify.BoundaryEventSplit``), the activity's."""
    found = spec.task_specs.get(name)
    return str(getattr(found, "bpmn_id", None) or name.split(".", 1)[0])


def _check_level(
    level: _Level, waiting: list[str], problems: list[Finding], changes: list[Finding]
) -> None:
    tasks, old_specs, new_specs = level.tasks, level.source.task_specs, level.target.task_specs
    for guid, task in tasks.items():
        name, state = task["task_spec"], task["state"]
        parent = tasks.get(task["parent"]) if task["parent"] else None
        if state & TaskState.FINISHED_MASK:
            if name not in new_specs:
                problems.append(Finding("passed_missing", _element_id(level.source, name)))
            continue
        # A prediction under a finished task is where the process goes next, as good as open.
        if state & _AHEAD and parent is not None and not parent["state"] & TaskState.FINISHED_MASK:
            continue
        old, new = old_specs.get(name), new_specs.get(name)
        element_id = _element_id(level.source, name)
        if state & _OPEN and getattr(old, "bpmn_id", None):
            waiting.append(element_id)
        if new is None:
            problems.append(Finding("missing", element_id))
            continue
        found = _compare(level, guid, task, old, new, element_id)
        problems.extend(f for f in found if f.code not in _CHANGES)
        changes.extend(f for f in found if f.code in _CHANGES)
        if _predictions_differ(tasks, guid, new_specs):
            level.stale.append(guid)


_CHANGES = {"timer_carried", "timer_recomputed", "title_changed", "form_changed"}


def _compare(
    level: _Level, guid: str, task: dict[str, Any], old: Any, new: Any, element_id: str
) -> list[Finding]:
    found: list[Finding] = []
    old_kind, new_kind = type(old).__name__, type(new).__name__
    if old_kind != new_kind:
        return [Finding("kind_changed", element_id, old_kind, new_kind)]
    old_lane, new_lane = getattr(old, "lane", None), getattr(new, "lane", None)
    if getattr(old, "manual", False) and (old_lane or None) != (new_lane or None):
        found.append(Finding("lane_changed", element_id, old_lane or "-", new_lane or "-"))
    if (old.bpmn_name or "") != (new.bpmn_name or "") and getattr(new, "manual", False):
        found.append(Finding("title_changed", element_id, old.bpmn_name, new.bpmn_name))
    old_form, new_form = _properties(old).get(_FORM), _properties(new).get(_FORM)
    if old_form != new_form:
        found.append(Finding("form_changed", element_id, old_form, new_form))
    found.extend(_compare_event(level, guid, task, old, new, element_id))
    if old_kind == "BoundaryEvent":
        old_host, new_host = _host(level.source, old.name), _host(level.target, new.name)
        if old_host != new_host:
            found.append(Finding("boundary_moved", element_id, old_host, new_host or "-"))
    parent = level.tasks.get(task["parent"]) if task["parent"] else None
    if parent is not None and parent["task_spec"].endswith(_SPLIT):
        split = parent["task_spec"]
        had = {s.name for s in level.source.task_specs[split].outputs}
        target_split = level.target.task_specs.get(split)
        has = {s.name for s in target_split.outputs} if target_split is not None else set()
        host = split.removesuffix(_SPLIT)
        for added in sorted(has - had):
            found.append(Finding("boundary_added", _element_id(level.target, added), host))
    return found


def _compare_event(
    level: _Level, guid: str, task: dict[str, Any], old: Any, new: Any, element_id: str
) -> list[Finding]:
    old_def: Any = getattr(old, "event_definition", None)
    new_def: Any = getattr(new, "event_definition", None)
    if old_def is None and new_def is None:
        return []
    old_kind, new_kind = type(old_def).__name__, type(new_def).__name__
    if old_kind != new_kind:
        return [Finding("event_changed", element_id, _event_word(old_kind), _event_word(new_kind))]
    if isinstance(old_def, MessageEventDefinition) and old_def.name != new_def.name:
        return [Finding("message_changed", element_id, old_def.name, new_def.name)]
    if not isinstance(old_def, TimerEventDefinition) or task["state"] != TaskState.WAITING:
        return []
    due = (task.get("internal_data") or {}).get("event_value")
    shown = due if isinstance(due, str) else None
    if (old_def.expression or "") == (new_def.expression or ""):
        return [Finding("timer_carried", element_id, shown)]
    if isinstance(old_def, CycleTimerEventDefinition):
        return [Finding("cycle_changed", element_id, old_def.expression, new_def.expression)]
    level.recompute.append(guid)
    return [Finding("timer_recomputed", element_id, old_def.expression, new_def.expression)]


def _event_word(kind: str) -> str:
    return kind.removesuffix("EventDefinition").replace("Timer", " timer").strip().lower()


def _host(process_spec: Any, event_name: str) -> str | None:
    for spec in process_spec.task_specs.values():
        if spec.name.endswith(_SPLIT) and any(o.name == event_name for o in spec.outputs):
            return str(spec.name.removesuffix(_SPLIT))
    return None


def _predictions_differ(tasks: Mapping[str, Any], guid: str, new_specs: Mapping[str, Any]) -> bool:
    """Whether the predictions under an open task are not what the target would draw."""
    for task in _descendants(tasks, guid, include_self=True):
        spec = new_specs.get(task["task_spec"])
        if spec is None:
            return True
        children = [tasks[c] for c in task["children"] if c in tasks]
        if children and {c["task_spec"] for c in children} != {o.name for o in spec.outputs}:
            return True
    return False


def _descendants(
    tasks: Mapping[str, Any], guid: str, *, include_self: bool = False
) -> Iterator[dict[str, Any]]:
    stack = [guid] if include_self else list(tasks[guid]["children"])
    while stack:
        current = tasks.get(stack.pop())
        if current is None:
            continue
        yield current
        stack.extend(current["children"])


def _drop_descendants(tasks: dict[str, dict[str, Any]], guid: str) -> None:
    for task in list(_descendants(tasks, guid)):
        tasks.pop(task["id"], None)
    tasks[guid]["children"] = []


def _open_ids(dct: Mapping[str, Any]) -> set[str]:
    found = {g for g, t in dct["tasks"].items() if t["state"] & _OPEN}
    for sub in dct.get("subprocesses", {}).values():
        found |= {g for g, t in sub["tasks"].items() if t["state"] & _OPEN}
    return found


def _all_tasks(workflow: Any) -> list[Any]:
    tasks = list(workflow.tasks.values())
    for sub in workflow.subprocesses.values():
        tasks.extend(sub.tasks.values())
    return tasks


def _recompute_timer(task: Any) -> None:
    """Compute a timer's due time again, as SpiffWorkflow did when the task was entered."""
    entered = datetime.fromtimestamp(task.last_state_change, UTC)
    task.internal_data.pop("event_value", None)
    task.internal_data.pop("event_fired", None)
    with clock.frozen_at(entered):
        task.task_spec.event_definition.has_fired(task)


def _unique(findings: list[Finding]) -> list[Finding]:
    seen: dict[Finding, None] = {}
    for f in findings:
        seen.setdefault(f, None)
    return list(seen)
