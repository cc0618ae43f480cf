"""An instance's own state in a compact form (rule 2: no spec, compressed).

SpiffWorkflow's serializer writes each task as a dict of ten named fields, most of them
defaults (``"triggered": false``, ``"internal_data": {}``, an empty delta, its own id again,
its parent's id although the parent lists it as a child, ``"typename": "Task"``). Here a task
is a short list: ``[id, spec, state, children]`` and, only when something is not a default, a
fifth item ``{"t": last_state_change, "r": triggered, "i": internal_data, "u": updates,
"x": deletions, "d": data}`` (the whole data where the task has none or no parent).

- Ids are 22 characters (URL-safe base64 of the UUID's 16 bytes). A predicted task (MAYBE,
  LIKELY) has none (null): it gets a new one when restored, as SpiffWorkflow gives it a new one
  whenever it predicts again.
- Children are positions in the task list, which keeps ``workflow.tasks``' order, so restored
  workflows iterate their tasks as before.
- The time most tasks share is written once (``T``).
- Task data is delta-encoded against the parent as SpiffWorkflow's ``TaskConverter`` does
  (``DeepMerge``), and values go through the serializer's registry, so dates and UUIDs in
  data survive.

A workflow with subprocesses (call activities, embedded subprocesses) is stored in
SpiffWorkflow's own format; ``is_compact`` tells the two apart when reading.
"""

from __future__ import annotations

import base64
from collections import Counter
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.deep_merge import DeepMerge
from SpiffWorkflow.util.task import TaskState

FORMAT = 1  # the ``L`` key: which compact format a state is in


class NotCompactable(Exception):
    """The workflow has parts the compact form does not cover (use SpiffWorkflow's format)."""


def is_compact(dct: dict[str, Any]) -> bool:
    return "L" in dct


def _uid(value: UUID) -> str:
    return base64.urlsafe_b64encode(value.bytes)[:22].decode()


def _from_uid(text: str) -> UUID:
    return UUID(bytes=base64.urlsafe_b64decode(text + "=="))


def to_compact(workflow: Any, registry: Any) -> dict[str, Any]:
    """The workflow's state as a compact dict (raise NotCompactable when it cannot be)."""
    if workflow.subprocesses:
        raise NotCompactable("subprocesses")
    tasks = workflow.tasks
    index = {task_id: i for i, task_id in enumerate(tasks)}
    times = Counter(t.last_state_change for t in tasks.values())
    common = times.most_common(1)[0][0] if times else 0
    rows: list[list[Any]] = []
    convert = registry.convert
    for position, task in enumerate(tasks.values()):
        children = [index.get(c, -1) for c in task._children]
        if any(child <= position for child in children):
            # restoring resolves data parent first, in list order
            raise NotCompactable("a child outside the task list or before its parent")
        # A predicted task's id is not kept: SpiffWorkflow drops and predicts such tasks anew
        # as it runs, nothing outside the workflow has seen it, and it takes most of the bytes.
        uid = None if task.state & TaskState.PREDICTED_MASK else _uid(task.id)
        row: list[Any] = [uid, task.task_spec.name, task.state, children]
        extra: dict[str, Any] = {}
        if task.last_state_change != common:
            extra["t"] = task.last_state_change
        if task.triggered:
            extra["r"] = True
        if task.internal_data:
            extra["i"] = convert(task.internal_data)
        parent = task.parent
        if parent is None or not task.data:
            if task.data or (parent is not None and parent.data):
                extra["d"] = convert(task.data)
        else:
            updates = DeepMerge.get_updated_keys(parent.data, task.data)
            if updates:
                extra["u"] = convert(updates)
            deletions = DeepMerge.get_deleted_keys(parent.data, task.data)
            if deletions:
                extra["x"] = deletions
        if extra:
            row.append(extra)
        rows.append(row)
    dct: dict[str, Any] = {"L": FORMAT, "T": common, "t": rows}
    root = index[workflow.task_tree.id]
    if root:
        dct["r"] = root
    if workflow.last_task is not None:
        dct["l"] = index[workflow.last_task.id]
    data = registry.clean(workflow.data)
    if data:
        dct["d"] = convert(data)
    if workflow.correlations:
        dct["c"] = workflow.correlations
    if not workflow.success:
        dct["s"] = False
    if workflow.completed:
        dct["k"] = True
    if workflow.bpmn_events:
        dct["e"] = convert(workflow.bpmn_events)
    return dct


def from_compact(
    dct: dict[str, Any],
    registry: Any,
    workflow_class: Any,
    spec: Any,
    subprocess_specs: Any,
    script_engine: Any,
) -> Any:
    """A workflow restored from ``to_compact``'s dict against the spec held in memory."""
    workflow = workflow_class(
        spec, subprocess_specs, script_engine=script_engine, deserializing=True
    )
    workflow.tasks = {}
    specs = spec.task_specs
    restore = registry.restore
    events = workflow.event_manager
    common = dct["T"]
    built: list[Task] = []
    for row in dct["t"]:
        task_spec = specs[row[1]]
        task = Task(workflow, task_spec, state=row[2], id=_from_uid(row[0]) if row[0] else None)
        task._children = row[3]  # positions until every task exists
        extra = row[4] if len(row) > 4 else {}
        task.last_state_change = extra.get("t", common)
        task.triggered = extra.get("r", False)
        task.internal_data = restore(extra["i"]) if "i" in extra else {}
        if "d" in extra:
            task.data = restore(extra["d"])
        built.append(task)
    for task in built:
        task._children = [built[i].id for i in task._children]
        for child_id in task._children:
            workflow.tasks[child_id]._parent = task.id
    for task, row in zip(built, dct["t"], strict=True):  # parents come before their children
        extra = row[4] if len(row) > 4 else {}
        parent = task.parent
        if parent is not None and "d" not in extra:
            data = DeepMerge.merge({}, parent.data)
            if "u" in extra:
                data.update(restore(extra["u"]))
            for key in extra.get("x", ()):
                data.pop(key, None)
            task.data = data
        if isinstance(task.task_spec, CatchingEvent) and task.has_state(TaskState.WAITING):
            events.add_task(task)
    workflow.task_tree = built[dct.get("r", 0)]
    workflow.success = dct.get("s", True)
    workflow.completed = dct.get("k", False)
    workflow.correlations = dct.get("c", {})
    workflow.last_task = built[dct["l"]] if "l" in dct else None
    workflow.data = restore(dct["d"]) if "d" in dct else {}
    workflow.bpmn_events = restore(dct["e"]) if "e" in dct else []
    return workflow
