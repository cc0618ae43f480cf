"""Open311 answers in JSON and in XML, and the specification's error format.

A document is plain data (dicts, lists, text, numbers, booleans, datetimes). JSON writes it as
it is (``null`` for nothing); XML names each list item by its list (``services`` holds
``service`` elements, ``service_requests`` holds ``request``...), leaves out a field that is
nothing or empty (XML readers such as FixMyStreet's take an empty element for a hash), and is
built with
xml.etree, so every text is escaped. Datetimes are ISO 8601 in Asia/Jakarta (+07:00).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from xml.etree import ElementTree as ET  # building only: nothing here parses XML

from flask import Response

from engine.calendar import JAKARTA

JSON = "json"
XML = "xml"
MIMETYPES = {JSON: "application/json", XML: "text/xml"}
# The element of each item of a list, by the list's name.
ITEM = {
    "services": "service",
    "service_requests": "request",
    "service_request_updates": "request_update",
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
    "errors": "error",
}


def timestamp(value: datetime) -> str:
    """ISO 8601 with the city's offset, to the second: 2026-11-23T09:00:00+07:00."""
    return value.astimezone(JAKARTA).isoformat(timespec="seconds")


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return timestamp(value)
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


# Characters XML 1.0 cannot hold at all (a description pasted from elsewhere may carry one):
# written raw they would make the whole answer unreadable to every XML parser.
_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return _NOT_XML.sub("\ufffd", str(value))


def _fill(element: ET.Element, name: str, value: Any) -> None:
    if isinstance(value, Mapping):
        for key, child in value.items():
            if child is not None and child != "" and child != []:
                _fill(ET.SubElement(element, key), key, child)
    elif isinstance(value, list):
        for item in value:
            _fill(ET.SubElement(element, ITEM.get(name, "item")), ITEM.get(name, "item"), item)
    else:
        element.text = _text(value)


def to_xml(root: str, document: Any) -> bytes:
    element = ET.Element(root)
    _fill(element, root, _plain(document))
    body: bytes = ET.tostring(element, encoding="utf-8", xml_declaration=True)
    return body


def answer(fmt: str, root: str, document: Any, status: int = 200) -> Response:
    """``document`` as JSON, or as XML under ``root``."""
    if fmt == JSON:
        body = json.dumps(_plain(document), ensure_ascii=False).encode()
    else:
        body = to_xml(root, document)
    return Response(body, status=status, mimetype=MIMETYPES[fmt])


def error_answer(
    fmt: str, status: int, message: str, fields: Mapping[str, Sequence[str]] | None = None
) -> Response:
    """The specification's errors: ``[{"code", "description"}]``, ``<errors><error>``; one
    error for the message, then one per field."""
    errors = [{"code": status, "description": message}]
    for name, messages in (fields or {}).items():
        text = "; ".join(str(m) for m in messages) if isinstance(messages, list) else messages
        errors.append({"code": status, "description": f"{name}: {text}"})
    return answer(fmt, "errors", errors, status)


def format_of(path: str) -> str:
    """The format a path asks for (``.json``), XML otherwise: the specification's default."""
    return JSON if path.rsplit("/", 1)[-1].endswith(".json") else XML
