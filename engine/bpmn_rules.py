"""The BPMN 2.0.2 specification's own constraints that neither the XSD nor SpiffWorkflow checks.

Each problem names the section of the specification (OMG formal/13-12-09) it breaks, the file,
the line and the element. Every problem of every file is returned, not only the first.
"""

from __future__ import annotations

from collections.abc import Mapping

from lxml import etree

from engine.bpmn_model import ACTIVITIES
from engine.bpmn_model import BPMN_NS
from engine.bpmn_model import CONTAINERS
from engine.bpmn_model import EVENTS
from engine.bpmn_model import FLOW_NODES
from engine.bpmn_model import GATEWAYS
from engine.bpmn_model import Model
from engine.bpmn_model import is_true
from engine.bpmn_model import kind
from engine.bpmn_model import local_ref
from engine.runtime.types import DefinitionError

# Event definitions allowed per kind of event (§10.5.2-§10.5.4, tables of event types).
_TOP_LEVEL_START = {"message", "timer", "conditional", "signal"}
_EVENT_SUBPROCESS_START = _TOP_LEVEL_START | {"error", "escalation", "compensation"}
_END = {"message", "error", "escalation", "cancel", "compensation", "signal", "terminate"}
_CATCH = {"message", "timer", "conditional", "link", "signal"}
_THROW = {"message", "escalation", "compensation", "link", "signal"}
_BOUNDARY = {
    "message",
    "timer",
    "escalation",
    "error",
    "cancel",
    "compensation",
    "conditional",
    "signal",
}
_AFTER_EVENT_GATEWAY = {"message", "timer", "signal", "conditional"}
_DEFAULT_SECTION = {
    "exclusiveGateway": "10.6.2",
    "inclusiveGateway": "10.6.3",
    "complexGateway": "10.6.5",
}
_REFERENCES = (
    ("messageEventDefinition", "messageRef", "message", "10.5.5"),
    ("signalEventDefinition", "signalRef", "signal", "10.5.5"),
    ("errorEventDefinition", "errorRef", "error", "8.4.3"),
    ("escalationEventDefinition", "escalationRef", "escalation", "8.4.4"),
    ("receiveTask", "messageRef", "message", "10.3.3"),
    ("sendTask", "messageRef", "message", "10.3.3"),
    ("messageFlow", "messageRef", "message", "9.4"),
    ("participant", "processRef", "process", "9.3"),
)


def check_bundle(trees: Mapping[str, etree._Element]) -> list[DefinitionError]:
    """Every specification problem of the BPMN files of one deploy, by file then line."""
    process_ids = {
        process.get("id") or ""
        for tree in trees.values()
        for process in tree.iter(f"{{{BPMN_NS}}}process")
    }
    problems: list[DefinitionError] = []
    for name in sorted(trees):
        problems.extend(check_file(trees[name], name, process_ids=process_ids))
    return problems


def check_file(
    root: etree._Element, file: str, *, process_ids: set[str] | None = None
) -> list[DefinitionError]:
    """Every specification problem of one parsed BPMN file, in the order of its lines."""
    model = Model(root, file, process_ids or set())
    _unique_ids(model)
    _references(model)
    _sequence_flows(model)
    _message_flows(model)
    _lanes(model)
    for gateway in model.all(*GATEWAYS):
        _gateway(model, gateway)
    for activity in model.all(*ACTIVITIES):
        _activity(model, activity)
    for event in model.all(*EVENTS):
        _event(model, event)
    for container in model.all(*CONTAINERS):
        _process_level(model, container)
    return sorted(model.problems, key=lambda p: int(p.line or 0))


def _unique_ids(model: Model) -> None:
    for element in model.duplicates:
        first = model.by_id[element.get("id") or ""]
        model.problem(
            element,
            "8.3.1",
            f"id '{element.get('id')}' is already used on line {first.sourceline}; "
            "ids are unique within a file",
        )


def _references(model: Model) -> None:
    for element_kind, attribute, wanted, section in _REFERENCES:
        for element in model.all(element_kind):
            value = local_ref(element.get(attribute))
            if value is None:
                continue
            target = model.by_id.get(value)
            if target is None or kind(target) != wanted:
                found = _a(str(kind(target))) if target is not None else "nothing"
                model.problem(
                    element, section, f"{attribute} '{value}' must name {_a(wanted)}, not {found}"
                )
    for definition in model.all("messageEventDefinition"):
        process = model.process_of(definition)
        if (
            process is not None
            and is_true(process, "isExecutable")
            and not definition.get("messageRef")
        ):
            model.problem(
                definition, "10.5.5", "a message event of an executable process names its message"
            )
    for definition in model.all("compensateEventDefinition"):
        value = local_ref(definition.get("activityRef"))
        target = model.by_id.get(value or "")
        if value and (target is None or kind(target) not in ACTIVITIES):
            model.problem(
                definition, "10.5.5", f"activityRef '{value}' must name an activity to compensate"
            )
    for definition in model.all("timerEventDefinition"):
        given = [c for c in definition if kind(c) in ("timeDate", "timeDuration", "timeCycle")]
        if len(given) != 1:
            model.problem(
                definition,
                "10.5.5",
                "a timer has exactly one of timeDate, timeDuration or timeCycle "
                f"(found {len(given)})",
            )
    for call in model.all("callActivity"):
        called = local_ref(call.get("calledElement"))
        target = model.by_id.get(called or "")
        known = called in model.process_ids or (target is not None and "Task" in str(kind(target)))
        if not called or not known:
            model.problem(
                call,
                "10.3.6",
                f"calledElement '{called or ''}' names no process of this deploy",
            )


def _sequence_flows(model: Model) -> None:
    for flow in model.sequence_flows:
        container = flow.getparent()
        for attribute in ("sourceRef", "targetRef"):
            value = local_ref(flow.get(attribute))
            node = model.by_id.get(value or "")
            if node is None:
                model.problem(flow, "8.4.13", f"{attribute} '{value or ''}' names no element")
            elif kind(node) not in FLOW_NODES:
                model.problem(
                    flow,
                    "8.4.13",
                    f"{attribute} '{value}' is {_a(kind(node) or node.tag)}; a Sequence Flow "
                    "connects activities, events and gateways",
                )
            elif node.getparent() is not container:
                if model.process_of(node) is not model.process_of(flow):
                    model.problem(
                        flow,
                        "9.3",
                        f"{attribute} '{value}' is in another Pool; a Sequence Flow stays within "
                        "one process, between Pools use a Message Flow (§9.4)",
                    )
                else:
                    model.problem(
                        flow,
                        "10.3.5",
                        f"{attribute} '{value}' is on another process level; a Sequence Flow "
                        "does not cross the boundary of a Sub-Process",
                    )
    for node in model.all(*FLOW_NODES):
        node_id = node.get("id")
        for child in node:
            direction = kind(child)
            if direction not in ("incoming", "outgoing"):
                continue
            flow = model.by_id.get(local_ref(child.text) or "")
            end = "targetRef" if direction == "incoming" else "sourceRef"
            if flow is None or kind(flow) != "sequenceFlow" or local_ref(flow.get(end)) != node_id:
                model.problem(
                    child,
                    "8.4.13",
                    f"{direction} '{(child.text or '').strip()}' is not a Sequence Flow whose "
                    f"{end} is '{node_id}'",
                )


def _message_flows(model: Model) -> None:
    pools = {
        local_ref(p.get("processRef")) or "": p
        for p in model.all("participant")
        if p.get("processRef")
    }

    def pool_of(element: etree._Element) -> etree._Element | None:
        if kind(element) == "participant":
            return element
        process = model.process_of(element)
        return pools.get(process.get("id") or "") if process is not None else None

    for flow in model.all("messageFlow"):
        ends = []
        for attribute, allowed_events in (
            ("sourceRef", {"intermediateThrowEvent", "endEvent"}),
            ("targetRef", {"startEvent", "intermediateCatchEvent", "boundaryEvent"}),
        ):
            value = local_ref(flow.get(attribute))
            node = model.by_id.get(value or "")
            node_kind = kind(node) if node is not None else None
            if node is None:
                model.problem(flow, "9.4", f"{attribute} '{value or ''}' names no element")
            elif node_kind == "participant" or node_kind in ACTIVITIES | allowed_events:
                ends.append(node)
            else:
                model.problem(
                    flow,
                    "7.6.2",
                    f"{attribute} '{value}' is {_a(node_kind or node.tag)}, which a Message Flow "
                    "cannot connect (Table 7.4)",
                )
        if len(ends) == 2:
            source_pool, target_pool = pool_of(ends[0]), pool_of(ends[1])
            same_process = model.process_of(ends[0]) is not None and model.process_of(
                ends[0]
            ) is model.process_of(ends[1])
            if same_process or (source_pool is not None and source_pool is target_pool):
                model.problem(
                    flow,
                    "9.4",
                    "a Message Flow connects two different Pools; within one Pool use a "
                    "Sequence Flow",
                )


def _lanes(model: Model) -> None:
    for lane in model.all("lane"):
        process = model.process_of(lane)
        for reference in lane:
            if kind(reference) != "flowNodeRef":
                continue
            value = local_ref(reference.text)
            node = model.by_id.get(value or "")
            node_process = model.process_of(node) if node is not None else None
            if node is None or kind(node) not in FLOW_NODES or node_process is not process:
                model.problem(
                    reference,
                    "10.8",
                    f"flowNodeRef '{value or ''}' must name a flow node of the lane's process",
                )


def _a(word: str) -> str:
    return f"{'an' if word[:1].lower() in 'aeiou' else 'a'} {word}"


def _has_condition(flow: etree._Element) -> bool:
    return any(kind(c) == "conditionExpression" for c in flow)


def _check_default(model: Model, node: etree._Element, section: str) -> str | None:
    """Check a gateway's or activity's ``default``; return the default flow's id if valid."""
    value = local_ref(node.get("default"))
    if value is None:
        return None
    flow = model.by_id.get(value)
    if flow is None or flow not in model.outs(node):
        model.problem(
            node, section, f"default '{value}' is not one of the Sequence Flows going out of it"
        )
        return None
    if _has_condition(flow):
        model.problem(flow, section, f"the default flow of {model.label(node)} has no condition")
    return value


def _gateway(model: Model, gateway: etree._Element) -> None:
    gateway_kind = kind(gateway) or ""
    ins, outs = model.ins(gateway), model.outs(gateway)
    if gateway_kind == "eventBasedGateway":
        pass  # §10.6.6 counts its outgoing flows
    elif not outs:
        model.problem(gateway, "10.6.1", "a Gateway needs an outgoing Sequence Flow")
    elif len(ins) <= 1 and len(outs) <= 1:
        model.problem(
            gateway,
            "10.6.1",
            "a Gateway splits or merges the flow: it needs more than one incoming or more than "
            "one outgoing Sequence Flow",
        )
    direction = gateway.get("gatewayDirection", "Unspecified")
    if direction == "Converging" and len(outs) > 1:
        model.problem(gateway, "8.4.9", "a Converging Gateway has at most one outgoing flow")
    elif direction == "Diverging" and len(ins) > 1:
        model.problem(gateway, "8.4.9", "a Diverging Gateway has at most one incoming flow")
    elif direction == "Mixed" and (len(ins) < 2 or len(outs) < 2):
        model.problem(gateway, "8.4.9", "a Mixed Gateway has several incoming and outgoing flows")
    default = None
    if gateway_kind in _DEFAULT_SECTION:
        default = _check_default(model, gateway, _DEFAULT_SECTION[gateway_kind])
    if gateway_kind in ("exclusiveGateway", "inclusiveGateway") and len(outs) > 1:
        for flow in outs:
            if flow.get("id") != default and not _has_condition(flow):
                model.problem(
                    flow,
                    _DEFAULT_SECTION[gateway_kind],
                    f"a flow out of the splitting gateway '{gateway.get('id')}' needs a "
                    "condition unless it is the gateway's default",
                )
    if gateway_kind == "parallelGateway":
        for flow in outs:
            if _has_condition(flow):
                model.problem(flow, "10.6.4", "a flow out of a Parallel Gateway has no condition")
    if gateway_kind == "eventBasedGateway":
        _event_gateway(model, gateway, outs)


def _event_gateway(model: Model, gateway: etree._Element, outs: list[etree._Element]) -> None:
    if len(outs) < 2:
        model.problem(gateway, "10.6.6", "an Event-Based Gateway has two or more outgoing flows")
    messages = receive_tasks = 0
    for flow in outs:
        if _has_condition(flow):
            model.problem(flow, "10.6.6", "a flow out of an Event-Based Gateway has no condition")
        target = model.ref(flow, "targetRef")
        if target is None:
            continue
        triggers = {t for _, t in model.triggers(target)}
        if kind(target) == "receiveTask":
            receive_tasks += 1
            attached = [
                b for b in model.all("boundaryEvent") if model.ref(b, "attachedToRef") is target
            ]
            if attached:
                model.problem(
                    target,
                    "10.6.6",
                    "a Receive Task after an Event-Based Gateway has no boundary events",
                )
        elif (
            kind(target) != "intermediateCatchEvent"
            or not triggers
            or not triggers <= (_AFTER_EVENT_GATEWAY)
        ):
            model.problem(
                target,
                "10.6.6",
                "after an Event-Based Gateway comes a Receive Task or an intermediate catch "
                "event of a message, timer, signal or condition",
            )
            continue
        messages += "message" in triggers
        if len(model.ins(target)) > 1:
            model.problem(
                target,
                "10.6.6",
                "a target of an Event-Based Gateway has no other incoming Sequence Flow",
            )
    if messages and receive_tasks:
        model.problem(
            gateway,
            "10.6.6",
            "an Event-Based Gateway waits for message events or for Receive Tasks, not both",
        )


def _activity(model: Model, activity: etree._Element) -> None:
    if is_true(activity, "isForCompensation") and (model.ins(activity) or model.outs(activity)):
        model.problem(
            activity,
            "10.7.1",
            "a compensation activity (isForCompensation) has no incoming or outgoing "
            "Sequence Flow; a compensation boundary event's Association starts it",
        )
    _check_default(model, activity, "10.3")
    if kind(activity) == "subProcess" and is_true(activity, "triggeredByEvent"):
        if model.ins(activity) or model.outs(activity):
            model.problem(
                activity, "10.3.5", "an Event Sub-Process has no incoming or outgoing Sequence Flow"
            )
        starts = model.children(activity, {"startEvent"})
        if len(starts) != 1:
            model.problem(
                activity,
                "10.3.5",
                f"an Event Sub-Process has exactly one Start Event (found {len(starts)})",
            )


def _event(model: Model, event: etree._Element) -> None:
    event_kind = kind(event)
    triggers = model.triggers(event)
    names = {t for _, t in triggers}
    ins, outs = model.ins(event), model.outs(event)
    if event_kind == "startEvent":
        _start_event(model, event, names, ins, outs)
    elif event_kind == "endEvent":
        if outs:
            model.problem(event, "10.5.3", "an End Event has no outgoing Sequence Flow")
        if not ins:
            model.problem(event, "10.5.3", "an End Event is the target of a Sequence Flow")
        _allowed(model, event, triggers, _END, "10.5.3", "an End Event")
        container = model.container(event)
        if "cancel" in names and (container is None or kind(container) != "transaction"):
            model.problem(event, "10.5.3", "a Cancel End Event is used only inside a Transaction")
    elif event_kind in ("intermediateCatchEvent", "intermediateThrowEvent"):
        _intermediate_event(model, event, triggers, ins, outs)
    elif event_kind == "boundaryEvent":
        _boundary_event(model, event, triggers, ins, outs)
    if event_kind in ("startEvent", "intermediateCatchEvent", "intermediateThrowEvent"):
        for flow in outs:
            if _has_condition(flow):
                model.problem(
                    flow,
                    "10.5.2" if event_kind == "startEvent" else "10.5.4",
                    "a Sequence Flow out of an event has no condition",
                )


def _allowed(
    model: Model,
    event: etree._Element,
    triggers: list[tuple[etree._Element, str]],
    allowed: set[str],
    section: str,
    what: str,
) -> None:
    for definition, trigger in triggers:
        if trigger not in allowed:
            model.problem(
                definition,
                section,
                f"{what} cannot have {_a(trigger)} trigger (allowed: {', '.join(sorted(allowed))})",
            )


def _start_event(
    model: Model,
    event: etree._Element,
    names: set[str],
    ins: list[etree._Element],
    outs: list[etree._Element],
) -> None:
    if ins:
        model.problem(event, "10.5.2", "a Start Event has no incoming Sequence Flow")
    if not outs:
        model.problem(event, "10.5.2", "a Start Event is the source of a Sequence Flow")
    container = model.container(event)
    triggers = model.triggers(event)
    if container is None or kind(container) == "process":
        _allowed(model, event, triggers, _TOP_LEVEL_START, "10.5.2", "a process's Start Event")
    elif is_true(container, "triggeredByEvent"):
        if not triggers:
            model.problem(event, "10.3.5", "the Start Event of an Event Sub-Process has a trigger")
        _allowed(
            model,
            event,
            triggers,
            _EVENT_SUBPROCESS_START,
            "10.5.2",
            "an Event Sub-Process's Start Event",
        )
        if names & {"error", "compensation"} and not is_true(event, "isInterrupting", True):
            model.problem(event, "10.5.2", "an error or compensation Start Event always interrupts")
    else:
        _allowed(model, event, triggers, set(), "10.5.2", "a Sub-Process's Start Event")


def _intermediate_event(
    model: Model,
    event: etree._Element,
    triggers: list[tuple[etree._Element, str]],
    ins: list[etree._Element],
    outs: list[etree._Element],
) -> None:
    catch = kind(event) == "intermediateCatchEvent"
    names = {t for _, t in triggers}
    if catch and not triggers:
        model.problem(event, "10.5.4", "an intermediate catch event has a trigger")
    _allowed(
        model,
        event,
        triggers,
        _CATCH if catch else _THROW,
        "10.5.4",
        "an intermediate catch event" if catch else "an intermediate throw event",
    )
    if "link" in names:
        if catch and ins:
            model.problem(event, "10.5.4", "a catch Link event has no incoming Sequence Flow")
        if not catch and outs:
            model.problem(event, "10.5.4", "a throw Link event has no outgoing Sequence Flow")
        if not catch:
            _link_target(model, event)
        return
    if not ins:
        model.problem(event, "10.5.4", "an intermediate event in normal flow has an incoming flow")
    if not outs:
        model.problem(event, "10.5.4", "an intermediate event in normal flow has an outgoing flow")


def _link_target(model: Model, event: etree._Element) -> None:
    container = model.container(event)
    name = next(
        (d.get("name") for d, t in model.triggers(event) if t == "link"), None
    ) or event.get("name")
    for other in model.all("intermediateCatchEvent"):
        if model.container(other) is not container:
            continue
        for definition, trigger in model.triggers(other):
            if trigger == "link" and name in (definition.get("name"), other.get("name")):
                return
    model.problem(
        event, "10.5.5", f"no catch Link event named '{name or ''}' on the same process level"
    )


def _boundary_event(
    model: Model,
    event: etree._Element,
    triggers: list[tuple[etree._Element, str]],
    ins: list[etree._Element],
    outs: list[etree._Element],
) -> None:
    names = {t for _, t in triggers}
    attached = model.ref(event, "attachedToRef")
    if attached is None:
        model.problem(
            event,
            "10.5.4",
            f"attachedToRef '{event.get('attachedToRef') or ''}' names no activity",
        )
    elif kind(attached) not in ACTIVITIES:
        model.problem(
            event,
            "10.5.4",
            f"attachedToRef '{attached.get('id')}' is {_a(kind(attached) or attached.tag)}; a "
            "boundary event is attached to an activity",
        )
    elif attached.getparent() is not event.getparent():
        model.problem(
            event, "10.5.4", "a boundary event sits on the same process level as its activity"
        )
    if ins:
        model.problem(event, "10.5.4", "a boundary event has no incoming Sequence Flow")
    if not triggers:
        model.problem(event, "10.5.4", "a boundary event has a trigger")
    _allowed(model, event, triggers, _BOUNDARY, "10.5.4", "a boundary event")
    if names & {"error", "cancel"} and not is_true(event, "cancelActivity", True):
        model.problem(event, "10.5.4", "an error or cancel boundary event always interrupts")
    if "cancel" in names and attached is not None and kind(attached) != "transaction":
        model.problem(event, "10.5.4", "a Cancel boundary event sits only on a Transaction")
    if "compensation" in names:
        _compensation_boundary(model, event, outs)
    elif not outs:
        model.problem(event, "10.5.4", "a boundary event is the source of a Sequence Flow")
    for flow in outs:
        if _has_condition(flow):
            model.problem(flow, "10.5.4", "a Sequence Flow out of an event has no condition")


def _compensation_boundary(model: Model, event: etree._Element, outs: list[etree._Element]) -> None:
    if outs:
        model.problem(
            event,
            "10.7.1",
            "a compensation boundary event has no outgoing Sequence Flow; an Association "
            "links it to its compensation activity",
        )
    handlers = [
        model.ref(a, "targetRef")
        for a in model.all("association")
        if local_ref(a.get("sourceRef")) == event.get("id")
    ]
    if not any(h is not None and is_true(h, "isForCompensation") for h in handlers):
        model.problem(
            event,
            "10.7.1",
            "a compensation boundary event is associated with an activity whose "
            "isForCompensation is true",
        )


def _process_level(model: Model, container: etree._Element) -> None:
    nodes = model.children(container, FLOW_NODES)
    starts = [n for n in nodes if kind(n) == "startEvent"]
    ends = [n for n in nodes if kind(n) == "endEvent"]
    if starts and not ends:
        model.problem(container, "10.5.3", "a process level with a Start Event has an End Event")
    if ends and not starts:
        model.problem(container, "10.5.2", "a process level with an End Event has a Start Event")
    if not starts:
        return
    handlers = set()
    for association in model.all("association"):
        source = model.ref(association, "sourceRef")
        if source is not None and any(t == "compensation" for _, t in model.triggers(source)):
            handlers.add(local_ref(association.get("targetRef")))
    for node in nodes:
        if kind(node) in EVENTS or node.get("id") in handlers:
            continue  # events have rules of their own; compensation handlers see §10.7.1
        if model.ins(node) or _starts_on_its_own(model, node):
            continue
        model.problem(
            node,
            "10.5.2",
            "no Sequence Flow leads here, so with a Start Event on this process level it is "
            "never reached",
        )


def _starts_on_its_own(model: Model, node: etree._Element) -> bool:
    """Activities and gateways that need no incoming Sequence Flow (§10.5.2's exceptions)."""
    if is_true(node, "isForCompensation") or is_true(node, "triggeredByEvent"):
        return True
    return kind(node) == "eventBasedGateway" and is_true(node, "instantiate")
