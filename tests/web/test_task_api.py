"""GET /api/v1/tasks/{id} and POST /api/v1/tasks/{id}/claim, /release: the task as a partner
app renders it, who may read and claim it, and the 401 every unauthenticated call gets."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from engine import audit
from engine.clock import now as wall_now
from engine.identity import create_token
from engine.identity import create_user
from engine.models import AuditEvent
from tests.conftest import NOW
from tests.web.officer_helpers import version_of
from tests.web.test_api import assert_error
from tests.web.test_api import bearer
from tests.web.test_api import report
from tests.web.test_api import task_of


@pytest.fixture
def colleague(session_factory) -> str:
    """A second verifier's token."""
    with session_factory.begin() as session:
        create_user(
            session,
            username="verifikator2",
            password="password-verifikator2",
            role="verifier",
            groups=["verifier"],
            now=NOW,
        )
        return create_token(session, username="verifikator2", name="test", now=NOW)


def detail(client: FlaskClient, token: str, task_id: int, query: str = "") -> dict[str, Any]:
    response = client.get(f"/api/v1/tasks/{task_id}{query}", headers=bearer(token))
    assert response.status_code == 200, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def complete(client: FlaskClient, token: str, number: str, data: dict[str, Any]) -> None:
    task = task_of(client, token, number)
    response = client.post(
        f"/api/v1/tasks/{task['id']}/complete",
        json={"data": data, "version": task["version"]},
        headers=bearer(token),
    )
    assert response.status_code == 200, response.get_json()


def claim(client: FlaskClient, token: str, task_id: int, query: str = "") -> Any:
    return client.post(f"/api/v1/tasks/{task_id}/claim{query}", headers=bearer(token))


def release(client: FlaskClient, token: str, task_id: int) -> Any:
    return client.post(f"/api/v1/tasks/{task_id}/release", headers=bearer(token))


def field(body: dict[str, Any], name: str) -> dict[str, Any]:
    (found,) = [f for f in body["fields"] if f["name"] == name]
    return found


# -- the task in context ----------------------------------------------------------------------


def test_the_task_comes_with_its_schema_fields_ticket_history_and_version(
    client, tokens, session_factory
):
    number = report(client)
    task = task_of(client, tokens["verifikator"], number)
    body = detail(client, tokens["verifikator"], task["id"])
    assert (body["id"], body["element_id"], body["candidate_group"]) == (
        task["id"],
        "verify",
        "verifier",
    )
    assert body["title"] == "Verifikasi laporan"
    assert body["form"] == "verify.schema.json"
    assert body["schema"]["properties"]["decision"]["enum"] == [
        "route",
        "reject",
        "not_our_authority",
        "duplicate",
    ]
    assert body["version"] == version_of(session_factory, number) == task["version"]
    assert body["may_complete"] is True
    assert body["claimed_by"] is None
    assert body["completed_at"] is None
    assert body["due_at"] is not None
    ticket = body["ticket"]
    assert ticket["number"] == number
    assert ticket["status"] == "verification"
    assert ticket["reporter_contact"] == "budi@example.org"
    assert ticket["reporter_name"] == "Budi"
    assert ticket["confidential"] is False
    assert any(e["kind"] == "status" for e in ticket["timeline"])
    actions = [h["action"] for h in body["history"]]
    assert actions[0] == "ticket_submitted"
    assert body["likely_originals"] == []


def test_the_title_and_status_are_english_when_asked(client, tokens):
    number = report(client)
    task = task_of(client, tokens["verifikator"], number)
    body = detail(client, tokens["verifikator"], task["id"], "?lang=en")
    assert body["title"] == "Verify the complaint"
    assert body["ticket"]["status_label"] == "Verification"


def test_the_task_comes_with_its_fields_as_the_page_renders_them(client, tokens):
    number = report(client)
    task = task_of(client, tokens["verifikator"], number)
    body = detail(client, tokens["verifikator"], task["id"])
    decision = field(body, "decision")
    assert (decision["widget"], decision["title"], decision["required"]) == (
        "choice",
        "Keputusan",
        True,
    )
    assert decision["options"][0]["title"] == "Teruskan ke dinas"
    assert field(body, "duplicate_of")["widget"] == "ticket"
    assert field(body, "duplicate_of")["title"] == "Nomor laporan asli"
    assert field(body, "duplicate_of")["shown_when"] == {"decision": ["duplicate"]}


def test_fields_are_english_when_asked(client, tokens):
    number = report(client)
    task = task_of(client, tokens["verifikator"], number)
    body = detail(client, tokens["verifikator"], task["id"], "?lang=en")
    assert field(body, "decision")["title"] == "Decision"
    assert field(body, "duplicate_of")["title"] == "Number of the original report"
    assert field(body, "decision")["options"][0]["title"] == "Route to the agency"


def test_an_anonymous_reporter_is_hidden_from_the_opd_but_not_from_the_desk(client, tokens):
    number = report(client, anonymous=True)
    desk = detail(
        client, tokens["verifikator"], task_of(client, tokens["verifikator"], number)["id"]
    )
    assert desk["ticket"]["reporter_contact"] == "budi@example.org"
    assert desk["ticket"]["anonymous"] is True
    complete(client, tokens["verifikator"], number, {"decision": "route"})
    task = task_of(client, tokens["petugas_dpupr"], number)
    body = detail(client, tokens["petugas_dpupr"], task["id"])
    assert body["element_id"] == "acknowledge"
    assert body["title"] == "Terima laporan"
    assert body["ticket"]["reporter_contact"] is None
    assert body["ticket"]["reporter_name"] is None
    assert "budi@example.org" not in str(body)
    assert body["history"]  # the routed OPD is entitled staff


def test_the_routed_opd_sees_a_named_reporters_contact(client, tokens):
    number = report(client)
    complete(client, tokens["verifikator"], number, {"decision": "route"})
    body = detail(
        client, tokens["petugas_dpupr"], task_of(client, tokens["petugas_dpupr"], number)["id"]
    )
    assert body["ticket"]["reporter_contact"] == "budi@example.org"


def test_another_groups_officer_is_refused_and_a_supervisor_reads(client, tokens):
    number = report(client)
    task_id = task_of(client, tokens["verifikator"], number)["id"]
    for name in ("petugas_dpupr", "petugas_dlh", "kepala_dpupr"):
        response = client.get(f"/api/v1/tasks/{task_id}", headers=bearer(tokens[name]))
        assert_error(response, 403, "forbidden")
        assert "budi@example.org" not in response.get_data(as_text=True)
    body = detail(client, tokens["pengawas"], task_id)
    assert body["may_complete"] is False
    assert body["history"]


def test_a_confidential_ticket_of_another_opd_is_not_shown(client, tokens):
    number = report(client, confidential=True)
    complete(client, tokens["verifikator"], number, {"decision": "route"})
    task_id = task_of(client, tokens["petugas_dpupr"], number)["id"]
    response = client.get(f"/api/v1/tasks/{task_id}", headers=bearer(tokens["petugas_dlh"]))
    assert_error(response, 403, "forbidden")
    assert number not in response.get_data(as_text=True)
    body = detail(client, tokens["petugas_dpupr"], task_id)
    assert body["ticket"]["confidential"] is True


def test_a_missing_task_is_404(client, tokens):
    assert_error(client.get("/api/v1/tasks/999999", headers=bearer(tokens["verifikator"])), 404)


def test_a_completed_task_can_still_be_read_but_not_completed(client, tokens):
    number = report(client)
    task_id = task_of(client, tokens["verifikator"], number)["id"]
    complete(client, tokens["verifikator"], number, {"decision": "route"})
    body = detail(client, tokens["verifikator"], task_id)
    assert body["completed_at"] is not None
    assert body["may_complete"] is False


def test_likely_originals_are_offered_on_the_verify_task(client, tokens):
    first = report(client)
    second = report(client)
    task_id = task_of(client, tokens["verifikator"], second)["id"]
    body = detail(client, tokens["verifikator"], task_id)
    assert [c["number"] for c in body["likely_originals"]] == [first]


# -- claims -----------------------------------------------------------------------------------


def test_claim_and_release_over_the_api(client, tokens, colleague, session_factory):
    number = report(client)
    task_id = task_of(client, tokens["verifikator"], number)["id"]
    version = version_of(session_factory, number)
    response = claim(client, tokens["verifikator"], task_id)
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"claimed_by": "user:verifikator", "taken_from": None}
    assert detail(client, colleague, task_id)["claimed_by"] == "user:verifikator"
    assert task_of(client, colleague, number)["id"] == task_id
    busy = claim(client, colleague, task_id)
    assert_error(busy, 409, "conflict")
    assert_error(release(client, colleague, task_id), 409, "conflict")
    taken = claim(client, colleague, task_id, "?take_over=true")
    assert taken.status_code == 200
    assert taken.get_json() == {"claimed_by": "user:verifikator2", "taken_from": "user:verifikator"}
    freed = release(client, colleague, task_id)
    assert freed.status_code == 200
    assert freed.get_json() == {"claimed_by": None, "taken_from": None}
    assert detail(client, tokens["verifikator"], task_id)["claimed_by"] is None
    assert version_of(session_factory, number) == version
    with session_factory() as session:
        assert audit.verify(session) == []
        actions = list(
            session.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.action.in_(("task_claimed", "task_taken_over", "task_released")))
                .order_by(AuditEvent.id)
            )
        )
    assert actions == ["task_claimed", "task_taken_over", "task_released"]
    # The version the form was opened with still completes the task.
    done = client.post(
        f"/api/v1/tasks/{task_id}/complete",
        json={"data": {"decision": "route"}, "version": version},
        headers=bearer(tokens["verifikator"]),
    )
    assert done.status_code == 200, done.get_json()


def test_another_groups_officer_cannot_claim_over_the_api(client, tokens):
    number = report(client)
    task_id = task_of(client, tokens["verifikator"], number)["id"]
    assert_error(claim(client, tokens["petugas_dpupr"], task_id), 403, "forbidden")
    assert_error(claim(client, tokens["petugas_dpupr"], task_id, "?take_over=1"), 403)
    assert_error(release(client, tokens["petugas_dpupr"], task_id), 403, "forbidden")
    assert_error(claim(client, tokens["verifikator"], 999999), 404, "not_found")


def test_claiming_a_completed_task_is_a_conflict(client, tokens):
    number = report(client)
    task_id = task_of(client, tokens["verifikator"], number)["id"]
    complete(client, tokens["verifikator"], number, {"decision": "route"})
    assert_error(claim(client, tokens["verifikator"], task_id), 409, "conflict")


def test_the_web_session_may_claim_too(app, client, session_factory):
    from tests.web.officer_helpers import signed_in_client

    number = report(client)
    officer = signed_in_client(app, "verifikator")
    task_id = task_of(client, _token(session_factory, "verifikator"), number)["id"]
    response = officer.post(f"/api/v1/tasks/{task_id}/claim")
    assert response.status_code == 200
    assert response.get_json()["claimed_by"] == "user:verifikator"


def _token(session_factory, username: str) -> str:
    with session_factory.begin() as session:
        return create_token(session, username=username, name="t", now=NOW)


# -- 401 --------------------------------------------------------------------------------------

CALLS = [
    ("get", "/api/v1/tasks"),
    ("get", "/api/v1/tasks/1"),
    ("post", "/api/v1/tasks/1/claim"),
    ("post", "/api/v1/tasks/1/claim?take_over=true"),
    ("post", "/api/v1/tasks/1/release"),
    ("post", "/api/v1/tasks/1/complete"),
]
HEADERS = {
    "none": {},
    "unknown token": {"Authorization": "Bearer lk_not-a-real-token"},
    "basic": {"Authorization": "Basic dXNlcjpwYXNz"},
    "empty bearer": {"Authorization": "Bearer "},
}


@pytest.mark.parametrize(("method", "path"), CALLS)
@pytest.mark.parametrize("headers", list(HEADERS), ids=list(HEADERS))
def test_every_401_says_how_to_authenticate(client, tokens, method, path, headers):
    report(client)
    kwargs: dict[str, Any] = {"headers": HEADERS[headers]}
    if path.endswith("/complete"):
        kwargs["json"] = {"data": {"decision": "route"}}
    response = getattr(client, method)(path, **kwargs)
    assert_error(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_an_expired_token_is_401(client, session_factory):
    with session_factory.begin() as session:
        token = create_token(
            session,
            username="verifikator",
            name="old",
            now=wall_now() - timedelta(days=2),
            lifetime=timedelta(days=1),
        )
    response = client.get("/api/v1/tasks", headers=bearer(token))
    assert_error(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_token_still_valid_for_a_day_is_accepted(client, session_factory):
    with session_factory.begin() as session:
        token = create_token(
            session,
            username="verifikator",
            name="fresh",
            now=wall_now() - timedelta(days=1),
            lifetime=timedelta(days=2),
        )
    assert client.get("/api/v1/tasks", headers=bearer(token)).status_code == 200
