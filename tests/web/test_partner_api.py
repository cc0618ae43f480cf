"""Partner keys on the API: scopes (403), their own tickets (filters, cursor pages, external
ids), the reporter's side of their tickets, and a rate limit per key with its headers."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from engine import partners
from engine.models import AuditEvent
from engine.models import Partner
from engine.models import Ticket
from tests.conftest import NOW
from tests.web.test_api import ROAD
from tests.web.test_api import assert_error
from tests.web.test_api import bearer


def new_key(
    factory: sessionmaker[Session], scopes: tuple[str, ...] = partners.SCOPES, code: str = "kanal"
) -> str:
    with factory.begin() as session:
        if session.scalar(select(Partner).where(Partner.code == code)) is None:
            partners.create_partner(session, code=code, name=f"Mitra {code}", now=NOW)
        _, key = partners.create_key(session, partner_code=code, scopes=scopes, now=NOW)
    return key


def submit(client: FlaskClient, key: str, **overrides: Any) -> dict[str, Any]:
    response = client.post("/api/v1/tickets", json={**ROAD, **overrides}, headers=bearer(key))
    assert response.status_code == 201, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def test_a_partner_ticket_records_the_partner_and_its_external_id(client, session_factory):
    key = new_key(session_factory)
    number = submit(client, key, external_id=" WA-0001 ")["number"]
    with session_factory() as session:
        ticket = session.scalars(select(Ticket).where(Ticket.number == number)).one()
        partner = session.scalars(select(Partner)).one()
        vias = session.scalars(
            select(AuditEvent.via).where(AuditEvent.action == "ticket_submitted")
        )
        assert (ticket.partner_id, ticket.external_id) == (partner.id, "WA-0001")
        assert next(iter(vias)).startswith("partner_key:")

    again = client.post(
        "/api/v1/tickets", json={**ROAD, "external_id": "WA-0001"}, headers=bearer(key)
    )
    error = assert_error(again, 409, "conflict")
    assert number in error["message"]
    too_long = client.post(
        "/api/v1/tickets", json={**ROAD, "external_id": "x" * 101}, headers=bearer(key)
    )
    assert "external_id" in assert_error(too_long, 422)["fields"]


def test_scopes_decide_and_a_missing_scope_is_403(client, session_factory, tokens):
    reader = new_key(session_factory, (partners.READ,))
    submitter = new_key(session_factory, (partners.SUBMIT,))
    refused = client.post("/api/v1/tickets", json=ROAD, headers=bearer(reader))
    assert "submit" in assert_error(refused, 403, "forbidden")["message"]
    number = submit(client, submitter)["number"]
    listing = client.get("/api/v1/partner/tickets", headers=bearer(submitter))
    assert_error(listing, 403, "forbidden")
    found = client.get("/api/v1/partner/tickets", headers=bearer(reader)).get_json()
    assert [t["number"] for t in found["tickets"]] == [number]
    me = client.get("/api/v1/partner", headers=bearer(reader)).get_json()
    assert me == {"code": "kanal", "name": "Mitra kanal", "scopes": ["read"]}
    # Users' tokens are not limited by scopes, but these endpoints are for partner keys.
    assert_error(client.get("/api/v1/partner/tickets", headers=bearer(tokens["pengawas"])), 403)
    assert_error(client.get("/api/v1/partner/tickets"), 401, "unauthorized")
    wrong = reader[:-3] + ("abc" if not reader.endswith("abc") else "xyz")
    assert_error(client.get("/api/v1/partner", headers=bearer(wrong)), 401, "unauthorized")


def test_revoked_and_switched_off_keys_answer_401(client, session_factory):
    key = new_key(session_factory)
    assert client.get("/api/v1/partner", headers=bearer(key)).status_code == 200
    with session_factory.begin() as session:
        partners.set_active(session, code="kanal", active=False)
    assert_error(client.get("/api/v1/partner", headers=bearer(key)), 401)
    with session_factory.begin() as session:
        partners.set_active(session, code="kanal", active=True)
        [info] = partners.list_keys(session)
        partners.revoke_key(session, key_id=info.id, now=NOW)
    assert_error(client.get("/api/v1/partner", headers=bearer(key)), 401)


def test_a_partner_lists_only_its_own_tickets_by_cursor_and_filters(client, session_factory):
    key = new_key(session_factory)
    other = new_key(session_factory, code="lain")
    mine = [submit(client, key, external_id=f"E-{i}")["number"] for i in range(5)]
    submit(client, other, external_id="E-0")  # the same reference, another partner
    client.post("/api/v1/tickets", json=ROAD)  # the public's

    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        query = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/v1/partner/tickets", query_string=query, headers=bearer(key))
        assert page.status_code == 200, page.get_json()
        body = page.get_json()
        seen += [t["number"] for t in body["tickets"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert sorted(seen) == sorted(mine)
    assert len(seen) == len(set(seen))

    one = client.get(
        "/api/v1/partner/tickets", query_string={"external_id": "E-3"}, headers=bearer(key)
    ).get_json()["tickets"]
    assert [t["number"] for t in one] == [mine[3]]
    assert one[0]["external_id"] == "E-3"
    assert one[0]["url"] == f"/api/v1/tickets/{mine[3]}"
    direct = client.get("/api/v1/partner/tickets/E-3", headers=bearer(key)).get_json()
    assert direct["number"] == mine[3]
    assert_error(client.get("/api/v1/partner/tickets/E-9", headers=bearer(key)), 404)

    status = one[0]["status"]
    by_status = client.get(
        "/api/v1/partner/tickets", query_string={"status": status}, headers=bearer(key)
    ).get_json()["tickets"]
    assert len(by_status) == 5
    none = client.get(
        "/api/v1/partner/tickets", query_string={"status": "closed"}, headers=bearer(key)
    ).get_json()["tickets"]
    assert none == []
    later = max(t["updated_at"] for t in by_status)
    recent = client.get(
        "/api/v1/partner/tickets", query_string={"since": later}, headers=bearer(key)
    ).get_json()["tickets"]
    assert 1 <= len(recent) < 5
    assert all(t["updated_at"] >= later for t in recent)
    future = client.get(
        "/api/v1/partner/tickets",
        query_string={"since": "2999-01-01T00:00:00"},
        headers=bearer(key),
    ).get_json()
    assert future == {"tickets": [], "next_cursor": None}


@pytest.mark.parametrize(
    "query",
    [{"cursor": "not-a-cursor"}, {"limit": 0}, {"limit": 101}, {"since": "yesterday"}],
)
def test_bad_listing_parameters_are_422(client, session_factory, query):
    key = new_key(session_factory)
    response = client.get("/api/v1/partner/tickets", query_string=query, headers=bearer(key))
    assert_error(response, 422)


def test_a_partner_reads_and_answers_for_its_own_confidential_ticket(client, session_factory):
    key = new_key(session_factory)
    no_follow = new_key(session_factory, (partners.SUBMIT, partners.READ))
    number = submit(client, key, confidential=True)["number"]
    assert_error(client.get(f"/api/v1/tickets/{number}"), 404)
    seen = client.get(f"/api/v1/tickets/{number}", headers=bearer(key))
    assert seen.status_code == 200
    assert seen.get_json()["number"] == number
    stranger = new_key(session_factory, code="lain")
    assert_error(client.get(f"/api/v1/tickets/{number}", headers=bearer(stranger)), 404)

    message = {"message": "reporter_reply", "data": {"text": "Nomor 12"}}
    refused = client.post(
        f"/api/v1/tickets/{number}/messages", json=message, headers=bearer(no_follow)
    )
    assert "follow" in assert_error(refused, 403, "forbidden")["message"]
    not_theirs = client.post(
        f"/api/v1/tickets/{number}/messages", json=message, headers=bearer(stranger)
    )
    assert not_theirs.status_code in (403, 404)  # never another partner's ticket
    # Past the scope and ownership checks: the ticket does not wait for a reply yet (409).
    answered = client.post(f"/api/v1/tickets/{number}/messages", json=message, headers=bearer(key))
    assert answered.status_code == 409, answered.get_json()


@pytest.fixture
def limited(settings, session_factory) -> Flask:
    from web.app import create_app

    return create_app(
        {
            "SETTINGS": settings,
            "TESTING": True,
            "DB_ENGINE": session_factory.kw["bind"],
            "RATELIMIT_ENABLED": True,
            "LAKSA_PARTNER_LIMIT": "3 per minute",
            "LAKSA_SUBMIT_LIMIT": "1 per minute",
        }
    )


def test_each_key_has_its_own_rate_limit_with_standard_headers(limited, session_factory):
    client = limited.test_client()
    key = new_key(session_factory)
    other = new_key(session_factory, code="lain")
    remaining = []
    for _ in range(3):
        answer = client.get("/api/v1/partner/tickets", headers=bearer(key))
        assert answer.status_code == 200
        assert answer.headers["X-RateLimit-Limit"] == "3"
        assert int(answer.headers["X-RateLimit-Reset"]) > 0
        remaining.append(int(answer.headers["X-RateLimit-Remaining"]))
    assert remaining == [2, 1, 0]
    refused = client.get("/api/v1/partner/tickets", headers=bearer(key))
    assert_error(refused, 429, "too_many_requests")
    assert int(refused.headers["Retry-After"]) > 0
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    # another key has its own allowance; the public is not counted against either
    assert client.get("/api/v1/partner", headers=bearer(other)).status_code == 200
    assert client.get("/api/v1/tickets/LK-00000000").status_code == 404
    assert "X-RateLimit-Limit" not in client.get("/api/v1/tickets/LK-00000000").headers


def test_partner_submissions_count_against_the_key_not_the_address(limited, session_factory):
    client = limited.test_client()
    key = new_key(session_factory)
    assert client.post("/api/v1/tickets", json=ROAD).status_code == 201
    assert_error(client.post("/api/v1/tickets", json=ROAD), 429)  # the address: 1 a minute
    for _ in range(3):  # the key's 3 a minute, past the address's 1
        assert client.post("/api/v1/tickets", json=ROAD, headers=bearer(key)).status_code == 201
    fourth = client.post("/api/v1/tickets", json=ROAD, headers=bearer(key))
    assert_error(fourth, 429)


def test_a_reference_taken_between_check_and_insert_is_409_not_500(
    client, session_factory, monkeypatch
):
    from engine import commands

    key = new_key(session_factory)
    submit(client, key, external_id="WA-7")
    monkeypatch.setattr(commands, "_check_external_id", lambda *args: None)  # lose the race
    raced = client.post(
        "/api/v1/tickets", json={**ROAD, "external_id": "WA-7"}, headers=bearer(key)
    )
    assert "external_id" in assert_error(raced, 409, "conflict")["fields"]
    with session_factory() as session:
        assert len(session.scalars(select(Ticket).where(Ticket.external_id == "WA-7")).all()) == 1
