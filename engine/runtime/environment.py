"""SpiffWorkflow wired to LAKSA: the process clock, the sandbox, a spec-less serializer."""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import SpiffWorkflow.bpmn.specs.event_definitions.timer as _spiff_timer
import SpiffWorkflow.task as _spiff_task
from SpiffWorkflow.bpmn.script_engine import BasePythonScriptEngineEnvironment
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter

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


class _ProcessClockTime:
    """Tasks stamp their state changes with ``time.time()``; stamp them with the process clock,
    so a timer's task tells when the ticket entered it (moving a ticket to another version
    recomputes a changed timer from that moment)."""

    @staticmethod
    def time() -> float:
        return clock.now().timestamp()


_spiff_task.time = _ProcessClockTime


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


class SpeclessWorkflowConverter(BpmnWorkflowConverter):  # type: ignore[misc]
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
