"""One running workflow and what commands ask of it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC
from datetime import datetime
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import CycleTimerEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.util import BpmnEvent
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.util.task import TaskState

from engine.runtime.compile import _clean
from engine.runtime.compile import _properties
from engine.runtime.types import CompiledProcess
from engine.runtime.types import EngineError
from engine.runtime.types import ReadyTask
from engine.runtime.types import Step
from engine.runtime.types import TaskNotReady
from engine.runtime.types import WaitingMessage
from engine.runtime.types import WaitingTimer


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
        # Signals and messages nobody in this instance caught would pile up in the stored state;
        # tickets do not signal each other, so they are dropped (the audit has the throw).
        self.workflow.get_events()

    def _tasks(self, mask: int) -> list[Any]:
        """The tasks in one of the ``mask`` states, in ``get_tasks``' order (depth first).

        A plain walk of the tree: SpiffWorkflow's iterator costs a filter object and several
        calls per task, and the commands ask for open tasks a few times each. A workflow with
        subprocesses (whose tasks the iterator also visits) goes through ``get_tasks``.
        """
        workflow = self.workflow
        if workflow.subprocesses:
            return list(workflow.get_tasks(state=mask))
        tasks = workflow.tasks
        found = []
        stack = [workflow.task_tree]
        while stack:
            task = stack.pop()
            state = task._state
            if state & mask:
                found.append(task)
            if task._children and state >= TaskState.FUTURE:  # under a prediction: predictions
                stack.extend(tasks[c] for c in reversed(task._children))
        return found

    def ready_tasks(self) -> list[ReadyTask]:
        tasks = [t for t in self._tasks(TaskState.READY) if t.task_spec.manual]
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
        for t in self._tasks(TaskState.WAITING):
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
        for t in self._tasks(TaskState.WAITING):
            definition = getattr(t.task_spec, "event_definition", None)
            if isinstance(definition, MessageEventDefinition):
                found.append(WaitingMessage(str(t.id), t.task_spec.bpmn_id, definition.name))
        return found

    def open_tasks(self) -> set[str]:
        """Guids of tasks that are ready or waiting (to find what a command newly reached)."""
        mask = TaskState.READY | TaskState.WAITING | TaskState.STARTED
        return {str(t.id) for t in self._tasks(mask)}

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
            for t in self._tasks(mask)
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


def _engine_error(exc: SpiffWorkflowException) -> EngineError:
    task = getattr(exc, "task", None)
    element_id = getattr(getattr(task, "task_spec", None), "bpmn_id", None)
    return EngineError(_clean(str(exc)), element_id=element_id)
