"""The API's document says what the API does: every operation with an id, a description,
examples, each error status it can answer with the real error body; and a page shows it,
served from the site itself."""

from __future__ import annotations

import re
from typing import Any

import pytest

from engine.settings import REPO_ROOT
from tests.web.test_api import assert_error

METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture
def spec(client) -> dict[str, Any]:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.get_json()
    return document


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, item[method])
        for path, item in spec["paths"].items()
        for method in METHODS
        if method in item
    ]


def test_the_error_schema_is_the_body_the_api_answers(client, spec):
    schemas = spec["components"]["schemas"]
    assert schemas["Error"]["required"] == ["error"]
    detail = schemas["ErrorDetail"]
    assert set(detail["properties"]) == {"code", "message", "fields"}
    assert detail["properties"]["code"]["type"] == "string"
    body = assert_error(client.get("/api/v1/tasks"), 401, "unauthorized")
    assert set(body) <= set(detail["properties"])


def test_every_operation_has_an_id_a_description_and_its_error_statuses(spec):
    ids = set()
    for method, path, op in operations(spec):
        where = f"{method.upper()} {path}"
        assert re.fullmatch(r"[a-z][A-Za-z]+", op["operationId"]), where
        ids.add(op["operationId"])
        assert "Errors:" in op["description"], where
        assert "default" not in op["responses"], where
        errors = {s: r for s, r in op["responses"].items() if s[0] in "45"}
        assert "400" in errors, where
        for status, response in errors.items():
            content = response["content"]["application/json"]
            assert "Error" in str(content["schema"]), (where, status)
            assert content["example"]["error"]["code"], (where, status)
        if "{" in path:
            assert "404" in errors, where
        if "bearer" in str(op.get("security")):
            assert "401" in errors, where
        if "requestBody" in op:
            assert {"413", "415", "422"} <= set(errors), where
    assert len(ids) == len(operations(spec))


def test_every_request_body_and_answer_has_an_example(spec):
    missing = []
    for method, path, op in operations(spec):
        where = f"{method.upper()} {path}"
        json_body = op.get("requestBody", {}).get("content", {}).get("application/json")
        if json_body is not None and "example" not in json_body:
            missing.append(f"{where} (request)")
        success = [r for s, r in op["responses"].items() if s.startswith("2")]
        body = success[0].get("content", {}).get("application/json")
        if body is not None and body["schema"] != {"type": "object"} and "example" not in body:
            missing.append(f"{where} (answer)")
    assert not missing, "\n".join(missing)


def test_the_ticket_schema_states_the_reporter_rule_and_the_codes(spec):
    ticket = spec["components"]["schemas"]["TicketCreate"]
    assert "jalan_rusak" in ticket["properties"]["category"]["enum"]
    assert {"required": ["anonymous"], "properties": {"anonymous": {"enum": [True]}}} in ticket[
        "anyOf"
    ]
    location = spec["components"]["schemas"]["Location"]
    assert "Cipondoh" in location["properties"]["kecamatan"]["enum"]
    assert ticket["properties"]["reporter"]["nullable"] is True


def test_links_lead_from_a_new_ticket_to_the_reporters_operations(spec):
    created = spec["paths"]["/api/v1/tickets"]["post"]["responses"]["201"]["links"]
    by_id = {op["operationId"] for _, _, op in operations(spec)}
    for link in created.values():
        assert link["operationId"] in by_id
    secret = created["reporterView"]["parameters"]["header.X-Reporter-Secret"]
    assert secret == "$response.body#/reporter_secret"
    assert spec["servers"] == [{"url": "/", "description": "this LAKSA server"}]


def test_the_docs_page_is_served_from_the_site_under_its_csp(client):
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in page
    assert 'data-spec-url="/api/v1/openapi.json"' in page
    assert "<script>" not in page  # no inline script: the CSP allows 'self' only
    assert not re.search(r"""(src|href)=["']https?://""", page)
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert (REPO_ROOT / "web" / "static" / "api-docs.js").exists()
