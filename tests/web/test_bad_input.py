"""Inputs that once answered 500 or were wrongly accepted each get a clear 4xx, on SQLite and on
PostgreSQL: deep JSON, ids beyond the database's integers, lone surrogates, NUL characters,
blank text, oversized message and form data, a chunked body of the wrong type."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from engine.inputs import MAX_DATA_BYTES
from engine.models import Ticket
from tests.web.backends import Backend
from tests.web.pages import jpeg
from tests.web.test_api import ROAD
from tests.web.test_api import assert_error
from tests.web.test_api import bearer
from tests.web.test_api import snapshot
from tests.web.test_api import task_of

DEEP = "[" * 5000 + "]" * 5000
BIG_IDS = [2**31, 2**63, 2**64 + 1]


@pytest.fixture
def client(backend: Backend) -> FlaskClient:
    return backend.app.test_client()


def report(client: FlaskClient, **fields: Any) -> dict[str, Any]:
    response = client.post("/api/v1/tickets", json={**ROAD, **fields})
    assert response.status_code == 201, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def complete(client: FlaskClient, token: str, number: str, data: dict[str, Any]) -> Any:
    task = task_of(client, token, number)
    return client.post(
        f"/api/v1/tasks/{task['id']}/complete",
        json={"data": data, "version": task["version"]},
        headers=bearer(token),
    )


def in_handling(client: FlaskClient, tokens: dict[str, str]) -> str:
    number: str = report(client)["number"]
    assert complete(client, tokens["verifikator"], number, {"decision": "route"}).status_code == 200
    accepted = complete(
        client, tokens["petugas_dpupr"], number, {"decision": "accept", "complexity": "simple"}
    )
    assert accepted.status_code == 200, accepted.get_json()
    return number


def post_raw(client: FlaskClient, path: str, text: str, token: str | None = None) -> Any:
    headers = {"Content-Type": "application/json", **(bearer(token) if token else {})}
    return client.post(path, data=text.encode("utf-8", "surrogatepass"), headers=headers)


# -- deep JSON -----------------------------------------------------------------------------------


def test_json_nested_thousands_deep_is_400_even_without_a_token(backend, client):
    before = snapshot(backend.factory)
    for path in ("/api/v1/tickets", "/api/v1/tasks/1/complete", "/api/v1/tickets/LK-0/messages"):
        error = assert_error(post_raw(client, path, DEEP), 400, "bad_request")
        assert "nested deeper" in error["message"]
    ticket = json.dumps({**ROAD, "location": {"address": json.loads("[" * 40 + "]" * 40)}})
    assert_error(post_raw(client, "/api/v1/tickets", ticket), 400, "bad_request")
    assert snapshot(backend.factory) == before


def test_a_deep_ticket_part_of_a_multipart_report_is_400(backend, client):
    response = client.post(
        "/api/v1/tickets", data={"ticket": DEEP}, content_type="multipart/form-data"
    )
    assert_error(response, 400, "bad_request")


def test_a_misspelt_multipart_part_is_named_not_dropped(backend, client):
    # "photo" for "photos": the report would have gone in without its picture.
    before = snapshot(backend.factory)
    response = client.post(
        "/api/v1/tickets",
        data={"ticket": json.dumps(ROAD), "photo": (io.BytesIO(jpeg()), "lubang.jpg")},
        content_type="multipart/form-data",
    )
    error = assert_error(response, 422, "invalid_input")
    assert list(error["fields"]) == ["photo"]
    assert snapshot(backend.factory) == before


# -- ids beyond the database's integers ----------------------------------------------------------


@pytest.mark.parametrize("big", BIG_IDS)
def test_an_id_beyond_the_databases_integers_is_404_in_every_path(backend, client, big):
    admin = bearer(backend.tokens["admin"])
    for method, path in [
        ("get", f"/api/v1/tasks/{big}"),
        ("post", f"/api/v1/tasks/{big}/claim"),
        ("post", f"/api/v1/tasks/{big}/release"),
        ("post", f"/api/v1/tasks/{big}/complete"),
        ("post", f"/api/v1/incidents/{big}/resolve"),
        ("get", f"/api/v1/definitions/{big}/files"),
        ("get", f"/api/v1/definitions/{big}/files/complaint.bpmn"),
        ("get", f"/foto/{big}"),
    ]:
        response = getattr(client, method)(
            path, headers=admin, json={} if method == "post" else None
        )
        assert response.status_code == 404, (path, response.status_code)


def test_a_photo_id_beyond_the_databases_integers_in_a_form_is_422(backend, client):
    number = in_handling(client, backend.tokens)
    response = complete(
        client,
        backend.tokens["petugas_dpupr"],
        number,
        {"decision": "resolve", "resolution": "Ditambal", "after_photo": 2**31},
    )
    error = assert_error(response, 422, "invalid_input")
    assert "after_photo" in error["fields"]


# -- lone surrogates and NUL characters ----------------------------------------------------------


@pytest.mark.parametrize("bad", ["\ud800", "\x00"])
def test_a_lone_surrogate_or_a_nul_in_any_string_is_400(backend, client, bad):
    before = snapshot(backend.factory)
    escaped = json.dumps(bad)[1:-1]  # "\\ud800": the JSON escape, as clients send it
    for body in (
        json.dumps({**ROAD, "title": "Jalan rusak"}).replace("rusak", "rusak" + escaped),
        json.dumps({**ROAD, "reporter": {"name": "Budi", "contact": "budi@example.org"}}).replace(
            '"name"', f'"name{escaped}"'
        ),
    ):
        assert_error(post_raw(client, "/api/v1/tickets", body), 400, "bad_request")
    multipart = client.post(
        "/api/v1/tickets",
        data={"ticket": json.dumps(ROAD).replace("Merdeka", "Merdeka" + escaped)},
        content_type="multipart/form-data",
    )
    assert_error(multipart, 400, "bad_request")
    number = in_handling(client, backend.tokens)
    question = json.dumps({"data": {"decision": "need_info", "question": "Di mana?"}})
    response = post_raw(
        client,
        f"/api/v1/tasks/{task_of(client, backend.tokens['petugas_dpupr'], number)['id']}/complete",
        question.replace("mana", "mana" + escaped),
        backend.tokens["petugas_dpupr"],
    )
    assert_error(response, 400, "bad_request")
    with backend.factory() as session:
        titles = list(session.scalars(select(Ticket.title)))
    assert all(bad not in title for title in titles)
    assert len(titles) == before[0] + 1


def test_a_nul_in_a_query_parameter_or_a_form_field_is_400(backend, client):
    supervisor = bearer(backend.tokens["pengawas"])
    response = client.get("/api/v1/oversight/overdue?opd=dlh&opd=%00", headers=supervisor)
    assert_error(response, 400, "bad_request")
    assert_error(client.get("/api/v1/oversight/stats?%00=1", headers=supervisor), 400)
    form = client.post(
        "/api/v1/tickets",
        data={"ticket": json.dumps(ROAD), "x\x00": "1"},
        content_type="multipart/form-data",
    )
    assert_error(form, 400, "bad_request")


# -- blank text ----------------------------------------------------------------------------------


@pytest.mark.parametrize("blank", ["   ", "\t\n ", "\u200b\u200b\u200b", "\u3000\u3000\u3000"])
def test_a_title_of_blanks_is_422_and_nothing_is_stored(backend, client, blank):
    before = snapshot(backend.factory)
    error = assert_error(client.post("/api/v1/tickets", json={**ROAD, "title": blank}), 422)
    assert "title" in error["fields"]
    assert snapshot(backend.factory) == before


def test_text_is_stored_without_the_blanks_around_it(backend, client):
    number = report(client, title="\u200b  Jalan berlubang \u3000")["number"]
    with backend.factory() as session:
        title = session.scalars(select(Ticket.title).where(Ticket.number == number)).one()
    assert title == "Jalan berlubang"


@pytest.mark.parametrize("blank", ["   ", "\u200b \u200b"])
def test_a_question_of_blanks_is_422(backend, client, blank):
    number = in_handling(client, backend.tokens)
    response = complete(
        client,
        backend.tokens["petugas_dpupr"],
        number,
        {"decision": "need_info", "question": blank},
    )
    error = assert_error(response, 422, "invalid_input")
    assert "question" in error["fields"]


# -- sizes and types of bodies -------------------------------------------------------------------


def test_a_15_mb_reply_is_413_and_never_reaches_the_process(backend, client):
    number = in_handling(client, backend.tokens)
    before = snapshot(backend.factory)
    response = client.post(
        f"/api/v1/tickets/{number}/messages",
        json={"message": "reporter_reply", "data": {"text": "x" * (15 * 1024 * 1024)}},
        headers=bearer(backend.tokens["verifikator"]),
    )
    assert_error(response, 413, "too_large")
    assert snapshot(backend.factory) == before


def test_reply_data_beyond_the_pages_limits_is_422(backend, client):
    number = in_handling(client, backend.tokens)
    verifier = bearer(backend.tokens["verifikator"])
    for data in ({"text": "x" * 4001}, {"text": " "}, {"photo": "x"}):
        response = client.post(
            f"/api/v1/tickets/{number}/messages",
            json={"message": "reporter_reply", "data": data},
            headers=verifier,
        )
        assert_error(response, 422, "invalid_input")


def test_form_data_over_its_limit_is_413(backend, client):
    number = in_handling(client, backend.tokens)
    before = snapshot(backend.factory)
    data = {"decision": "need_info", "question": "x" * (MAX_DATA_BYTES + 1)}
    response = complete(client, backend.tokens["petugas_dpupr"], number, data)
    assert_error(response, 413, "too_large")
    assert snapshot(backend.factory) == before


def test_a_chunked_text_body_is_415(backend, client):
    before = snapshot(backend.factory)
    response = client.post(
        "/api/v1/tickets",
        input_stream=io.BytesIO(b"hello"),  # no Content-Length: sent in chunks
        headers={"Content-Type": "text/plain", "Transfer-Encoding": "chunked"},
    )
    assert_error(response, 415, "unsupported_media_type")
    assert snapshot(backend.factory) == before
