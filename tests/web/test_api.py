"""The JSON API under /api/v1 through the Flask test client: the contract of DESIGN.md."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from engine import definitions
from engine.models import AuditEvent
from engine.models import HumanTask
from engine.models import ProcessInstance
from engine.models import Ticket
from tests.conftest import NOW
from tests.conftest import WORKFLOWS

ROAD: dict[str, Any] = {
    "category": "jalan_rusak",
    "title": "Jalan berlubang di Jl. Merdeka",
    "description": "Lubang besar dekat sekolah",
    "location": {"address": "Jl. Merdeka 10", "kecamatan": "Cipondoh"},
    "reporter": {"name": "Budi", "contact": "budi@example.org"},
}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def report(client: FlaskClient, **overrides: Any) -> str:
    response = client.post("/api/v1/tickets", json={**ROAD, **overrides})
    assert response.status_code == 201, response.get_json()
    number: str = response.get_json()["number"]
    return number


def inbox(client: FlaskClient, token: str) -> list[dict[str, Any]]:
    response = client.get("/api/v1/tasks", headers=bearer(token))
    assert response.status_code == 200, response.get_json()
    tasks: list[dict[str, Any]] = response.get_json()
    return tasks


def task_of(client: FlaskClient, token: str, number: str) -> dict[str, Any]:
    (task,) = [t for t in inbox(client, token) if t["ticket"] == number]
    return task


def assert_error(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"error"}
    error: dict[str, Any] = body["error"]
    assert {"code", "message"} <= set(error) <= {"code", "message", "fields"}
    assert isinstance(error["message"], str)
    assert error["message"]
    assert "Traceback" not in response.get_data(as_text=True)
    if code is not None:
        assert error["code"] == code
    return error


def snapshot(factory: sessionmaker[Session]) -> tuple[int, int, int, list[tuple[Any, ...]]]:
    """Everything a failed request must leave untouched."""
    with factory() as session:
        tickets = session.scalar(select(func.count()).select_from(Ticket)) or 0
        events = session.scalar(select(func.count()).select_from(AuditEvent)) or 0
        versions = sum(session.scalars(select(ProcessInstance.version)))
        tasks = [
            tuple(row)
            for row in session.execute(
                select(HumanTask.id, HumanTask.candidate_group, HumanTask.completed_at).order_by(
                    HumanTask.id
                )
            )
        ]
    return tickets, events, versions, tasks


# -- the happy path ----------------------------------------------------------------------------


def test_a_reported_ticket_is_created_with_a_number(client, session_factory):
    response = client.post("/api/v1/tickets", json=ROAD)
    assert response.status_code == 201
    body = response.get_json()
    assert body["number"].startswith("LK-")
    assert body["status"] == "verification"
    assert body["url"].endswith(f"/api/v1/tickets/{body['number']}")
    with session_factory() as session:
        ticket = session.scalars(select(Ticket)).one()
        assert (ticket.number, ticket.reporter_contact) == (body["number"], "budi@example.org")


def test_the_verify_task_is_in_the_verifiers_inbox_at_once(client, tokens):
    number = report(client)
    task = task_of(client, tokens["verifikator"], number)
    assert (task["element_id"], task["candidate_group"]) == ("verify", "verifier")
    assert task["form"] == "verify.schema.json"
    assert task["due_at"] is not None
    assert inbox(client, tokens["petugas_dpupr"]) == []


def test_routing_a_ticket_moves_it_into_the_opd_officers_inbox(client, tokens):
    number = report(client)
    task = task_of(client, tokens["verifikator"], number)
    response = client.post(
        f"/api/v1/tasks/{task['id']}/complete",
        json={"data": {"decision": "route"}, "version": task["version"]},
        headers=bearer(tokens["verifikator"]),
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["ticket"], body["status"]) == (number, "dispatched")
    assert body["version"] > task["version"]
    assert inbox(client, tokens["verifikator"]) == []
    handle = task_of(client, tokens["petugas_dpupr"], number)
    assert (handle["element_id"], handle["candidate_group"]) == ("acknowledge", "dpupr")
    assert inbox(client, tokens["petugas_dlh"]) == []


def test_the_public_view_shows_status_and_sla_but_no_reporter(client):
    number = report(client)
    response = client.get(f"/api/v1/tickets/{number}")
    assert response.status_code == 200
    body = response.get_json()
    assert body["number"] == number
    assert body["status"] == "verification"
    assert body["status_label"] == "Verifikasi"
    assert body["due_at"] is not None
    assert body["escalation_level"] == 0
    text = response.get_data(as_text=True)
    assert "budi@example.org" not in text
    assert "Budi" not in text
    assert not any(key.startswith("reporter") for key in body)


def test_the_status_label_is_english_when_asked(client):
    number = report(client)
    assert client.get(f"/api/v1/tickets/{number}?lang=en").get_json()["status_label"] == (
        "Verification"
    )
    english = client.get(f"/api/v1/tickets/{number}", headers={"Accept-Language": "en"})
    assert english.get_json()["status_label"] == "Verification"


def test_a_confidential_ticket_is_not_found_in_public(client):
    number = report(client, confidential=True)
    assert_error(client.get(f"/api/v1/tickets/{number}"), 404, "not_found")


def test_an_unknown_ticket_is_not_found(client):
    assert_error(client.get("/api/v1/tickets/LK-NOPE0000"), 404, "not_found")


def test_the_openapi_document_lists_tickets_and_tasks(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    paths = response.get_json()["paths"]
    assert "/api/v1/tickets" in paths
    assert "/api/v1/tasks" in paths
    assert "/api/v1/tasks/{task_id}/complete" in paths


# -- bad input on POST /tickets: error body and nothing written -------------------------------


def test_malformed_json_is_a_400_that_says_the_body_is_not_json(client, session_factory):
    before = snapshot(session_factory)
    response = client.post(
        "/api/v1/tickets", data='{"category": "jalan_rusak",', content_type="application/json"
    )
    error = assert_error(response, 400, "bad_request")
    assert "json" in error["message"].lower()
    assert "browser (or proxy)" not in error["message"]
    assert snapshot(session_factory) == before


def test_a_text_plain_body_is_415(client, session_factory):
    before = snapshot(session_factory)
    response = client.post("/api/v1/tickets", data="jalan rusak", content_type="text/plain")
    assert_error(response, 415, "unsupported_media_type")
    assert snapshot(session_factory) == before


def test_missing_fields_are_422_naming_each_field(client, session_factory):
    before = snapshot(session_factory)
    response = client.post("/api/v1/tickets", json={"category": "jalan_rusak"})
    error = assert_error(response, 422, "invalid_input")
    assert {"title", "description"} <= set(error["fields"])
    assert snapshot(session_factory) == before


def test_an_oversized_title_is_422_naming_the_title(client, session_factory):
    before = snapshot(session_factory)
    response = client.post("/api/v1/tickets", json={**ROAD, "title": "x" * 201})
    error = assert_error(response, 422, "invalid_input")
    assert set(error["fields"]) == {"title"}
    assert snapshot(session_factory) == before


def test_a_title_of_exactly_200_characters_is_accepted(client):
    report(client, title="x" * 200)


def test_an_unknown_category_is_422_naming_the_category(client, session_factory):
    before = snapshot(session_factory)
    response = client.post("/api/v1/tickets", json={**ROAD, "category": "ufo_landing"})
    error = assert_error(response, 422, "invalid_input")
    assert set(error["fields"]) == {"category"}
    assert snapshot(session_factory) == before


def test_an_unknown_field_is_422_naming_the_field(client, session_factory):
    before = snapshot(session_factory)
    response = client.post("/api/v1/tickets", json={**ROAD, "priority": "urgent"})
    error = assert_error(response, 422, "invalid_input")
    assert set(error["fields"]) == {"priority"}
    assert snapshot(session_factory) == before


def test_a_body_over_the_size_limit_is_413(app, client, session_factory):
    app.config["MAX_CONTENT_LENGTH"] = 512
    before = snapshot(session_factory)
    response = client.post("/api/v1/tickets", json={**ROAD, "description": "x" * 2000})
    error = assert_error(response, 413, "too_large")
    assert "512" in error["message"]
    assert snapshot(session_factory) == before


# -- bad input on tasks ------------------------------------------------------------------------


def test_the_inbox_without_a_token_is_401(client):
    assert_error(client.get("/api/v1/tasks"), 401, "unauthorized")


@pytest.mark.parametrize("header", ["Bearer not-a-token", "Basic dXNlcjpwYXNz", "Bearer "])
def test_a_bad_token_is_401(client, header):
    assert_error(client.get("/api/v1/tasks", headers={"Authorization": header}), 401)


def test_completing_without_a_token_is_401_and_changes_nothing(client, tokens, session_factory):
    number = report(client)
    task = task_of(client, tokens["verifikator"], number)
    before = snapshot(session_factory)
    response = client.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": {}})
    assert_error(response, 401, "unauthorized")
    assert snapshot(session_factory) == before


def test_completing_another_groups_task_is_403_and_changes_nothing(client, tokens, session_factory):
    number = report(client)
    task = task_of(client, tokens["verifikator"], number)
    before = snapshot(session_factory)
    response = client.post(
        f"/api/v1/tasks/{task['id']}/complete",
        json={"data": {"decision": "route"}},
        headers=bearer(tokens["petugas_dlh"]),
    )
    assert_error(response, 403, "forbidden")
    assert snapshot(session_factory) == before
    assert task_of(client, tokens["verifikator"], number)["id"] == task["id"]


def test_completing_a_task_twice_is_409_and_changes_nothing(client, tokens, session_factory):
    number = report(client)
    task = task_of(client, tokens["verifikator"], number)
    url = f"/api/v1/tasks/{task['id']}/complete"
    first = client.post(
        url, json={"data": {"decision": "route"}}, headers=bearer(tokens["verifikator"])
    )
    assert first.status_code == 200
    before = snapshot(session_factory)
    second = client.post(
        url,
        json={"data": {"decision": "reject", "reason": "duplicate"}},
        headers=bearer(tokens["verifikator"]),
    )
    assert_error(second, 409, "conflict")
    assert snapshot(session_factory) == before


def test_a_stale_version_is_409_and_changes_nothing(client, tokens, session_factory):
    number = report(client)
    task = task_of(client, tokens["verifikator"], number)
    before = snapshot(session_factory)
    response = client.post(
        f"/api/v1/tasks/{task['id']}/complete",
        json={"data": {"decision": "route"}, "version": task["version"] - 1},
        headers=bearer(tokens["verifikator"]),
    )
    assert_error(response, 409, "conflict")
    assert snapshot(session_factory) == before


def test_completing_a_missing_task_is_404(client, tokens, session_factory):
    before = snapshot(session_factory)
    response = client.post(
        "/api/v1/tasks/424242/complete", json={"data": {}}, headers=bearer(tokens["verifikator"])
    )
    assert_error(response, 404, "not_found")
    assert snapshot(session_factory) == before


def test_invalid_form_data_is_422_naming_the_fields_and_changes_nothing(
    client, tokens, session_factory
):
    number = report(client)
    task = task_of(client, tokens["verifikator"], number)
    before = snapshot(session_factory)
    response = client.post(
        f"/api/v1/tasks/{task['id']}/complete",
        json={"data": {"decision": "maybe", "hack": True}},
        headers=bearer(tokens["verifikator"]),
    )
    error = assert_error(response, 422, "invalid_input")
    assert set(error["fields"]) == {"decision", "hack"}
    assert snapshot(session_factory) == before


def test_an_unknown_field_in_a_completion_is_422(client, tokens, session_factory):
    number = report(client)
    task = task_of(client, tokens["verifikator"], number)
    before = snapshot(session_factory)
    response = client.post(
        f"/api/v1/tasks/{task['id']}/complete",
        json={"data": {"decision": "route"}, "assignee": "me"},
        headers=bearer(tokens["verifikator"]),
    )
    error = assert_error(response, 422, "invalid_input")
    assert set(error["fields"]) == {"assignee"}
    assert snapshot(session_factory) == before


# -- a BPMN script that raises rolls the whole command back -------------------------------------


def deploy_with_failing_route_script(factory: sessionmaker[Session]) -> None:
    """Deploy complaint.bpmn v2 whose route step runs a script that divides by zero."""
    files = definitions.read_files(WORKFLOWS)
    marker = "<spiffworkflow:calledDecisionId>routing</spiffworkflow:calledDecisionId>"
    assert marker in files["complaint.bpmn"]
    files["complaint.bpmn"] = files["complaint.bpmn"].replace(
        marker, marker + "\n<spiffworkflow:preScript>x = 1 / 0</spiffworkflow:preScript>"
    )
    with factory.begin() as session:
        result = definitions.deploy(session, files, actor="test", now=NOW)
    assert result.created
    assert result.versions["complaint"] == 2


def test_a_failing_script_rolls_the_completion_back(client, tokens, session_factory):
    deploy_with_failing_route_script(session_factory)
    number = report(client)
    task = task_of(client, tokens["verifikator"], number)
    before = snapshot(session_factory)
    response = client.post(
        f"/api/v1/tasks/{task['id']}/complete",
        json={"data": {"decision": "route"}},
        headers=bearer(tokens["verifikator"]),
    )
    error = assert_error(response, 422, "workflow_failed")
    assert "division" in error["message"].lower()
    assert snapshot(session_factory) == before
    assert task_of(client, tokens["verifikator"], number)["id"] == task["id"]
    assert client.get(f"/api/v1/tickets/{number}").get_json()["status"] == "verification"
    # the rejection path has no failing script and still works on the same instance
    response = client.post(
        f"/api/v1/tasks/{task['id']}/complete",
        json={"data": {"decision": "reject", "reason": "not a complaint"}},
        headers=bearer(tokens["verifikator"]),
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["status"] == "archived"
