"""Deploying definitions: versions by content, running tickets stay on theirs, bad files refused."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from engine import commands
from engine import definitions
from engine.identity import Actor
from engine.models import Definition
from engine.models import DefinitionBundle
from engine.models import HumanTask
from engine.models import PendingTimer
from engine.models import ProcessInstance
from engine.models import Ticket
from engine.runtime import DefinitionError
from tests.conftest import NOW
from tests.conftest import WORKFLOWS
from tests.factories import ROAD
from tests.factories import open_task
from tests.factories import submit

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


VERIFY_TIMER = "<bpmn:timeDuration>working_days(3)</bpmn:timeDuration>"


def workflows(**changes: tuple[str, str]) -> dict[str, str]:
    """workflows/ as deployed by the fixtures, with complaint.bpmn edited (old -> new)."""
    files = definitions.read_files(WORKFLOWS)
    for old, new in changes.values():
        assert old in files["complaint.bpmn"], old
        files["complaint.bpmn"] = files["complaint.bpmn"].replace(old, new, 1)
    return files


def deploy(factory: sessionmaker[Session], files: dict[str, str]) -> definitions.DeployResult:
    with factory.begin() as session:
        return definitions.deploy(session, files, actor="test", now=NOW)


def definition_of(session: Session, number: str) -> Definition:
    return session.scalars(
        select(Definition)
        .join(ProcessInstance, ProcessInstance.definition_id == Definition.id)
        .join(Ticket, Ticket.id == ProcessInstance.ticket_id)
        .where(Ticket.number == number)
    ).one()


def live(factory: sessionmaker[Session]) -> tuple[int, int, int]:
    """(latest complaint version, its id, number of stored bundles)."""
    with factory() as session:
        latest = definitions.latest_definition(session, "complaint")
        bundles = session.scalar(select(func.count()).select_from(DefinitionBundle)) or 0
        return latest.version, latest.id, bundles


# A v2 whose route step fails: a ticket that ran on v2 could not be routed.
FAILING_ROUTE = (
    "<spiffworkflow:calledDecisionId>routing</spiffworkflow:calledDecisionId>",
    "<spiffworkflow:calledDecisionId>routing</spiffworkflow:calledDecisionId>"
    "<spiffworkflow:preScript>x = 1 / 0</spiffworkflow:preScript>",
)


def test_deploying_identical_content_is_not_a_new_version(session_factory):
    before = live(session_factory)
    result = deploy(session_factory, definitions.read_files(WORKFLOWS))
    assert not result.created
    assert result.versions == {"complaint": 1}
    assert live(session_factory) == before


def test_changed_content_is_version_2_and_new_tickets_take_it(session_factory):
    result = deploy(session_factory, workflows(name=('name="Verify complaint"', 'name="Verify"')))
    assert result.created
    assert result.versions == {"complaint": 2}
    number = submit(session_factory)
    with session_factory() as session:
        assert definition_of(session, number).version == 2
        assert open_task(session, number).title == "Verify"


def test_a_ticket_started_on_v1_keeps_running_on_v1_after_v2_is_deployed(session_factory, actors):
    old = submit(session_factory)
    assert deploy(session_factory, workflows(route=FAILING_ROUTE)).versions == {"complaint": 2}
    with session_factory.begin() as session:
        assert definition_of(session, old).version == 1
        commands.complete_task(
            session,
            task_id=open_task(session, old).id,
            actor=actors["verifikator"],
            data={"decision": "route"},
            now=NOW + timedelta(hours=1),
        )
    with session_factory() as session:
        ticket = session.scalars(select(Ticket).where(Ticket.number == old)).one()
        assert (ticket.status, ticket.opd) == ("dispatched", "dpupr")
        assert open_task(session, old).element_id == "acknowledge"
        assert definition_of(session, old).version == 1


def test_redeploying_v1_content_after_v2_does_not_add_a_version(session_factory):
    deploy(session_factory, workflows(route=FAILING_ROUTE))
    result = deploy(session_factory, definitions.read_files(WORKFLOWS))
    assert not result.created
    assert result.versions == {"complaint": 1}
    assert live(session_factory)[0] == 2


BROKEN = {
    "xml_syntax": (
        ('<bpmn:endEvent id="archived" name="Archived">', '<bpmn:endEvent id="archived" name='),
        None,
    ),
    "xsd_invalid_element": (
        ("<bpmn:incoming>flow_to_verify</bpmn:incoming>", "<bpmn:frobnicate id='frob' />"),
        None,
    ),
    "unknown_lane_group": (
        (
            '<bpmn:lane id="lane_verifier" name="verifier">',
            '<bpmn:lane id="lane_verifier" name="x">',
        ),
        "verify",
    ),
    "gateway_condition_syntax": (
        ('decision == "reject"', 'decision == = "reject"'),
        "verification_outcome",
    ),
    "timer_not_iso": (
        (
            VERIFY_TIMER,
            '<bpmn:timeDuration>"P3X"</bpmn:timeDuration>',
        ),
        "verification_overdue",
    ),
    "missing_form": (
        ('value="handle.schema.json"', 'value="nope.schema.json"'),
        "handle",
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_broken_bpmn_is_refused_with_one_line_and_the_live_version_stays(session_factory, case):
    edit, element_id = BROKEN[case]
    files = workflows(edit=edit)
    before = live(session_factory)
    with pytest.raises(DefinitionError) as error:
        deploy(session_factory, files)
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith("complaint.bpmn:")
    line = int(message.split(":")[1])
    assert error.value.line == line
    assert line > 1
    if element_id is not None:
        assert error.value.element_id == element_id
        assert f"'{element_id}'" in message
        assert f'id="{element_id}"' in files["complaint.bpmn"].splitlines()[line - 1]
    assert live(session_factory) == before
    submit(session_factory)  # new tickets still start on the live version


def test_the_xml_syntax_error_points_at_the_broken_line(session_factory):
    files = workflows(edit=BROKEN["xml_syntax"][0])
    with pytest.raises(DefinitionError) as error:
        deploy(session_factory, files)
    broken_line = next(
        n
        for n, text in enumerate(files["complaint.bpmn"].splitlines(), start=1)
        if '<bpmn:endEvent id="archived" name=' in text
    )
    assert error.value.line in (broken_line, broken_line + 1)


def test_a_file_that_is_not_xml_at_all_is_refused_naming_it(session_factory):
    before = live(session_factory)
    with pytest.raises(DefinitionError) as error:
        deploy(session_factory, {"notes.bpmn": "just some text"})
    assert "\n" not in str(error.value)
    assert str(error.value).startswith("notes.bpmn")
    assert live(session_factory) == before


def test_any_valid_bpmn_file_not_ours_deploys_as_its_own_process(session_factory):
    files = definitions.read_files(FIXTURES / "other.bpmn")
    before = live(session_factory)
    result = deploy(session_factory, files)
    assert result.created
    assert result.versions == {"permit_request": 1}
    with session_factory() as session:
        assert definitions.latest_definition(session, "permit_request").version == 1
        assert definitions.latest_definition(session, "complaint").id == before[1]
    # ...and it runs: start it and it waits at its user task
    with session_factory.begin() as session:
        result = commands.submit_ticket(
            session, data=ROAD, actor=Actor.public(), now=NOW, process_key="permit_request"
        )
        ticket = result.ticket
    with session_factory() as session:
        task = session.scalars(select(HumanTask).where(HumanTask.ticket_id == ticket.id)).one()
        assert task.element_id == "Task_review"


def test_an_unquoted_iso_duration_deploys_and_sets_the_timer_three_days_out(session_factory):
    deploy(
        session_factory,
        workflows(timer=(VERIFY_TIMER, "<bpmn:timeDuration>P3D</bpmn:timeDuration>")),
    )
    number = submit(session_factory)
    with session_factory() as session:
        timer = session.scalars(select(PendingTimer)).one()
        assert timer.element_id == "verification_overdue"
        assert timer.due_at == NOW + timedelta(days=3)
        assert open_task(session, number).due_at == NOW + timedelta(days=3)


@pytest.mark.parametrize("typo", ["P3X", "PT4Q", "P3"])
def test_an_unquoted_timer_typo_is_refused_at_deploy_not_at_every_intake(session_factory, typo):
    files = workflows(
        timer=(
            VERIFY_TIMER,
            f"<bpmn:timeDuration>{typo}</bpmn:timeDuration>",
        )
    )
    before = live(session_factory)
    with pytest.raises(DefinitionError) as error:
        deploy(session_factory, files)
    assert error.value.element_id == "verification_overdue"
    assert typo in str(error.value)
    assert "\n" not in str(error.value)
    assert live(session_factory) == before


def test_a_timer_naming_a_process_variable_still_deploys(session_factory):
    files = workflows(
        timer=(
            VERIFY_TIMER,
            "<bpmn:timeDuration>verification_period</bpmn:timeDuration>",
        )
    )
    assert deploy(session_factory, files).versions == {"complaint": 2}
