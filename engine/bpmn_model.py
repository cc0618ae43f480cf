"""An index over one parsed BPMN file for the specification checks (lxml only)."""

from __future__ import annotations

from collections import defaultdict

from lxml import etree

from engine.runtime.types import DefinitionError

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPEC = "BPMN 2.0.2"

TASKS = frozenset(
    {
        "task",
        "userTask",
        "manualTask",
        "serviceTask",
        "scriptTask",
        "businessRuleTask",
        "sendTask",
        "receiveTask",
    }
)
SUBPROCESSES = frozenset({"subProcess", "adHocSubProcess", "transaction"})
ACTIVITIES = TASKS | SUBPROCESSES | {"callActivity"}
EVENTS = frozenset(
    {
        "startEvent",
        "endEvent",
        "intermediateCatchEvent",
        "intermediateThrowEvent",
        "boundaryEvent",
        "implicitThrowEvent",
    }
)
GATEWAYS = frozenset(
    {
        "exclusiveGateway",
        "inclusiveGateway",
        "parallelGateway",
        "complexGateway",
        "eventBasedGateway",
    }
)
FLOW_NODES = ACTIVITIES | EVENTS | GATEWAYS
CONTAINERS = SUBPROCESSES | {"process"}
TRIGGERS = {
    "messageEventDefinition": "message",
    "timerEventDefinition": "timer",
    "conditionalEventDefinition": "conditional",
    "signalEventDefinition": "signal",
    "errorEventDefinition": "error",
    "escalationEventDefinition": "escalation",
    "compensateEventDefinition": "compensation",
    "cancelEventDefinition": "cancel",
    "linkEventDefinition": "link",
    "terminateEventDefinition": "terminate",
}


_PREFIX = "{" + BPMN_NS + "}"


def kind(element: etree._Element) -> str | None:
    """The BPMN element name (``userTask``), or None for anything outside BPMN's namespace."""
    tag = element.tag
    if isinstance(tag, str) and tag.startswith(_PREFIX):
        return tag[len(_PREFIX) :]
    return None


def local_ref(value: str | None) -> str | None:
    """An id from an IDREF or a QName reference (``tns:Process_1`` -> ``Process_1``)."""
    if value is None:
        return None
    value = value.strip()
    return value.rsplit(":", 1)[-1] if value else None


def is_true(element: etree._Element, attribute: str, default: bool = False) -> bool:
    value = element.get(attribute)
    return default if value is None else value.strip() == "true"


class Model:
    """Elements by id, flows by node, and the problems found so far, for one file."""

    def __init__(self, root: etree._Element, file: str, process_ids: set[str]) -> None:
        self.root = root
        self.file = file
        self.process_ids = process_ids
        self.problems: list[DefinitionError] = []
        self.by_id: dict[str, etree._Element] = {}
        self.duplicates: list[etree._Element] = []
        self._by_kind: dict[str, list[etree._Element]] = defaultdict(list)
        self._ordered: list[tuple[str, etree._Element]] = []
        for element in root.iter():
            if not isinstance(element.tag, str):
                continue
            element_kind = kind(element)
            if element_kind:
                self._by_kind[element_kind].append(element)
                self._ordered.append((element_kind, element))
            element_id = element.get("id")
            if element_id is None:
                continue
            if element_id in self.by_id:
                self.duplicates.append(element)
            else:
                self.by_id[element_id] = element
        self.incoming: dict[str, list[etree._Element]] = defaultdict(list)
        self.outgoing: dict[str, list[etree._Element]] = defaultdict(list)
        self.sequence_flows = self.all("sequenceFlow")
        for flow in self.sequence_flows:
            source, target = local_ref(flow.get("sourceRef")), local_ref(flow.get("targetRef"))
            if source:
                self.outgoing[source].append(flow)
            if target:
                self.incoming[target].append(flow)

    def all(self, *kinds: str) -> list[etree._Element]:
        """The elements of these kinds, in document order."""
        if len(kinds) == 1:
            return list(self._by_kind.get(kinds[0], []))
        wanted = set(kinds)
        return [e for k, e in self._ordered if k in wanted]

    def children(
        self, element: etree._Element, kinds: frozenset[str] | set[str]
    ) -> list[etree._Element]:
        return [c for c in element if kind(c) in kinds]

    def ref(self, element: etree._Element, attribute: str) -> etree._Element | None:
        key = local_ref(element.get(attribute))
        return self.by_id.get(key) if key else None

    def ins(self, node: etree._Element) -> list[etree._Element]:
        return self.incoming.get(node.get("id") or "", [])

    def outs(self, node: etree._Element) -> list[etree._Element]:
        return self.outgoing.get(node.get("id") or "", [])

    def triggers(self, event: etree._Element) -> list[tuple[etree._Element, str]]:
        """The event definitions of an event (inline or by eventDefinitionRef) with their kind."""
        found = []
        for child in event:
            name = kind(child)
            if name in TRIGGERS:
                found.append((child, TRIGGERS[name]))
            elif name == "eventDefinitionRef":
                target = self.by_id.get(local_ref(child.text) or "")
                if target is not None and kind(target) in TRIGGERS:
                    found.append((target, TRIGGERS[kind(target) or ""]))
        return found

    def container(self, element: etree._Element) -> etree._Element | None:
        """The process or sub-process whose flow elements include this one."""
        parent = element.getparent()
        while parent is not None and kind(parent) not in CONTAINERS:
            parent = parent.getparent()
        return parent

    def process_of(self, element: etree._Element) -> etree._Element | None:
        parent: etree._Element | None = element
        while parent is not None and kind(parent) != "process":
            parent = parent.getparent()
        return parent

    def label(self, element: etree._Element) -> str:
        return f"'{element.get('id')}'" if element.get("id") else f"this {kind(element)}"

    def problem(self, element: etree._Element, section: str, message: str) -> None:
        owner: etree._Element | None = element
        while owner is not None and not owner.get("id"):
            owner = owner.getparent()
        self.problems.append(
            DefinitionError(
                f"{SPEC} §{section}: {message}",
                file=self.file,
                line=element.sourceline,
                element_id=owner.get("id") if owner is not None else None,
            )
        )
