"""GET /api/v1/incidents and POST /api/v1/incidents/{id}/resolve: the verifier desk's list."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy import update

from engine import timers
from engine.clock import now as wall_now
from engine.identity import create_token
from engine.identity import create_user
from engine.models import PendingTimer
from engine.models import ProcessInstance
from tests.conftest import NOW
from tests.web.test_api import assert_error
from tests.web.test_api import bearer
from tests.web.test_oversight import submit


@pytest.fixture
def failed(session_factory) -> dict[str, Any]:
    """A ticket whose timer sweep failed: one incident."""
    number = submit(session_factory, "jalan_rusak", at=wall_now() - timedelta(days=40))
    with session_factory.begin() as session:
        session.execute(update(ProcessInstance).values(state=b"not a workflow"))
    result = timers.run_due(session_factory, now=wall_now())
    assert result.failed == 1
    return {"number": number}


def incidents(client, token: str, query: str = "") -> list[dict[str, Any]]:
    response = client.get(f"/api/v1/incidents{query}", headers=bearer(token))
    assert response.status_code == 200, response.get_json()
    rows: list[dict[str, Any]] = response.get_json()
    return rows


def test_the_verifier_desk_lists_unresolved_incidents_with_their_ticket(client, tokens, failed):
    (row,) = incidents(client, tokens["verifikator"])
    assert set(row) == {
        "id",
        "ticket",
        "kind",
        "element_id",
        "message",
        "at",
        "resolved_at",
        "resolved_by",
    }
    assert (row["ticket"], row["kind"], row["resolved_at"]) == (
        failed["number"],
        "timer_failed",
        None,
    )
    assert row["message"]
    assert row["at"]


def test_only_the_desk_and_admins_see_and_resolve_incidents(
    client, tokens, failed, session_factory
):
    assert_error(client.get("/api/v1/incidents"), 401, "unauthorized")
    for name in ("petugas_dpupr", "pengawas", "kepala_dpupr"):
        assert_error(client.get("/api/v1/incidents", headers=bearer(tokens[name])), 403)
    (row,) = incidents(client, tokens["verifikator"])
    path = f"/api/v1/incidents/{row['id']}/resolve"
    assert_error(client.post(path, json={}), 401)
    assert_error(client.post(path, json={}, headers=bearer(tokens["petugas_dpupr"])), 403)
    with session_factory.begin() as session:
        create_user(
            session, username="admin", password="password-x", role="admin", groups=[], now=NOW
        )
        admin = create_token(session, username="admin", name="test", now=NOW)
    assert incidents(client, admin) == incidents(client, tokens["verifikator"])


def test_resolving_releases_the_timers_and_answers_who_and_when(
    client, tokens, failed, session_factory
):
    (row,) = incidents(client, tokens["verifikator"])
    path = f"/api/v1/incidents/{row['id']}/resolve"
    response = client.post(
        path, json={"note": "state restored"}, headers=bearer(tokens["verifikator"])
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["incident_id"], body["ticket"], body["resolved_by"]) == (
        row["id"],
        failed["number"],
        "user:verifikator",
    )
    assert body["released_timers"] == 1
    assert body["resolved_at"]
    with session_factory() as session:
        assert session.scalars(select(PendingTimer.claimed_until)).all() == [None]
    assert incidents(client, tokens["verifikator"]) == []
    (done,) = incidents(client, tokens["verifikator"], "?include_resolved=true")
    assert done["resolved_by"] == "user:verifikator"
    assert_error(client.post(path, json={}, headers=bearer(tokens["verifikator"])), 409)


def test_bad_resolve_requests(client, tokens, failed):
    (row,) = incidents(client, tokens["verifikator"])
    headers = bearer(tokens["verifikator"])
    assert_error(client.post("/api/v1/incidents/9999/resolve", json={}, headers=headers), 404)
    error = assert_error(
        client.post(f"/api/v1/incidents/{row['id']}/resolve", json={"why": 1}, headers=headers),
        422,
    )
    assert "why" in error["fields"]
    assert incidents(client, tokens["verifikator"])  # still open


def test_the_endpoints_are_in_the_openapi_document(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert {"/api/v1/incidents", "/api/v1/incidents/{incident_id}/resolve"} <= set(paths)
