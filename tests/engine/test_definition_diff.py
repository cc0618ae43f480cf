"""What a new bundle changes against the running one, by element id (engine.definition_diff),
and the rules for definition files sent from outside (engine.definition_files)."""

from __future__ import annotations

import json
import re

import pytest

from engine import definitions
from engine.definition_diff import diff_bundles
from engine.definition_files import accepted
from engine.definition_files import bundle_name
from engine.definition_files import parse_xml
from engine.errors import InvalidInput
from engine.errors import TooLarge
from engine.runtime import DefinitionError
from tests.conftest import WORKFLOWS

FILES = definitions.read_files(WORKFLOWS)
BPMN = FILES["complaint.bpmn"]
TIMER_3 = "<bpmn:timeDuration>working_days(3)</bpmn:timeDuration>"


def changed(name: str, new_text: str) -> dict[str, list[str]]:
    diff = diff_bundles(FILES, {**FILES, name: new_text})
    return diff[name].as_json() if name in diff else {}


def replace_once(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


def test_verification_timer_from_3_to_2_working_days_changes_its_boundary_event_only():
    assert BPMN.index(TIMER_3) > BPMN.index('id="verification_overdue"')
    new = replace_once(BPMN, TIMER_3, TIMER_3.replace("(3)", "(2)"))

    diff = diff_bundles(FILES, {**FILES, "complaint.bpmn": new})

    assert {name: d.as_json() for name, d in diff.items()} == {
        "complaint.bpmn": {
            "added": [],
            "removed": [],
            "changed": ["verification_overdue"],
            "moved": [],
        }
    }
    (element,) = diff["complaint.bpmn"].changed
    assert element.kind == "boundaryEvent"
    assert element.name == "3 working days to verify"


def test_identical_files_have_no_diff():
    assert diff_bundles(FILES, dict(FILES)) == {}


def test_formatting_attribute_order_and_prefixes_are_not_changes():
    # Another modeler's output: prefix renamed, lines joined, attribute order reversed.
    other = BPMN.replace("xmlns:bpmn=", "xmlns:semantic=").replace("bpmn:", "semantic:")
    other = re.sub(r">\s+<", "><", other)
    other = other.replace(
        '<semantic:boundaryEvent id="verification_overdue" name="3 working days to verify" '
        'cancelActivity="false" attachedToRef="verify">',
        '<semantic:boundaryEvent attachedToRef="verify" cancelActivity="false" '
        'name="3 working days to verify" id="verification_overdue">',
    )
    assert 'attachedToRef="verify" cancelActivity="false"' in other

    assert changed("complaint.bpmn", other) == {}


def test_a_shape_moved_on_the_diagram_is_moved_not_changed():
    shape = re.search(
        r'<bpmndi:BPMNShape id="verify_di" bpmnElement="verify">\s*<dc:Bounds x="(\d+)"', BPMN
    )
    assert shape
    start = shape.start(1)
    moved = BPMN[:start] + str(int(shape.group(1)) + 40) + BPMN[shape.end(1) :]

    assert changed("complaint.bpmn", moved) == {
        "added": [],
        "removed": [],
        "changed": [],
        "moved": ["verify"],
    }


def test_extension_property_condition_and_flows_make_an_element_changed():
    status = replace_once(
        BPMN,
        '<spiffworkflow:property name="status" value="verification" />',
        '<spiffworkflow:property name="status" value="received" />',
    )
    assert changed("complaint.bpmn", status)["changed"] == ["verify"]

    condition = re.search(
        r'<bpmn:sequenceFlow id="(\w+)"[^>]*>\s*<bpmn:conditionExpression[^>]*>([^<]+)<', BPMN
    )
    assert condition
    flow, expression = condition.group(1), condition.group(2)
    new = BPMN.replace(expression, expression + " and True", 1)
    assert changed("complaint.bpmn", new)["changed"] == [flow]

    # A flow re-targeted: the flow and the elements whose incoming flows changed.
    retarget = replace_once(
        BPMN,
        '<bpmn:sequenceFlow id="flow_to_verify" sourceRef="received" '
        'targetRef="verification_clock_started" />',
        '<bpmn:sequenceFlow id="flow_to_verify" sourceRef="received" targetRef="verify" />',
    )
    assert "flow_to_verify" in changed("complaint.bpmn", retarget)["changed"]


def test_elements_added_and_removed_are_named():
    removed = re.sub(
        r'\s*<bpmn:endEvent id="verification_escalated".*?</bpmn:endEvent>',
        "",
        BPMN,
        count=1,
        flags=re.DOTALL,
    )
    added = replace_once(
        removed,
        "</bpmn:process>",
        '<bpmn:task id="new_task" name="A new task" /></bpmn:process>',
    )

    diff = diff_bundles(FILES, {**FILES, "complaint.bpmn": added})["complaint.bpmn"]

    assert [e.id for e in diff.added] == ["new_task"]
    assert diff.added[0].label == "A new task (new_task)"
    assert [e.id for e in diff.removed] == ["verification_escalated"]


def test_a_dmn_rule_changed_is_named_by_its_id():
    dmn = FILES["routing.dmn"]
    new = replace_once(dmn, '<text>"dlh"</text>', '<text>"dpupr"</text>')

    assert changed("routing.dmn", new) == {
        "added": [],
        "removed": [],
        "changed": ["rule_environment"],
        "moved": [],
    }


def test_forms_by_property_and_statuses_by_code():
    form = json.loads(FILES["forms/verify.schema.json"])
    form["properties"]["reason"]["maxLength"] = 10
    form["properties"]["note"] = {"type": "string"}
    form["required"] = [*form.get("required", []), "note"]
    statuses = json.loads(FILES["statuses.json"])
    statuses["received"]["colour"] = "yellow"
    statuses["court_hold"] = {"label": {"id": "Ditahan pengadilan", "en": "Held by a court"}}

    diff = diff_bundles(
        FILES,
        {
            **FILES,
            "forms/verify.schema.json": json.dumps(form),
            "statuses.json": json.dumps(statuses),
        },
    )

    assert diff["forms/verify.schema.json"].as_json() == {
        "added": ["note"],
        "removed": [],
        "changed": ["reason", "schema:required"],
        "moved": [],
    }
    assert diff["statuses.json"].as_json() == {
        "added": ["court_hold"],
        "removed": [],
        "changed": ["received"],
        "moved": [],
    }
    assert diff["statuses.json"].added[0].name == "Ditahan pengadilan"


def test_files_added_removed_or_unreadable_are_reported_whole_without_crashing():
    new = {k: v for k, v in FILES.items() if k != "resolution.dmn"}
    new["forms/extra.schema.json"] = '{"type": "object", "properties": {"a": {"type": "string"}}}'
    new["complaint.bpmn"] = "<bpmn:definitions"  # not XML

    diff = {name: d.as_json() for name, d in diff_bundles(FILES, new).items()}

    assert diff["forms/extra.schema.json"]["added"] == ["a", "schema:type"]
    assert "routing_decision" not in diff["resolution.dmn"]["added"]
    assert diff["resolution.dmn"]["removed"]  # every element of the file
    assert diff["complaint.bpmn"]["changed"] == ["complaint.bpmn"]


# -- definition files from outside -------------------------------------------------------------


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("complaint.bpmn", "complaint.bpmn"),
        ("routing.dmn", "routing.dmn"),
        ("statuses.json", "statuses.json"),
        ("verify.schema.json", "forms/verify.schema.json"),
        ("forms/verify.schema.json", "forms/verify.schema.json"),
    ],
)
def test_definition_file_names_take_their_place_in_the_bundle(sent, kept):
    assert bundle_name(sent) == kept


@pytest.mark.parametrize(
    "name",
    [
        "notes.txt",
        "package.json",
        "../complaint.bpmn",
        "/etc/passwd.bpmn",
        "a/b.bpmn",
        "forms/complaint.bpmn",
        "",
        ".hidden.bpmn",
        "forms/../x.schema.json",
    ],
)
def test_other_names_are_refused(name):
    with pytest.raises(InvalidInput):
        bundle_name(name)


def test_size_limits_and_newlines():
    with pytest.raises(TooLarge):
        accepted({"complaint.bpmn": "x" * (1024 * 1024 + 1)})
    with pytest.raises(TooLarge):
        accepted({f"p{i}.bpmn": "x" for i in range(101)})
    # A browser's CRLF reads as `laksa deploy` reads a file: the same content hash.
    assert accepted({"complaint.bpmn": BPMN.replace("\n", "\r\n")}) == {"complaint.bpmn": BPMN}


@pytest.mark.parametrize(
    "text",
    [
        '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>'
        "<definitions>&b;</definitions>",
        '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        "<definitions>&x;</definitions>",
        '<!doctype definitions SYSTEM "http://example.org/x.dtd"><definitions/>',
    ],
)
def test_dtds_and_entities_are_refused_before_parsing(text):
    with pytest.raises(DefinitionError, match="DOCTYPE or entity") as exc:
        parse_xml("evil.bpmn", text)
    assert exc.value.file == "evil.bpmn"
    assert exc.value.line == 1


def test_malformed_xml_names_its_line_and_a_foreign_root_is_refused():
    with pytest.raises(DefinitionError, match="not well-formed") as exc:
        parse_xml("complaint.bpmn", "<definitions>\n<process>\n</definitions>")
    assert exc.value.line == 3
    with pytest.raises(DefinitionError, match="not <definitions>"):
        parse_xml("complaint.bpmn", "<html><body/></html>")
