"""POST /api/v1/tickets/{number}/messages: the reporter answers, confirms or disputes.

The reporter is a citizen with an account who filed the ticket with their token; the verifier
desk may relay for a reporter who called in. Everyone else is refused.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from engine.identity import create_token
from engine.identity import create_user
from tests.conftest import NOW
from tests.web.test_api import assert_error
from tests.web.test_api import bearer
from tests.web.test_api import snapshot
from tests.web.test_api import task_of

RUBBISH: dict[str, Any] = {
    "category": "sampah",
    "title": "Sampah menumpuk",
    "description": "Sudah seminggu tidak diangkut",
    "reporter": {"name": "Sari", "contact": "sari@example.org"},
}


def citizen(session_factory, name: str) -> str:
    with session_factory.begin() as session:
        create_user(
            session, username=name, password="password-" + name, role="citizen", groups=[], now=NOW
        )
        return create_token(session, username=name, name="test", now=NOW)


@pytest.fixture
def warga(session_factory) -> str:
    return citizen(session_factory, "warga")


class Ticket:
    """One ticket driven through the API."""

    def __init__(self, client: FlaskClient, tokens: dict[str, str], reporter: str, **extra: Any):
        self.client, self.tokens = client, tokens
        response = client.post(
            "/api/v1/tickets", json={**RUBBISH, **extra}, headers=bearer(reporter)
        )
        assert response.status_code == 201, response.get_json()
        self.number: str = response.get_json()["number"]

    def complete(self, user: str, data: dict[str, Any]) -> dict[str, Any]:
        task = task_of(self.client, self.tokens[user], self.number)
        response = self.client.post(
            f"/api/v1/tasks/{task['id']}/complete",
            json={"data": data, "version": task["version"]},
            headers=bearer(self.tokens[user]),
        )
        assert response.status_code == 200, response.get_json()
        body: dict[str, Any] = response.get_json()
        return body

    def to_handling(self) -> None:
        self.complete("verifikator", {"decision": "route"})
        self.complete("petugas_dlh", {"decision": "accept", "complexity": "simple"})

    def send(self, token: str | None, message: str, data: dict[str, Any] | None = None) -> Any:
        body: dict[str, Any] = {"message": message}
        if data is not None:
            body["data"] = data
        headers = bearer(token) if token else {}
        return self.client.post(
            f"/api/v1/tickets/{self.number}/messages", json=body, headers=headers
        )

    def public(self) -> dict[str, Any]:
        response = self.client.get(f"/api/v1/tickets/{self.number}")
        assert response.status_code == 200, response.get_json()
        body: dict[str, Any] = response.get_json()
        return body


def ok(response: Any, status: str) -> dict[str, Any]:
    assert response.status_code == 200, response.get_json()
    body: dict[str, Any] = response.get_json()
    assert body["status"] == status
    return body


def test_the_reporter_answers_a_question_and_handling_resumes(client, tokens, warga):
    ticket = Ticket(client, tokens, warga)
    ticket.to_handling()
    asked = ticket.complete("petugas_dlh", {"decision": "need_info", "question": "Di mana?"})
    assert asked["status"] == "waiting_info"
    body = ok(ticket.send(warga, "reporter_reply", {"text": "Depan masjid"}), "in_progress")
    assert body["ticket"] == ticket.number
    assert body["version"] > asked["version"]
    assert ticket.public()["status"] == "in_progress"


def test_the_reporter_confirms_and_the_ticket_closes_as_fixed(client, tokens, warga):
    ticket = Ticket(client, tokens, warga)
    ticket.to_handling()
    resolved = ticket.complete("petugas_dlh", {"decision": "resolve", "resolution": "Diangkut"})
    assert resolved["status"] == "resolved"
    ok(ticket.send(warga, "reporter_confirms"), "confirmed")
    public = ticket.public()
    assert (public["status"], public["outcome"]) == ("confirmed", "fixed")
    assert public["closed_at"] is not None


def test_the_reporter_disputes_and_it_reopens_to_the_same_opd(client, tokens, warga):
    ticket = Ticket(client, tokens, warga)
    ticket.to_handling()
    ticket.complete("petugas_dlh", {"decision": "resolve", "resolution": "Diangkut"})
    body = ticket.send(warga, "reporter_disputes", {"reason": "Masih menumpuk"})
    assert body.status_code == 200, body.get_json()
    public = ticket.public()
    assert public["status"] in ("reopened", "in_progress")
    assert (public["opd"], public["outcome"], public["closed_at"]) == ("dlh", None, None)
    assert task_of(client, tokens["petugas_dlh"], ticket.number)  # back in the OPD's inbox


def test_the_verifier_desk_may_relay_a_reply(client, tokens, warga):
    ticket = Ticket(client, tokens, warga)
    ticket.to_handling()
    ticket.complete("petugas_dlh", {"decision": "need_info", "question": "Di mana?"})
    ok(ticket.send(tokens["verifikator"], "reporter_reply", {"text": "per telepon"}), "in_progress")


def test_others_may_not_answer_for_the_reporter(client, tokens, warga, session_factory):
    ticket = Ticket(client, tokens, warga)
    ticket.to_handling()
    ticket.complete("petugas_dlh", {"decision": "need_info", "question": "Di mana?"})
    before = snapshot(session_factory)
    assert_error(ticket.send(None, "reporter_reply"), 401, "unauthorized")
    assert_error(ticket.send(tokens["petugas_dlh"], "reporter_reply"), 403, "forbidden")
    assert_error(ticket.send(tokens["kepala_dpupr"], "reporter_reply"), 403, "forbidden")
    other = citizen(session_factory, "tetangga")
    assert_error(ticket.send(other, "reporter_reply"), 403, "forbidden")
    assert snapshot(session_factory) == before
    assert ticket.public()["status"] == "waiting_info"


def test_a_ticket_filed_without_a_token_has_no_reporter_account(client, tokens, warga):
    response = client.post("/api/v1/tickets", json=RUBBISH)
    number = response.get_json()["number"]
    reply = client.post(
        f"/api/v1/tickets/{number}/messages",
        json={"message": "reporter_reply"},
        headers=bearer(warga),
    )
    assert_error(reply, 403, "forbidden")


def test_an_unknown_message_or_bad_body_is_422(client, tokens, warga, session_factory):
    ticket = Ticket(client, tokens, warga)
    before = snapshot(session_factory)
    error = assert_error(ticket.send(warga, "reporter_bribes"), 422)
    assert "message" in error["fields"]
    error = assert_error(
        client.post(
            f"/api/v1/tickets/{ticket.number}/messages",
            json={"message": "reporter_reply", "extra": 1},
            headers=bearer(warga),
        ),
        422,
    )
    assert "extra" in error["fields"]
    assert_error(
        client.post(f"/api/v1/tickets/{ticket.number}/messages", json={}, headers=bearer(warga)),
        422,
    )
    assert snapshot(session_factory) == before


@pytest.mark.parametrize("message", ["reporter_reply", "reporter_confirms", "reporter_disputes"])
def test_a_message_the_ticket_is_not_waiting_for_is_409(
    client, tokens, warga, session_factory, message
):
    ticket = Ticket(client, tokens, warga)  # waiting at verification: no message expected
    before = snapshot(session_factory)
    assert_error(ticket.send(warga, message), 409, "conflict")
    assert snapshot(session_factory) == before


def test_confirming_while_a_question_is_open_is_409(client, tokens, warga):
    ticket = Ticket(client, tokens, warga)
    ticket.to_handling()
    ticket.complete("petugas_dlh", {"decision": "need_info", "question": "Di mana?"})
    assert_error(ticket.send(warga, "reporter_confirms"), 409, "conflict")
    assert ticket.public()["status"] == "waiting_info"


def test_a_confidential_ticket_is_404_for_others_and_open_to_its_reporter(
    client, tokens, warga, session_factory
):
    ticket = Ticket(client, tokens, warga, confidential=True)
    ticket.to_handling()
    ticket.complete("petugas_dlh", {"decision": "need_info", "question": "Di mana?"})
    assert_error(client.get(f"/api/v1/tickets/{ticket.number}"), 404, "not_found")
    other = citizen(session_factory, "tetangga")
    for token in (other, tokens["petugas_dlh"]):
        assert_error(ticket.send(token, "reporter_reply"), 404, "not_found")
    ok(ticket.send(warga, "reporter_reply", {"text": "Depan masjid"}), "in_progress")


def test_an_unknown_ticket_is_404(client, warga):
    response = client.post(
        "/api/v1/tickets/LK-00000000/messages",
        json={"message": "reporter_reply"},
        headers=bearer(warga),
    )
    assert_error(response, 404, "not_found")


def test_the_endpoint_is_in_the_openapi_document(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert "/api/v1/tickets/{number}/messages" in paths
