"""The deployed files themselves: statuses, outcomes, lanes, forms, timers."""

from __future__ import annotations

import json

from tests.workflows.driver import WORKFLOWS
from tests.workflows.driver import bundle

COLOURS = {"Menunggu": "red", "Proses": "yellow", "Selesai": "green"}


def elements():
    return bundle().processes["complaint"].elements.values()


def test_every_status_has_indonesian_and_english_labels_and_a_phase_colour():
    statuses = json.loads((WORKFLOWS / "statuses.json").read_text())
    used = {e.properties["status"] for e in elements() if "status" in e.properties}
    assert used == set(statuses)  # every status is reachable and every one reached is labelled
    for code, entry in statuses.items():
        assert entry["label"]["id"], code
        assert entry["label"]["en"], code
        assert COLOURS[entry["phase"]] == entry["colour"], code


def test_fixed_is_kept_apart_from_every_other_closure():
    ends = {e.element_id: e for e in elements() if e.kind == "EndEvent"}
    closures = {i: e.properties.get("outcome") for i, e in ends.items() if "status" in e.properties}
    assert closures == {
        "archived": "rejected",
        "forwarded": "forwarded",
        "duplicate": "duplicate",
        "closed_no_reply": "closed_no_reply",
        "confirmed": "fixed",
        "closed": "fixed",
    }
    statuses = json.loads((WORKFLOWS / "statuses.json").read_text())
    for element_id in closures:
        assert statuses[ends[element_id].properties["status"]]["open"] is False
    # end events of side branches close nothing
    for element_id, element in ends.items():
        if element_id not in closures:
            assert "outcome" not in element.properties


def test_lanes_are_desks_or_bound_to_the_routed_opd():
    lanes = {e.lane for e in elements() if e.kind in {"UserTask"}}
    assert lanes == {"verifier", "{opd}", "{opd}_head", "supervisor"}


def test_every_clock_element_names_its_clock_and_event():
    events = {
        (e.properties["clock"], e.properties["clock_event"])
        for e in elements()
        if "clock" in e.properties
    }
    for clock_name in ("verification", "acknowledgement", "resolution"):
        for event in ("start", "fulfil", "breach"):
            assert (clock_name, event) in events
    assert {("resolution", "pause"), ("resolution", "resume")} <= events


def test_every_element_and_flow_has_a_place_in_the_diagram():
    """The BPMNDI layout covers every flow node and sequence flow (bpmn-js, Camunda Modeler)."""
    import xml.etree.ElementTree as ET

    ns = {
        "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
        "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
    }
    root = ET.parse(WORKFLOWS / "complaint.bpmn").getroot()
    process = root.find("bpmn:process", ns)
    assert process is not None
    drawn = {e.get("bpmnElement") for e in root.iter() if e.tag.endswith(("BPMNShape", "BPMNEdge"))}
    skip = {"laneSet", "extensionElements"}
    modelled = {
        child.get("id")
        for child in process
        if child.tag.split("}")[1] not in skip and child.get("id") is not None
    }
    assert modelled - drawn == set()


def test_reviews_are_withdrawn_by_the_signal_thrown_when_handling_ends():
    by_id = {e.element_id: e for e in elements()}
    for review in ("head_review", "supervisor_review"):
        withdrawn = by_id[f"{review}_withdrawn"]
        assert withdrawn.kind == "BoundaryEvent"
    assert by_id["handling_ended"].kind == "IntermediateThrowEvent"
    assert by_id["acknowledge_reopened"].properties["status"] == "reopened"
