"""The API's OpenAPI document as partners (and schemathesis) read it, completed in one place.

flask-smorest describes each view from its marshmallow schemas; this module walks every
registered operation of the finished document and adds what the views do not say: an
operationId, each error status the operation can answer with the real error body, examples,
links between operations, who may call it, and the database's current category and kecamatan
codes. Views stay undecorated; an operation missing from OPERATIONS still gets an id and the
errors inferred from its shape (path parameters, a body, a token).
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from flask import Flask
from flask import Response
from flask import current_app
from flask import json
from flask import render_template
from flask import url_for
from flask_smorest import Api

from engine import reference
from web.api import openapi_examples as ex
from web.session import db

METHODS = ("get", "put", "post", "patch", "delete")

OPTIONAL_BEARER: list[dict[str, list[str]]] = [{"bearer": []}, {}]  # a token, or none

# What each error status means, for every operation's description and its example body.
ERRORS: dict[int, tuple[str, str, str]] = {
    400: (
        "bad_request",
        "the request body is not valid JSON",
        "malformed: not JSON, nested "
        "deeper than 32 levels, a NUL character or a lone surrogate anywhere",
    ),
    401: (
        "unauthorized",
        "authentication required",
        "no token, or an unknown, expired or revoked one",
    ),
    403: (
        "forbidden",
        "only the desk and the ticket's OPD may add its photos",
        "the caller's role or groups do not allow it",
    ),
    404: (
        "not_found",
        "no ticket LK-7QK2M9XD",
        "no such object, or one the caller may not see "
        "(a confidential ticket, a wrong reporter secret)",
    ),
    409: (
        "conflict",
        "the ticket changed (version 4, you had 3)",
        "the state moved: another writer was first, or the ticket is not waiting for this",
    ),
    413: (
        "too_large",
        "the request body is larger than the limit of 1048576 bytes",
        "too large: a JSON body over 1 MiB, form or message data over 64 KiB, a photo over 10 MB",
    ),
    415: (
        "unsupported_media_type",
        "send the body as application/json",
        "the body is neither JSON nor (where the operation takes files) multipart/form-data",
    ),
    422: (
        "invalid_input",
        "the request has invalid fields",
        "well-formed but against a rule; `fields` says which",
    ),
    429: ("too_many_requests", "10 per 1 minute", "too many reports from this address"),
    503: (
        "not_deployed",
        "no definition deployed for 'complaint'",
        "no process definition is deployed yet",
    ),
}
ERROR_FIELDS = {422: {"title": ["Length must be between 3 and 200."]}}


@dataclass(frozen=True)
class Operation:
    operation_id: str
    errors: tuple[int, ...]
    description: str = ""
    security: list[dict[str, list[str]]] | None = None
    request: dict[str, Any] | None = None  # the request body's example
    response: Any = None  # the success response's example
    links: dict[str, dict[str, Any]] = field(default_factory=dict)
    refusals: tuple[int, ...] = ()  # statuses whose body may also be a DefinitionRefused


def _link(operation_id: str, description: str, **parameters: str) -> dict[str, Any]:
    return {"operationId": operation_id, "description": description, "parameters": parameters}


def _as_reporter(operation_id: str, description: str) -> dict[str, Any]:
    """A link from a new ticket to an operation of its reporter, the secret in the header."""
    parameters = {"number": _NUMBER, "header.X-Reporter-Secret": "$response.body#/reporter_secret"}
    return {"operationId": operation_id, "description": description, "parameters": parameters}


_NUMBER = "$response.body#/number"
_FIRST = "$response.body#/0/id"
_COMMON = (400, 401, 403)
OPERATIONS: dict[tuple[str, str], Operation] = {
    ("post", "/api/v1/tickets"): Operation(
        "createTicket",
        (400, 401, 413, 415, 422, 429, 503),
        security=OPTIONAL_BEARER,
        request=ex.TICKET,
        response=ex.TICKET_CREATED,
        # Not to getTicket: a confidential ticket is 404 there, for the public, by design.
        links={
            "reporterView": _as_reporter("getReporterView", "the reporter's view"),
            "reporterMessage": _as_reporter("sendReporterMessage", "answer as the reporter"),
        },
    ),
    ("get", "/api/v1/tickets/{number}"): Operation(
        "getTicket", (400, 401, 404), security=OPTIONAL_BEARER, response=ex.TICKET_VIEW
    ),
    ("get", "/api/v1/tickets/{number}/reporter"): Operation(
        "getReporterView", (400, 404), response=ex.REPORTER_VIEW
    ),
    ("post", "/api/v1/tickets/{number}/messages"): Operation(
        "sendReporterMessage",
        (400, 401, 403, 404, 409, 413, 415, 422),
        security=OPTIONAL_BEARER,
        request=ex.MESSAGE,
        response=ex.DELIVERED,
        links={"ticket": _link("getTicket", "the ticket now", number="$response.body#/ticket")},
    ),
    ("post", "/api/v1/tickets/{number}/attachments"): Operation(
        "addTicketPhoto", (*_COMMON, 404, 413, 415, 422), response=ex.ATTACHMENT
    ),
    ("get", "/api/v1/tasks"): Operation(
        "listTasks",
        (400, 401),
        response=[ex.TASK],
        links={
            "task": _link("getTask", "the first task", task_id=_FIRST),
            "claim": _link("claimTask", "claim the first task", task_id=_FIRST),
            "complete": _link("completeTask", "complete the first task", task_id=_FIRST),
        },
    ),
    ("get", "/api/v1/tasks/{task_id}"): Operation(
        "getTask",
        (*_COMMON, 404),
        response=ex.TASK_DETAIL,
        links={
            "claim": _link("claimTask", "claim it", task_id="$response.body#/id"),
            "release": _link("releaseTask", "release it", task_id="$response.body#/id"),
            "complete": _link("completeTask", "complete it", task_id="$response.body#/id"),
            "ticket": _link("getTicket", "its ticket", number="$response.body#/ticket/number"),
        },
    ),
    ("post", "/api/v1/tasks/{task_id}/claim"): Operation(
        "claimTask", (*_COMMON, 404, 409, 413, 415), response=ex.CLAIM
    ),
    ("post", "/api/v1/tasks/{task_id}/release"): Operation(
        "releaseTask", (*_COMMON, 404, 409, 413, 415), response={"claimed_by": None}
    ),
    ("post", "/api/v1/tasks/{task_id}/complete"): Operation(
        "completeTask",
        (*_COMMON, 404, 409, 413, 415, 422),
        request=ex.COMPLETE,
        response=ex.COMPLETED,
        links={"ticket": _link("getTicket", "the ticket now", number="$response.body#/ticket")},
    ),
    ("get", "/api/v1/oversight/overdue"): Operation(
        "listOverdueTickets", (*_COMMON, 422), response=[ex.OVERDUE]
    ),
    ("get", "/api/v1/oversight/stats"): Operation(
        "getOversightStats", (*_COMMON, 422), response=ex.STATS
    ),
    ("get", "/api/v1/incidents"): Operation(
        "listIncidents",
        (*_COMMON, 422),
        response=[ex.INCIDENT],
        links={"resolve": _link("resolveIncident", "resolve the first", incident_id=_FIRST)},
    ),
    ("post", "/api/v1/incidents/{incident_id}/resolve"): Operation(
        "resolveIncident",
        (*_COMMON, 404, 409, 413, 415, 422),
        request={"note": "timer fixed by redeploying"},
        response=ex.RESOLVED,
    ),
    ("get", "/api/v1/definitions"): Operation(
        "listDefinitionVersions",
        _COMMON,
        response=[ex.VERSION],
        links={
            "files": _link(
                "getBundleFiles", "the first's files", bundle_id="$response.body#/0/bundle_id"
            )
        },
    ),
    ("post", "/api/v1/definitions"): Operation(
        "deployDefinitions",
        (*_COMMON, 409, 413, 415, 422),
        refusals=(413, 415, 422),
        response=ex.DEPLOYED,
        links={
            "files": _link("getBundleFiles", "its files", bundle_id="$response.body#/bundle_id")
        },
    ),
    ("get", "/api/v1/definitions/{bundle_id}/files"): Operation(
        "getBundleFiles",
        (*_COMMON, 404),
        response=ex.BUNDLE,
        links={
            "file": _link(
                "getBundleFile",
                "its first file",
                bundle_id="$response.body#/bundle_id",
                name="$response.body#/files/0/name",
            )
        },
    ),
    ("get", "/api/v1/definitions/{bundle_id}/files/{name}"): Operation(
        "getBundleFile", (*_COMMON, 404)
    ),
    ("get", "/api/v1/categories"): Operation("listCategories", (400,), response=ex.CATEGORIES),
    ("get", "/api/v1/kecamatan"): Operation("listKecamatan", (400,), response=ex.KECAMATAN),
    ("get", "/api/v1/statuses"): Operation("listStatuses", (400,), response=ex.STATUSES),
    ("get", "/api/v1/tickets/{number}/timeline"): Operation(
        "getTicketTimeline", (400, 401, 404), security=OPTIONAL_BEARER, response=ex.TIMELINE
    ),
    ("get", "/api/v1/partner"): Operation("getPartner", (400, 401, 403), response=ex.PARTNER),
    ("get", "/api/v1/partner/tickets"): Operation(
        "listPartnerTickets", (*_COMMON, 422, 429), response=ex.PARTNER_TICKETS
    ),
    ("get", "/api/v1/partner/tickets/{external_id}"): Operation(
        "getPartnerTicket", (*_COMMON, 404, 429), response=ex.PARTNER_TICKET
    ),
}


def init_app(app: Flask, api: Api) -> None:
    """Serve the completed document at /api/v1/openapi.json and Swagger UI at /api/v1/docs."""
    api.spec.components.get_ref("schema", "Error")  # flask-smorest's ERROR_SCHEMA, in use
    app.view_functions["api-docs.openapi_json"] = lambda: openapi_json(api)
    app.add_url_rule("/api/v1/docs", endpoint="api_docs", view_func=docs_page)


def openapi_json(api: Api) -> Response:
    session = db()
    document = complete(
        api.spec.to_dict(),
        categories=sorted(reference.categories(session)),
        kecamatan=reference.kecamatan(session),
    )
    return current_app.response_class(json.dumps(document, indent=2), mimetype="application/json")


def docs_page() -> str:
    return render_template("api/docs.html", spec_url=url_for("api-docs.openapi_json"))


def complete(
    spec: dict[str, Any], *, categories: list[str], kecamatan: list[str]
) -> dict[str, Any]:
    """``spec`` with every operation documented (a copy; the cached spec stays as it is)."""
    spec = copy.deepcopy(spec)
    spec["servers"] = [{"url": "/", "description": "this LAKSA server"}]
    spec["info"]["description"] = ex.INFO
    spec.setdefault("components", {}).setdefault("responses", {})
    _ticket_rules(spec["components"]["schemas"], categories, kecamatan)
    for schema in spec["components"]["schemas"].values():
        _null_or_nested(schema)
    for path, item in spec["paths"].items():
        shared = item.get("parameters", [])
        for method in METHODS:
            if method in item:
                _operation(method, path, item[method], shared)
    return spec


def _operation(method: str, path: str, op: dict[str, Any], shared: list[Any]) -> None:
    known = OPERATIONS.get((method, path))
    params = shared + op.get("parameters", [])
    if known is None:
        known = Operation(_derived_id(method, path), _inferred_errors(method, op, params))
    op["operationId"] = known.operation_id
    if known.security is not None:
        op["security"] = known.security
    responses = op.setdefault("responses", {})
    responses.pop("default", None)
    for status in known.errors:
        responses[str(status)] = _error_response(status, refusal=status in known.refusals)
    success = next((s for s in sorted(responses) if s.startswith("2")), None)
    if success is not None:
        body = responses[success].setdefault("content", {}).get("application/json")
        if body is not None and known.response is not None:
            body["example"] = known.response
        if known.links:
            responses[success]["links"] = known.links
    request = op.get("requestBody", {}).get("content", {}).get("application/json")
    if request is not None and known.request is not None:
        request["example"] = known.request
    for param in params:
        example = ex.PARAMETERS.get(param["name"])
        if example is not None:
            param.setdefault("example", example)
    errors = "Errors:\n" + "\n".join(f"- {s}: {ERRORS[s][2]}" for s in known.errors)
    texts = (op.get("description", ""), known.description, errors)
    op["description"] = "\n\n".join(text for text in texts if text)


def _error_response(status: int, *, refusal: bool = False) -> dict[str, Any]:
    code, message, meaning = ERRORS[status]
    error: dict[str, Any] = {"code": code, "message": message}
    if status in ERROR_FIELDS:
        error["fields"] = ERROR_FIELDS[status]
    schema: dict[str, Any] = {"$ref": "#/components/schemas/Error"}
    if refusal:  # a refused definition lists its problems beside the error
        schema = {"anyOf": [schema, {"$ref": "#/components/schemas/DefinitionRefused"}]}
    return {
        "description": meaning,
        "content": {"application/json": {"schema": schema, "example": {"error": error}}},
    }


def _derived_id(method: str, path: str) -> str:
    words = re.findall(r"[A-Za-z0-9]+", path.removeprefix("/api/v1"))
    return method + "".join(w[:1].upper() + w[1:] for w in words)


def _inferred_errors(method: str, op: dict[str, Any], params: list[Any]) -> tuple[int, ...]:
    found = {400}
    if op.get("security"):
        found |= {401, 403}
    if any(p.get("in") == "path" for p in params):
        found.add(404)
    if any(p.get("in") == "query" for p in params):
        found.add(422)
    if method in ("post", "put", "patch"):
        found |= {413, 415}
    if "requestBody" in op:
        found.add(422)
    return tuple(sorted(found))


def _ticket_rules(schemas: dict[str, Any], categories: list[str], kecamatan: list[str]) -> None:
    """State in the schema what the server checks beyond it: the reporter rule, the codes."""
    ticket = schemas.get("TicketCreate")
    if ticket is None:
        return
    ticket["properties"]["category"]["enum"] = categories
    ticket["properties"]["category"]["description"] = "an active category's code (database)"
    ticket["anyOf"] = [
        {"required": ["anonymous"], "properties": {"anonymous": {"enum": [True]}}},
        {
            "required": ["reporter"],
            "properties": {"reporter": {"type": "object", "required": ["contact"]}},
        },
    ]
    ticket["description"] = "A report: give a contact (reporter.contact), or report anonymously."
    ticket["example"] = ex.TICKET
    location = schemas.get("Location")
    if location is not None and kecamatan:
        place = location["properties"]["kecamatan"]
        place["enum"] = kecamatan
        place["description"] = "one of the city's kecamatan (any case, blanks around ignored)"
        place.pop("pattern", None)


def _null_or_nested(schema: dict[str, Any]) -> None:
    """A nullable nested schema as null or that schema: apispec writes it as "that schema, or
    any object", which says that any object would do."""
    for prop in schema.get("properties", {}).values():
        branches = prop.get("anyOf", [])
        if len(branches) == 2 and branches[1] == {"nullable": True, "type": "object"}:
            prop.pop("anyOf")
            prop.update({"allOf": [branches[0]], "nullable": True})
