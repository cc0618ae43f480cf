"""Definition files before anything parses them: which names a bundle may hold, size limits,
safe XML parsing, and a refusal as a list of problems.

Every BPMN and DMN file reaches SpiffWorkflow's parser as a tree parsed here, never as text,
so no DOCTYPE, entity or network access can reach lxml's default parser.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lxml import etree

from engine.errors import InvalidInput
from engine.errors import TooLarge
from engine.runtime.types import DefinitionError

MAX_FILE_BYTES = 2 * 1024 * 1024  # one BPMN, DMN or JSON file
MAX_BUNDLE_BYTES = 10 * 1024 * 1024  # all files of one deploy together
MAX_FILES = 200
STATUSES = "statuses.json"
FORMS_DIR = "forms/"
_BASE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,119}$")
NAME_RULE = "a .bpmn or .dmn file, forms/<name>.schema.json, or statuses.json"

# A DTD is how external entities (XXE) and entity expansion (billion laughs) get in; a BPMN or
# DMN file never needs one, so any declaration is refused before a parser sees the text.
_DECLARATION = re.compile(r"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


def size_problems(files: Mapping[str, str]) -> list[DefinitionError]:
    """Files over the per-file limit, and the bundle over its limit, as problems."""
    problems = []
    if len(files) > MAX_FILES:
        problems.append(DefinitionError(f"{len(files)} files in one deploy; at most {MAX_FILES}"))
    total = 0
    for name in sorted(files):
        size = len(files[name].encode("utf-8"))
        total += size
        if size > MAX_FILE_BYTES:
            problems.append(
                DefinitionError(
                    f"file is {_mb(size)}; a definition file may be at most {_mb(MAX_FILE_BYTES)}",
                    file=name,
                )
            )
    if total > MAX_BUNDLE_BYTES:
        problems.append(
            DefinitionError(
                f"the files are {_mb(total)} together; a deploy may be at most "
                f"{_mb(MAX_BUNDLE_BYTES)}"
            )
        )
    return problems


def parse_xml(text: str, file: str) -> etree._Element:
    """Parse a BPMN or DMN file safely; raise DefinitionError for a DTD or bad XML."""
    declaration = _DECLARATION.search(text)
    if declaration is not None:
        line = text.count("\n", 0, declaration.start()) + 1
        raise DefinitionError(
            f"a {declaration.group(1).upper()} declaration is not allowed in a definition file "
            "(no DTD, no entities)",
            file=file,
            line=line,
        )
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=False,
    )
    try:
        root = etree.fromstring(text.encode("utf-8"), parser)
    except etree.XMLSyntaxError as exc:
        message = " ".join(str(exc.msg or exc).split()) or "not well-formed XML"
        raise DefinitionError(message, file=file, line=exc.lineno) from None
    except ValueError as exc:  # e.g. an encoding declaration lxml cannot honour
        raise DefinitionError(" ".join(str(exc).split()), file=file) from None
    if root.getroottree().docinfo.doctype:
        raise DefinitionError("a DOCTYPE is not allowed in a definition file", file=file, line=1)
    return root


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


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
    if total > MAX_BUNDLE_BYTES:
        raise TooLarge(
            f"the files are larger than {MAX_BUNDLE_BYTES} bytes together",
            fields={"files": [f"at most {MAX_BUNDLE_BYTES} bytes together"]},
        )
    return result


def well_formed(files: Mapping[str, str]) -> list[Problem]:
    """The BPMN and DMN files that are not safe, well-formed XML, as problems."""
    found: list[Problem] = []
    for name in sorted(files):
        if name.endswith((".bpmn", ".dmn")):
            try:
                parse_xml(files[name], name)
            except DefinitionError as exc:
                found.extend(problems_of(exc))
    return found


def with_latest(latest: Mapping[str, str], sent: Mapping[str, str]) -> dict[str, str]:
    """A whole bundle: the files sent, and the latest deployed ones for what was not sent."""
    return {**latest, **sent}
