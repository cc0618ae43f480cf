"""The stored state of an instance: compact, without the spec, and old states still load."""

from __future__ import annotations

import json
import zlib
from typing import Any

from engine import calendar
from engine import clock
from engine import definitions
from engine.runtime import Instance
from engine.runtime.state import is_compact
from tests.workflows.driver import CALENDAR
from tests.workflows.driver import bundle
from tests.workflows.driver import wib

AT = wib(2026, 11, 23)
START = {
    "ticket": "LK-TEST0001",
    "kind": "complaint",
    "category": "jalan_rusak",
    "infrastructure": True,
    "kecamatan": None,
}


def started() -> Instance:
    with clock.frozen_at(AT), calendar.using_calendar(CALENDAR):
        return definitions.get_runtime().start(bundle().processes["complaint"], START)


def definite(instance: Instance) -> dict[str, tuple[str, int, dict[str, Any], dict[str, Any]]]:
    """Every task that is not a prediction: id -> (element, state, data, internal data)."""
    return {
        str(t.id): (t.task_spec.name, t.state, t.data, t.internal_data)
        for t in instance.workflow.get_tasks()
        if t.state >= 4  # FUTURE and after
    }


def verify_guid(instance: Instance) -> str:
    return next(t.guid for t in instance.ready_tasks() if t.element_id == "verify")


def test_state_at_verification_is_compact_and_small() -> None:
    state = definitions.get_runtime().dump(started())
    dct = json.loads(zlib.decompress(state))
    assert is_compact(dct)
    assert "spec" not in dct
    assert "typename" not in zlib.decompress(state).decode()
    assert len(state) <= 1024


def test_restored_instance_has_the_same_tasks_data_and_waiting_timer() -> None:
    runtime = definitions.get_runtime()
    process = bundle().processes["complaint"]
    instance = started()
    restored = runtime.load(process, runtime.dump(instance))
    assert definite(restored) == definite(instance)
    assert restored.workflow.last_task.id == instance.workflow.last_task.id
    assert [(t.guid, t.due_at) for t in restored.waiting_timers()] == [
        (t.guid, t.due_at) for t in instance.waiting_timers()
    ]
    assert restored.workflow.script_engine is runtime.script_engine  # the sandboxed one
    assert len(restored.workflow.get_tasks()) == len(instance.workflow.get_tasks())


def test_restored_instance_runs_on_like_the_original() -> None:
    runtime = definitions.get_runtime()
    process = bundle().processes["complaint"]
    original = started()
    restored = runtime.load(process, runtime.dump(original))
    for instance in (original, restored):
        with clock.frozen_at(AT), calendar.using_calendar(CALENDAR):
            instance.complete_task(verify_guid(instance), {"decision": "route"})
    assert [t.element_id for t in restored.ready_tasks()] == [
        t.element_id for t in original.ready_tasks()
    ]
    assert restored.data == original.data
    again = runtime.load(process, runtime.dump(restored))
    assert definite(again) == definite(restored)


def test_a_state_stored_in_spiffworkflows_format_still_loads_and_runs() -> None:
    runtime = definitions.get_runtime()
    process = bundle().processes["complaint"]
    instance = started()
    old = zlib.compress(runtime._serializer.serialize_json(instance.workflow).encode(), 6)
    assert not is_compact(json.loads(zlib.decompress(old)))
    restored = runtime.load(process, old)
    assert definite(restored) == definite(instance)
    with clock.frozen_at(AT), calendar.using_calendar(CALENDAR):
        restored.complete_task(verify_guid(instance), {"decision": "route"})
    assert [t.element_id for t in restored.ready_tasks()] == ["acknowledge"]
    assert is_compact(json.loads(zlib.decompress(runtime.dump(restored))))
