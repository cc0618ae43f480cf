"""Uploaded definition files before anything parses them: size limits and safe XML parsing.

Every BPMN and DMN file reaches SpiffWorkflow's parser as a tree parsed here, never as text,
so no DOCTYPE, entity or network access can reach lxml's default parser.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from lxml import etree

from engine.runtime.types import DefinitionError

MAX_FILE_BYTES = 2 * 1024 * 1024  # one BPMN, DMN or JSON file
MAX_BUNDLE_BYTES = 10 * 1024 * 1024  # all files of one deploy together
MAX_FILES = 200

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
