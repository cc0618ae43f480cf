"""What a new bundle changes against a deployed one: elements added, removed and changed per
file, compared by id, so a designer sees what a deploy does before it is live.

BPMN and DMN: an element is anything with an ``id`` directly inside a container (definitions,
process, sub-process, lane set, collaboration, decision, decision table); everything nested in
it without being a container's child (event definitions, timer expressions, conditions,
extension properties, incoming and outgoing flows, a rule's entries) is part of it, so a
timer changed from 3 to 2 working days shows its boundary event as changed. Formatting,
attribute order and namespace prefixes do not count. Diagram-only changes (shapes moved,
edges re-routed) are listed apart as ``moved``. Forms are compared by property, and
``statuses.json`` by status.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from lxml import etree

from engine.definition_files import parse_xml
from engine.runtime import DefinitionError

CONTAINERS = frozenset(
    {
        "definitions",
        "process",
        "subProcess",
        "transaction",
        "adHocSubProcess",
        "laneSet",
        "collaboration",
        "decision",
        "decisionTable",
    }
)
_DIAGRAMS = frozenset({"BPMNDiagram", "DMNDI"})
_DIAGRAM_REFS = ("bpmnElement", "dmnElementRef")


@dataclass(frozen=True)
class Element:
    """An element as a designer knows it: its id, kind (``userTask``, ``rule``...) and name."""

    id: str
    kind: str
    name: str | None = None

    @property
    def label(self) -> str:
        return f"{self.name} ({self.id})" if self.name and self.name != self.id else self.id


@dataclass(frozen=True)
class FileDiff:
    added: list[Element] = field(default_factory=list)
    removed: list[Element] = field(default_factory=list)
    changed: list[Element] = field(default_factory=list)
    moved: list[Element] = field(default_factory=list)  # diagram only

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed or self.moved)

    def as_json(self) -> dict[str, list[str]]:
        return {
            "added": [e.id for e in self.added],
            "removed": [e.id for e in self.removed],
            "changed": [e.id for e in self.changed],
            "moved": [e.id for e in self.moved],
        }


def diff_bundles(old: Mapping[str, str], new: Mapping[str, str]) -> dict[str, FileDiff]:
    """Per file that differs, what changed from ``old`` to ``new`` (files alike are left out)."""
    result: dict[str, FileDiff] = {}
    for name in sorted(set(old) | set(new)):
        before, after = old.get(name), new.get(name)
        if before == after:
            continue
        found = diff_file(name, before, after)
        if found:
            result[name] = found
    return result


def diff_file(name: str, before: str | None, after: str | None) -> FileDiff:
    """One file's changes; a file that cannot be read is reported as changed as a whole."""
    try:
        old, old_geometry = _elements(name, before)
        new, new_geometry = _elements(name, after)
    except (DefinitionError, ValueError):
        whole = Element(name, "file")
        return FileDiff(
            added=[whole] if before is None else [],
            removed=[whole] if after is None else [],
            changed=[whole] if before is not None and after is not None else [],
        )
    changed = [new[i][0] for i in new if i in old and old[i][1] != new[i][1]]
    moved = [
        new[i][0]
        for i in new
        if i in old and old[i][1] == new[i][1] and old_geometry.get(i) != new_geometry.get(i)
    ]
    return FileDiff(
        added=[new[i][0] for i in new if i not in old],
        removed=[old[i][0] for i in old if i not in new],
        changed=changed,
        moved=moved,
    )


def _elements(name: str, text: str | None) -> tuple[dict[str, tuple[Element, Any]], dict[str, Any]]:
    """Elements by id with their comparable content, and diagram geometry by element id."""
    if text is None:
        return {}, {}
    if name.endswith((".bpmn", ".dmn")):
        root = parse_xml(name, text)
        elements: dict[str, tuple[Element, Any]] = {}
        _collect(root, elements)
        return elements, _geometry(root)
    if name.endswith(".json"):
        return _json_elements(name, json.loads(text)), {}
    raise ValueError(name)


# -- XML ---------------------------------------------------------------------------------------


def _local(node: Any) -> str:
    return str(etree.QName(node).localname)


def _children(node: Any) -> list[Any]:
    """Child elements (not comments or processing instructions)."""
    return [c for c in node if isinstance(c.tag, str)]


def _collect(container: Any, found: dict[str, tuple[Element, Any]]) -> None:
    if container.getparent() is None and container.get("id"):
        found[container.get("id")] = (_element(container), _content(container))
    for child in _children(container):
        if _local(child) in _DIAGRAMS or not child.get("id"):
            continue
        found[child.get("id")] = (_element(child), _content(child))
        if _local(child) in CONTAINERS:
            _collect(child, found)


def _element(node: Any) -> Element:
    return Element(node.get("id"), _local(node), node.get("name") or node.get("label"))


def _content(node: Any) -> Any:
    """What an element is, without its container children, its diagram or formatting."""
    container = _local(node) in CONTAINERS

    def canonical(item: Any, top: bool) -> Any:
        kept = [
            canonical(c, False)
            for c in _children(item)
            if not (top and container and c.get("id")) and _local(c) not in _DIAGRAMS
        ]
        text = (item.text or "").replace("\r\n", "\n").strip()
        return (item.tag, tuple(sorted(item.attrib.items())), text, tuple(kept))

    return canonical(node, True)


def _geometry(root: Any) -> dict[str, Any]:
    """Each element's shape or edge (bounds, waypoints, label), without the DI's own ids."""

    def canonical(item: Any) -> Any:
        attrs = tuple(sorted((k, v) for k, v in item.attrib.items() if k != "id"))
        return (_local(item), attrs, tuple(canonical(c) for c in _children(item)))

    geometry: dict[str, Any] = {}
    for node in root.iter():
        if not isinstance(node.tag, str) or _local(node).endswith(("Plane", "Diagram")):
            continue  # a plane holds every shape: its own geometry is theirs
        ref = next((node.get(a) for a in _DIAGRAM_REFS if node.get(a)), None)
        if ref:
            geometry.setdefault(ref, []).append(canonical(node))
    return geometry


# -- JSON --------------------------------------------------------------------------------------


def _json_elements(name: str, value: Any) -> dict[str, tuple[Element, Any]]:
    """Statuses by code; a form's properties by name and its other keywords as ``schema:``."""
    if not isinstance(value, dict):
        raise ValueError(name)
    if name.rsplit("/", 1)[-1] == "statuses.json":
        return {k: (Element(k, "status", _label(v)), _canon(v)) for k, v in value.items()}
    found: dict[str, tuple[Element, Any]] = {}
    properties = value.get("properties")
    if isinstance(properties, dict):
        for key, spec in properties.items():
            found[key] = (Element(key, "property", _title(spec)), _canon(spec))
    for key, spec in value.items():
        if key != "properties" or not isinstance(properties, dict):
            found[f"schema:{key}"] = (Element(f"schema:{key}", "keyword"), _canon(spec))
    return found


def _canon(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _label(spec: Any) -> str | None:
    label = spec.get("label") if isinstance(spec, dict) else None
    if isinstance(label, dict):
        text = label.get("id") or label.get("en")
        return str(text) if text else None
    return None


def _title(spec: Any) -> str | None:
    if not isinstance(spec, dict):
        return None
    title = spec.get("x-laksa-title") or spec.get("title")
    if isinstance(title, dict):
        title = title.get("id") or title.get("en")
    return str(title) if title else None
