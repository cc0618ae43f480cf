"""HTTP as partners expect it from /api/v1: Location, Allow, WWW-Authenticate, ETag and 304,
CORS for configured origins, ticket numbers in any case, 401 before the body is read; and
what a partner's screens need (categories, kecamatan, statuses, a ticket's timeline).
On SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import update

from engine import demo
from engine.models import Category
from engine.settings import Settings
from tests.conftest import WORKFLOWS
from tests.web.backends import Backend
from tests.web.pages import Driven
from tests.web.pages import jpeg
from tests.web.pages import multipart
from tests.web.test_api import ROAD
from tests.web.test_api import assert_error
from tests.web.test_api import bearer
from tests.web.test_authorization_matrix import EXPECTED
from tests.web.test_authorization_matrix import PUBLIC

PARTNER = "https://partner.example"


def with_cors(app: Flask, *origins: str) -> None:
    settings: Settings = app.config["LAKSA_SETTINGS"]
    app.config["LAKSA_SETTINGS"] = dataclasses.replace(settings, cors_origins=origins)


PUBLIC_DOCUMENTS = {"api-docs.openapi_json", "api_docs"}  # the API's document and its page


def api_rules(app: Flask) -> list[tuple[str, str, str]]:
    """(endpoint, method, path) of every /api/v1 route, built with harmless values."""
    values = {"number": "LK-00000000", "task_id": 1, "incident_id": 1, "bundle_id": 1}
    values["name"] = "complaint.bpmn"
    values["external_id"] = "ref-1"
    found = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.endpoint in PUBLIC_DOCUMENTS:
            continue
        path = rule.build({k: values[k] for k in rule.arguments})[1]  # type: ignore[index]
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            found.append((rule.endpoint, method, path))
    return found


# -- Location, Allow, WWW-Authenticate ----------------------------------------------------------


def test_every_201_names_what_it_created_in_location(backend: Backend):
    client = backend.client()
    created = client.post("/api/v1/tickets", json=ROAD)
    assert created.headers["Location"] == created.get_json()["url"]
    assert (
        client.get(created.headers["Location"]).get_json()["number"] == created.get_json()["number"]
    )
    parts = {"ticket": json.dumps(ROAD), "photos": [(jpeg(), "a.jpg")]}
    with_photo = client.post("/api/v1/tickets", **multipart(parts))
    assert with_photo.status_code == 201
    assert with_photo.headers["Location"] == with_photo.get_json()["url"]
    ticket = Driven(client, backend.tokens)
    ticket.to_handling()
    photo = client.post(
        f"/api/v1/tickets/{ticket.number}/attachments",
        **multipart({"purpose": "after", "photo": (jpeg(), "b.jpg")}),
        headers=bearer(backend.tokens["petugas_dpupr"]),
    )
    assert photo.status_code == 201
    assert photo.headers["Location"] == photo.get_json()["url"]
    # The contract says so for every 201 the API documents.
    spec = client.get("/api/v1/openapi.json").get_json()
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if isinstance(operation, dict) and "201" in operation.get("responses", {}):
                assert "Location" in operation["responses"]["201"].get("headers", {}), (
                    method,
                    path,
                )


def test_a_method_the_resource_does_not_take_is_405_with_allow(backend: Backend):
    client = backend.client()
    number = client.post("/api/v1/tickets", json=ROAD).get_json()["number"]
    for method, path, allowed in [
        ("DELETE", "/api/v1/tickets", {"POST"}),
        ("PUT", f"/api/v1/tickets/{number}", {"GET", "HEAD"}),
        ("GET", "/api/v1/tasks/1/complete", {"POST"}),
    ]:
        answer = client.open(path, method=method)
        assert_error(answer, 405, "method_not_allowed")
        assert allowed <= set(answer.headers["Allow"].split(", ")), (path, answer.headers["Allow"])
        assert method not in answer.headers["Allow"]


def test_every_401_of_the_api_challenges_for_a_bearer_token_before_reading_the_body(
    backend: Backend,
):
    client = backend.client()
    checked = 0
    for endpoint, method, path in api_rules(backend.app):
        if EXPECTED.get(endpoint) == PUBLIC and endpoint != "replies.TicketMessages":
            continue
        # A body and a query that would be refused (422) if they were read first.
        for headers in ({}, {"Authorization": "Bearer not-a-token"}):
            answer = client.open(
                f"{path}?limit=-5&include_resolved=maybe&from=never",
                method=method,
                json={"not": "a field", "data": 5, "message": "nonsense"},
                headers=headers,
            )
            assert_error(answer, 401, "unauthorized")
            assert answer.headers["WWW-Authenticate"].startswith("Bearer"), (method, path)
            checked += 1
        if method == "POST":  # a body of a type it does not take: still 401 first, not 415
            plain = client.post(path, data="text", content_type="text/plain")
            assert_error(plain, 401, "unauthorized")
    assert checked >= 2 * 12


# -- ETag and conditional GET -----------------------------------------------------------------


def test_ticket_views_answer_304_while_the_etag_still_matches(backend: Backend):
    client = backend.client()
    ticket = Driven(client, backend.tokens)
    views = [
        (f"/api/v1/tickets/{ticket.number}", {}),
        (f"/api/v1/tickets/{ticket.number}/timeline", {}),
        (f"/api/v1/tickets/{ticket.number}/reporter", {"X-Reporter-Secret": ticket.secret}),
    ]
    etags = {}
    for path, headers in views:
        first = client.get(path, headers=headers)
        etag = first.headers["ETag"]
        same = client.get(path, headers={**headers, "If-None-Match": etag})
        assert (same.status_code, same.data) == (304, b"")
        assert same.headers["ETag"] == etag
        english = client.get(path + "?lang=en", headers={**headers, "If-None-Match": etag})
        assert english.status_code == 200  # another language, another body
        assert "Accept-Language" in first.headers["Vary"]
        etags[path] = etag
    ticket.complete("verifikator", {"decision": "route"})
    for path, headers in views:
        changed = client.get(path, headers={**headers, "If-None-Match": etags[path]})
        assert changed.status_code == 200
        assert changed.headers["ETag"] != etags[path]
    assert "Authorization" in changed.headers["Vary"]  # what a viewer sees depends on who


# -- CORS ---------------------------------------------------------------------------------------


def test_cors_only_for_configured_origins(backend: Backend):
    app, client = backend.app, backend.client()
    with_cors(app, PARTNER)
    allowed = client.get("/api/v1/categories", headers={"Origin": PARTNER})
    assert allowed.headers["Access-Control-Allow-Origin"] == PARTNER
    assert "Origin" in allowed.headers["Vary"]
    assert "Location" in allowed.headers["Access-Control-Expose-Headers"]
    assert "Access-Control-Allow-Credentials" not in allowed.headers
    created = client.post("/api/v1/tickets", json=ROAD, headers={"Origin": PARTNER})
    assert created.headers["Access-Control-Allow-Origin"] == PARTNER
    refused = client.post("/api/v1/tasks/1/complete", json={}, headers={"Origin": PARTNER})
    assert refused.status_code == 401
    assert refused.headers["Access-Control-Allow-Origin"] == PARTNER  # the app can read why
    other = client.get("/api/v1/categories", headers={"Origin": "https://evil.example"})
    assert other.status_code == 200
    assert not [h for h, _ in other.headers.items() if h.startswith("Access-Control-")]
    page = client.get("/", headers={"Origin": PARTNER})
    assert "Access-Control-Allow-Origin" not in page.headers  # the pages are not an API
    with_cors(app)
    unset = client.get("/api/v1/categories", headers={"Origin": PARTNER})
    assert "Access-Control-Allow-Origin" not in unset.headers


def test_a_preflight_is_answered_for_configured_origins_only(backend: Backend):
    app, client = backend.app, backend.client()
    with_cors(app, PARTNER, "http://localhost:3000")
    asked = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type, idempotency-key",
    }
    answer = client.options("/api/v1/tickets", headers={"Origin": PARTNER, **asked})
    assert answer.status_code in (200, 204)
    assert answer.headers["Access-Control-Allow-Origin"] == PARTNER
    assert "POST" in answer.headers["Access-Control-Allow-Methods"]
    allowed_headers = answer.headers["Access-Control-Allow-Headers"].lower()
    for header in ("authorization", "content-type", "idempotency-key", "if-none-match"):
        assert header in allowed_headers
    assert int(answer.headers["Access-Control-Max-Age"]) > 0
    stranger = client.options(
        "/api/v1/tickets", headers={"Origin": "https://evil.example", **asked}
    )
    assert not [h for h, _ in stranger.headers.items() if h.startswith("Access-Control-")]


def test_cors_origins_are_read_from_the_environment(tmp_path):
    env = {
        "LAKSA_HOME": str(tmp_path),
        "LAKSA_SECRET_KEY": "x",
        "LAKSA_CORS_ORIGINS": " https://a.example/, http://localhost:3000 ,,",
    }
    assert Settings.from_env(env).cors_origins == ("https://a.example", "http://localhost:3000")
    assert Settings.from_env({**env, "LAKSA_CORS_ORIGINS": ""}).cors_origins == ()


# -- ticket numbers in any case -----------------------------------------------------------------


def test_ticket_numbers_are_matched_without_regard_to_case(backend: Backend):
    client = backend.client()
    ticket = Driven(client, backend.tokens)
    ticket.to_handling()
    secret = {"X-Reporter-Secret": ticket.secret}
    for written in (ticket.number.lower(), ticket.number[3:].lower(), "lk" + ticket.number[3:]):
        for path, headers in [
            (f"/api/v1/tickets/{written}", {}),
            (f"/api/v1/tickets/{written}/timeline", {}),
            (f"/api/v1/tickets/{written}/reporter", secret),
        ]:
            answer = client.get(path, headers=headers)
            assert answer.status_code == 200, (path, answer.get_json())
            body = answer.get_json()
            assert body["number"] == ticket.number
    ticket.complete("petugas_dpupr", {"decision": "need_info", "question": "Di mana tepatnya?"})
    reply = client.post(
        f"/api/v1/tickets/{ticket.number.lower()}/messages",
        json={"message": "reporter_reply", "data": {"text": "Depan sekolah"}},
        headers=secret,
    )
    assert reply.status_code == 200, reply.get_json()
    assert reply.get_json()["ticket"] == ticket.number
    photo = client.post(
        f"/api/v1/tickets/{ticket.number.lower()}/attachments",
        **multipart({"purpose": "after", "photo": (jpeg(), "a.jpg")}),
        headers=bearer(backend.tokens["petugas_dpupr"]),
    )
    assert photo.status_code == 201, photo.get_json()


# -- what a partner's screens need ----------------------------------------------------------------


def test_categories_in_both_languages(backend: Backend):
    with backend.factory.begin() as session:
        session.add(Category(code="banjir", name="Banjir", infrastructure=True, active=True))
        session.add(Category(code="lama", name="Kategori lama", active=False))
    client = backend.client()
    indonesian = {c["code"]: c for c in client.get("/api/v1/categories").get_json()}
    english = {c["code"]: c for c in client.get("/api/v1/categories?lang=en").get_json()}
    assert indonesian["jalan_rusak"]["name"] == "Jalan rusak"
    assert english["jalan_rusak"]["name"] == "Damaged road"
    assert english["jalan_rusak"]["labels"] == {"id": "Jalan rusak", "en": "Damaged road"}
    assert english["jalan_rusak"]["infrastructure"] is True
    assert english["banjir"]["labels"] == {"id": "Banjir", "en": "Banjir"}  # no English yet
    assert "lama" not in english  # no longer offered
    by_header = client.get("/api/v1/categories", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert {c["code"]: c["name"] for c in by_header.get_json()}["sampah"] == (
        "Rubbish not collected"
    )
    # Every category the demo city seeds has its English name.
    assert all(c["labels"]["en"] != c["labels"]["id"] for k, c in english.items() if k != "banjir")


def test_init_demo_gives_an_older_databases_categories_their_english_names(backend: Backend):
    with backend.factory.begin() as session:
        session.execute(update(Category).values(name_en=None))  # as before the column
    with backend.factory.begin() as session:
        demo.ensure_demo_city(session)
    with backend.factory() as session:
        assert session.get(Category, "parkir_liar").name_en == "Illegal parking"  # type: ignore[union-attr]
        assert session.scalar(select(func.count()).where(Category.name_en.is_(None))) == 0


def test_kecamatan_and_statuses_for_the_partners_screens(backend: Backend):
    client = backend.client()
    kecamatan = client.get("/api/v1/kecamatan").get_json()
    assert len(kecamatan) == 13
    assert {"code": "cipondoh", "name": "Cipondoh"} in kecamatan
    statuses = client.get("/api/v1/statuses?lang=en").get_json()
    table = json.loads((WORKFLOWS / "statuses.json").read_text())
    assert [s["code"] for s in statuses] == list(table)
    for status in statuses:
        spec = table[status["code"]]
        assert status["labels"] == spec["label"]
        assert status["label"] == spec["label"]["en"]
        assert (status["colour"], status["open"]) == (spec["colour"], spec["open"])
    # A ticket filed with a listed kecamatan and category shows a listed status.
    body = {**ROAD, "location": {"kecamatan": kecamatan[0]["name"]}}
    created = client.post("/api/v1/tickets", json=body).get_json()
    assert created["status"] in {s["code"] for s in statuses}


def test_the_timeline_is_the_ticket_views_timeline_for_each_viewer(backend: Backend):
    client = backend.client()
    ticket = Driven(client, backend.tokens, photos=[jpeg()])
    ticket.to_handling()
    ticket.ask("Di sisi jalan yang mana?")
    public = client.get(f"/api/v1/tickets/{ticket.number}/timeline?lang=en").get_json()
    view = client.get(f"/api/v1/tickets/{ticket.number}?lang=en").get_json()
    assert public == {"number": ticket.number, "timeline": view["timeline"]}
    statuses = [e for e in public["timeline"] if e["kind"] == "status"]
    assert [e["status"] for e in statuses][:3] == ["received", "verification", "dispatched"]
    assert all(e["status_label"] and e["status_colour"] for e in statuses)
    assert {e["audience"] for e in public["timeline"]} == {"public"}
    secret = {"X-Reporter-Secret": ticket.secret}
    own = client.get(f"/api/v1/tickets/{ticket.number}/timeline", headers=secret).get_json()
    assert any(e["text"] == "Di sisi jalan yang mana?" for e in own["timeline"])
    assert own["timeline"] == ticket.reporter_view()["timeline"]
    wrong = client.get(
        f"/api/v1/tickets/{ticket.number}/timeline", headers={"X-Reporter-Secret": "nope"}
    )
    assert_error(wrong, 404)
    # Photos are URLs in the views; each one answers.
    for photo in ticket.public()["photos"]:
        assert client.get(photo["url"]).status_code == 200
        assert client.get(photo["thumbnail_url"]).status_code == 200


def test_a_confidential_tickets_timeline_is_not_public(backend: Backend):
    client = backend.client()
    ticket = Driven(client, backend.tokens, confidential=True)
    assert_error(client.get(f"/api/v1/tickets/{ticket.number}/timeline"), 404)
    own = client.get(
        f"/api/v1/tickets/{ticket.number}/timeline", headers={"X-Reporter-Secret": ticket.secret}
    )
    assert own.status_code == 200
    desk = client.get(
        f"/api/v1/tickets/{ticket.number}/timeline",
        headers=bearer(backend.tokens["verifikator"]),
    )
    assert desk.status_code == 200


@pytest.mark.parametrize("lang", ["id", "en"])
def test_status_labels_of_views_match_the_status_list(backend: Backend, lang: str):
    client = backend.client()
    labels = {s["code"]: s for s in client.get(f"/api/v1/statuses?lang={lang}").get_json()}
    number = client.post("/api/v1/tickets", json=ROAD).get_json()["number"]
    view: dict[str, Any] = client.get(f"/api/v1/tickets/{number}?lang={lang}").get_json()
    assert view["status_label"] == labels[view["status"]]["label"]
    assert view["status_colour"] == labels[view["status"]]["colour"]
