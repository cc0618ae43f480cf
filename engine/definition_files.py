"""Definition files sent from outside (the designer's pages, the API): which names a bundle
may hold, how large they may be, XML parsed safely, and a refusal as a list of problems."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lxml import etree

from engine.errors import InvalidInput
from engine.errors import TooLarge
from engine.runtime import DefinitionError

MAX_FILE_BYTES = 1024 * 1024  # one BPMN, DMN or JSON file (complaint.bpmn is about 80 kB)
MAX_TOTAL_BYTES = 5 * 1024 * 1024  # a whole bundle
MAX_FILES = 100
STATUSES = "statuses.json"
FORMS_DIR = "forms/"
_BASE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,119}$")
# No DTD at all: a definition needs none, and a DTD is how entity expansion and external
# entities get in (lxml is told not to resolve them as well).
_DOCTYPE = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
NAME_RULE = "a .bpmn or .dmn file, forms/<name>.schema.json, or statuses.json"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a definition: file, line and element where known."""

    file: str | None
    line: int | None
    element_id: str | None
    message: str

    def as_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "line": self.line,
            "element_id": self.element_id,
            "message": self.message,
        }


def problems_of(exc: DefinitionError) -> list[Problem]:
    """Every problem a refusal names (a check may find several, or raise one)."""
    found = getattr(exc, "problems", None) or [exc]
    return [
        Problem(
            file=getattr(p, "file", None),
            line=_line(getattr(p, "line", None)),
            element_id=getattr(p, "element_id", None),
            message=str(getattr(p, "message", None) or p),
        )
        for p in found
    ]


def _line(value: Any) -> int | None:
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def bundle_name(name: str) -> str:
    """The name a sent file takes in the bundle; a form may come without its ``forms/``."""
    name = name.strip().replace("\\", "/")
    base = name.removeprefix(FORMS_DIR)
    if "/" in base or not _BASE.match(base) or ".." in base:
        raise InvalidInput(
            f"file name {name!r} is not allowed",
            fields={name or "files": [f"use {NAME_RULE}; plain names only"]},
        )
    if base.endswith(".schema.json"):
        return FORMS_DIR + base
    if name != base:  # forms/ holds form schemas only
        raise InvalidInput(f"file {name!r} is not a form schema", fields={name: [NAME_RULE]})
    if base == STATUSES or base.endswith((".bpmn", ".dmn")):
        return base
    raise InvalidInput(f"file {name!r} is not part of a definition", fields={name: [NAME_RULE]})


def accepted(files: Mapping[str, str]) -> dict[str, str]:
    """The sent files under their bundle names, within the limits (InvalidInput, TooLarge)."""
    if len(files) > MAX_FILES:
        raise TooLarge(f"at most {MAX_FILES} files", fields={"files": [f"at most {MAX_FILES}"]})
    result: dict[str, str] = {}
    total = 0
    for sent, text in files.items():
        name = bundle_name(sent)
        if name in result:
            raise InvalidInput(f"file {name!r} is sent twice", fields={name: ["sent twice"]})
        size = len(text.encode("utf-8"))
        if size > MAX_FILE_BYTES:
            raise TooLarge(
                f"file {name!r} is larger than {MAX_FILE_BYTES} bytes",
                fields={name: [f"at most {MAX_FILE_BYTES} bytes"]},
            )
        total += size
        # As `laksa deploy` reads files (universal newlines): a browser sends CRLF.
        result[name] = text.replace("\r\n", "\n").replace("\r", "\n")
    if total > MAX_TOTAL_BYTES:
        raise TooLarge(
            f"the files are larger than {MAX_TOTAL_BYTES} bytes together",
            fields={"files": [f"at most {MAX_TOTAL_BYTES} bytes together"]},
        )
    return result


def parse_xml(name: str, text: str) -> Any:
    """The root element of a BPMN or DMN file, parsed without DTDs, entities or network."""
    data = text.encode("utf-8")
    doctype = _DOCTYPE.search(data)
    if doctype:
        line = data.count(b"\n", 0, doctype.start()) + 1
        raise DefinitionError(
            "a DOCTYPE or entity declaration is not allowed", file=name, line=line
        )
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise DefinitionError(
            f"not well-formed XML: {exc.msg}", file=name, line=exc.lineno
        ) from None
    if etree.QName(root).localname != "definitions":
        raise DefinitionError(
            f"the root element is <{etree.QName(root).localname}>, not <definitions>",
            file=name,
            line=root.sourceline,
        )
    return root


def well_formed(files: Mapping[str, str]) -> list[Problem]:
    """The BPMN and DMN files that are not safe, well-formed XML, as problems."""
    found: list[Problem] = []
    for name in sorted(files):
        if name.endswith((".bpmn", ".dmn")):
            try:
                parse_xml(name, files[name])
            except DefinitionError as exc:
                found.extend(problems_of(exc))
    return found


def with_latest(latest: Mapping[str, str], sent: Mapping[str, str]) -> dict[str, str]:
    """A whole bundle: the files sent, and the latest deployed ones for what was not sent."""
    return {**latest, **sent}
