"""The runtime adapter: the one package that imports SpiffWorkflow (DESIGN.md, layout).

It compiles deployed files into specs, starts, restores and stores workflows, and exposes
what the rest of the engine needs as plain dataclasses (``engine.runtime.types``), so
SpiffWorkflow's untyped surface stays in this room.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable
from collections.abc import Mapping
from typing import Any

from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG

from engine.runtime import moving
from engine.runtime import state as compact
from engine.runtime.compile import compile_bundle
from engine.runtime.compile import compile_decisions
from engine.runtime.compile import decide
from engine.runtime.compile import expressions
from engine.runtime.compile import iso_timer_error
from engine.runtime.compile import time_after
from engine.runtime.environment import SandboxEnvironment
from engine.runtime.environment import SpeclessWorkflowConverter
from engine.runtime.instance import Instance
from engine.runtime.moving import Finding
from engine.runtime.moving import MoveCheck
from engine.runtime.moving import NotMovable
from engine.runtime.moving import describe
from engine.runtime.types import CompiledDecision
from engine.runtime.types import CompiledProcess
from engine.runtime.types import DefinitionError
from engine.runtime.types import DefinitionProblems
from engine.runtime.types import Element
from engine.runtime.types import EngineError
from engine.runtime.types import MissingData
from engine.runtime.types import ReadyTask
from engine.runtime.types import Step
from engine.runtime.types import TaskNotReady
from engine.runtime.types import WaitingMessage
from engine.runtime.types import WaitingTimer


class Runtime:
    """Compiles, starts, restores and stores workflows with one sandboxed script engine."""

    def __init__(self, helpers: Callable[[], Mapping[str, Any]] = dict) -> None:
        self.script_engine = PythonScriptEngine(environment=SandboxEnvironment(helpers))
        config = dict(SPIFF_CONFIG)
        config[BpmnWorkflow] = SpeclessWorkflowConverter
        self._serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(config))

    @property
    def serializer_version(self) -> str:
        return str(self._serializer.VERSION)

    # -- definitions -----------------------------------------------------------------------

    def compile_bundle(
        self, files: Mapping[str, str], trees: Mapping[str, Any] | None = None
    ) -> dict[str, CompiledProcess]:
        """Parse and check BPMN and DMN files; raise DefinitionError naming the first problem."""
        return compile_bundle(files, trees)

    def expressions(self, process: CompiledProcess) -> list[tuple[str, str, str]]:
        """Every script and expression of a process as (element id, kind, source)."""
        return expressions(process)

    def decisions(self, files: Mapping[str, str]) -> dict[str, CompiledDecision]:
        """The DMN decision tables of a bundle by decision id."""
        return compile_decisions(files)

    def decide(self, decision: CompiledDecision, data: Mapping[str, Any]) -> dict[str, Any]:
        """Evaluate a decision table in the sandbox (deploy checks); {} if no rule matches."""
        return decide(decision, self.script_engine, data)

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
        dct = self._decode(state)
        if compact.is_compact(dct):
            wf = compact.from_compact(
                dct,
                self._serializer.registry,
                BpmnWorkflow,
                process.spec,
                process.subprocess_specs,
                self.script_engine,
            )
            return Instance(wf, process)
        self._serializer.migrate(dct)
        return Instance(self._restore(dct, process), process)

    def check_move(
        self, source: CompiledProcess, target: CompiledProcess, state: bytes
    ) -> MoveCheck:
        """Whether an instance's state can move to another version of its process, and why."""
        return moving.check(source, target, self._state(state, source))

    def move(
        self, source: CompiledProcess, target: CompiledProcess, state: bytes
    ) -> tuple[Instance, MoveCheck]:
        """The instance restored against ``target`` and what changed for it (raise NotMovable
        saying why not)."""
        workflow, found = moving.move(
            source, target, self._state(state, source), restore=self._restore
        )
        return Instance(workflow, target), found

    @staticmethod
    def _decode(state: bytes) -> dict[str, Any]:
        dct: dict[str, Any] = json.loads(zlib.decompress(state))
        return dct

    def _state(self, state: bytes, process: CompiledProcess) -> dict[str, Any]:
        """The state as SpiffWorkflow's serializer dict (what moving a ticket reads)."""
        dct = self._decode(state)
        if compact.is_compact(dct):
            dct = self._serializer.to_dict(self.load(process, state).workflow)
        else:
            self._serializer.migrate(dct)
        return dct

    def _restore(self, dct: dict[str, Any], process: CompiledProcess) -> Any:
        wf = self._serializer.from_dict(
            dct, spec=process.spec, subprocess_specs=process.subprocess_specs
        )
        wf.script_engine = self.script_engine  # a restored workflow gets a default, unsandboxed one
        return wf

    def dump(self, instance: Instance) -> bytes:
        """The instance's own state as compressed JSON, without the spec: the compact form
        (``engine.runtime.state``), SpiffWorkflow's own for workflows with subprocesses."""
        workflow = instance.workflow
        try:
            text = json.dumps(
                compact.to_compact(workflow, self._serializer.registry), separators=(",", ":")
            )
        except compact.NotCompactable:
            text = self._serializer.serialize_json(workflow)
        return zlib.compress(text.encode(), 6)

    def evaluate(self, expression: str, data: Mapping[str, Any]) -> Any:
        """Evaluate one expression in the sandbox (used by deploy checks)."""
        return self.script_engine.environment.evaluate(expression, dict(data))


__all__ = [
    "CompiledDecision",
    "CompiledProcess",
    "DefinitionError",
    "DefinitionProblems",
    "Element",
    "EngineError",
    "Finding",
    "Instance",
    "MissingData",
    "MoveCheck",
    "NotMovable",
    "ReadyTask",
    "Runtime",
    "Step",
    "TaskNotReady",
    "WaitingMessage",
    "WaitingTimer",
    "describe",
    "iso_timer_error",
    "time_after",
]
