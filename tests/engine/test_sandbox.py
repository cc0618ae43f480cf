"""BPMN scripts run under RestrictedPython: escapes are refused at deploy or fail the command."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from engine import commands
from engine import definitions
from engine import sandbox
from engine.errors import WorkflowFailed
from engine.identity import Actor
from engine.models import AuditEvent
from engine.models import HumanTask
from engine.models import PendingTimer
from engine.models import ProcessInstance
from engine.models import Ticket
from engine.runtime import DefinitionError
from tests.conftest import NOW
from tests.conftest import WORKFLOWS
from tests.factories import ROAD
from tests.factories import submit

ESCALATE = "<bpmn:script>escalation_level = 1</bpmn:script>"
VERIFY_FORM = '<spiffworkflow:property name="formJsonSchemaFilename" value="verify.schema.json" />'
LATER = NOW + timedelta(days=4)  # past the verification deadline (3 working days)


def with_escalation_script(script: str) -> dict[str, str]:
    """workflows/ with the script task on the overdue-verification path replaced."""
    files = definitions.read_files(WORKFLOWS)
    assert ESCALATE in files["complaint.bpmn"]
    files["complaint.bpmn"] = files["complaint.bpmn"].replace(
        ESCALATE, f"<bpmn:script>{script}</bpmn:script>"
    )
    return files


def deploy(factory: sessionmaker[Session], files: dict[str, str]) -> None:
    with factory.begin() as session:
        assert definitions.deploy(session, files, actor="test", now=NOW).versions == {
            "complaint": 2
        }


def instance_of(session: Session, number: str) -> ProcessInstance:
    return session.scalars(
        select(ProcessInstance)
        .join(Ticket, Ticket.id == ProcessInstance.ticket_id)
        .where(Ticket.number == number)
    ).one()


def state(factory: sessionmaker[Session], number: str) -> tuple[Any, ...]:
    with factory() as session:
        instance = instance_of(session, number)
        ticket = session.get(Ticket, instance.ticket_id)
        assert ticket is not None
        return (
            instance.version,
            instance.state,
            instance.audit_seq,
            session.scalar(select(func.count()).select_from(AuditEvent)),
            tuple(session.scalars(select(PendingTimer.task_guid))),
            tuple(session.scalars(select(HumanTask.completed_at))),
            (ticket.status, ticket.escalation_level),
        )


@pytest.mark.parametrize(
    "script",
    ["__import__('os')", "x = ().__class__.__base__.__subclasses__()", "x = _secret"],
    ids=["dunder_import", "subclasses", "underscore_name"],
)
def test_an_escape_in_a_script_task_is_refused_at_deploy(session_factory, script):
    with session_factory() as session:
        live = definitions.latest_definition(session, "complaint").id
    with pytest.raises(DefinitionError) as error:
        deploy(session_factory, with_escalation_script(script))
    message = str(error.value)
    assert "sandbox" in message
    assert error.value.element_id == "escalate_verification"
    assert message.startswith("complaint.bpmn:")
    assert "\n" not in message
    with session_factory() as session:
        assert definitions.latest_definition(session, "complaint").id == live


def test_an_escape_in_a_gateway_condition_is_refused_at_deploy(session_factory):
    files = definitions.read_files(WORKFLOWS)
    files["complaint.bpmn"] = files["complaint.bpmn"].replace(
        'decision == "reject"', "__import__('os').system('true') == 0"
    )
    with pytest.raises(DefinitionError) as error:
        deploy(session_factory, files)
    assert "sandbox" in str(error.value)
    assert error.value.element_id == "verification_outcome"


@pytest.mark.parametrize(
    ("script", "complaint"),
    [
        ("x = open('/etc/passwd').read()", "open"),
        ("import os\nx = os.getcwd()", "import of 'os'"),
        ("import subprocess", "import of 'subprocess'"),
        ("x = getattr(escalation_level, '__class__')", "getattr"),
    ],
    ids=["open", "import_os", "import_subprocess", "getattr_dunder"],
)
def test_an_escape_that_compiles_fails_the_timer_command_and_writes_nothing(
    session_factory, script, complaint
):
    deploy(session_factory, with_escalation_script(script))
    number = submit(session_factory)
    before = state(session_factory, number)
    with session_factory() as session:
        instance_id = instance_of(session, number).id
        with pytest.raises(WorkflowFailed) as error:
            commands.fire_timers(session, instance_id=instance_id, now=LATER)
        session.rollback()
    assert complaint in str(error.value)
    assert error.value.element_id == "escalate_verification"
    assert state(session_factory, number) == before


def test_a_script_that_fails_while_starting_leaves_no_half_created_ticket(session_factory):
    files = definitions.read_files(WORKFLOWS)
    files["complaint.bpmn"] = files["complaint.bpmn"].replace(
        VERIFY_FORM,
        VERIFY_FORM
        + "</spiffworkflow:properties><spiffworkflow:preScript>"
        + "x = open('/etc/passwd').read()</spiffworkflow:preScript><spiffworkflow:properties>",
    )
    deploy(session_factory, files)
    with session_factory() as session:
        with pytest.raises(WorkflowFailed):
            commands.submit_ticket(session, data=ROAD, actor=Actor.public(), now=NOW)
        session.rollback()
    with session_factory() as session:
        for table in (Ticket, ProcessInstance, HumanTask, PendingTimer, AuditEvent):
            assert session.scalar(select(func.count()).select_from(table)) == 0, table


def test_an_allowed_module_still_works_in_a_script(session_factory):
    deploy(
        session_factory, with_escalation_script("import math\nescalation_level = math.ceil(0.5)")
    )
    number = submit(session_factory)
    with session_factory.begin() as session:
        commands.fire_timers(session, instance_id=instance_of(session, number).id, now=LATER)
    with session_factory() as session:
        ticket = session.scalars(select(Ticket).where(Ticket.number == number)).one()
        assert ticket.escalation_level == 1


def test_the_sandbox_itself_refuses_imports_open_and_dunders():
    with pytest.raises(sandbox.SandboxError, match="import of 'os'"):
        sandbox.execute("import os", {}, {})
    with pytest.raises(NameError):
        sandbox.execute("x = open('/etc/passwd')", {}, {})
    with pytest.raises(sandbox.SandboxError):
        sandbox.compile_script("x = ().__class__.__base__.__subclasses__()")
    with pytest.raises(sandbox.SandboxError):
        sandbox.compile_expression("__import__('os')")
    data: dict[str, Any] = {"a": 2}
    sandbox.execute("b = a * 21", data, {})
    assert data == {"a": 2, "b": 42}


def test_a_restored_workflow_runs_on_the_sandboxed_script_engine(session_factory):
    number = submit(session_factory)
    runtime = definitions.get_runtime()
    with session_factory() as session:
        row = instance_of(session, number)
        definition = session.get(definitions.Definition, row.definition_id)
        assert definition is not None
        process = definitions.bundle_for(session, definition).processes["complaint"]
        restored = runtime.load(process, row.state)
    assert restored.workflow.script_engine is runtime.script_engine
    for task in restored.workflow.get_tasks():
        assert task.workflow.script_engine is runtime.script_engine
    with pytest.raises(sandbox.SandboxError):
        restored.workflow.script_engine.environment.execute("import os", {})
