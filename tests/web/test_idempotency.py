"""Idempotency-Key on POST /api/v1/tickets and on task completion, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func
from sqlalchemy import select

from engine import commands
from engine import idempotency
from engine import partners
from engine.models import Attachment
from engine.models import IdempotencyKey
from engine.models import Ticket
from tests.conftest import NOW
from tests.web.backends import Backend
from tests.web.pages import jpeg
from tests.web.pages import multipart
from tests.web.test_api import ROAD
from tests.web.test_api import assert_error
from tests.web.test_api import bearer
from tests.web.test_api import task_of

TICKETS = "/api/v1/tickets"


def key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


def count(backend: Backend, model: Any = Ticket) -> int:
    with backend.factory() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_a_retried_report_answers_the_first_answer_and_files_nothing_new(backend):
    client, headers = backend.client(), key()
    first = client.post(TICKETS, json=ROAD, headers=headers)
    again = client.post(TICKETS, json=ROAD, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json()
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert count(backend) == 1
    # Without a key the same body is a second report, as before.
    assert client.post(TICKETS, json=ROAD).status_code == 201
    assert count(backend) == 2


def test_the_same_key_with_another_body_is_refused(backend):
    client, headers = backend.client(), key()
    assert client.post(TICKETS, json=ROAD, headers=headers).status_code == 201
    other = client.post(TICKETS, json={**ROAD, "title": "Another hole"}, headers=headers)
    error = assert_error(other, 422, "idempotency_key_reused")
    assert "Idempotency-Key" in error["fields"]
    assert count(backend) == 1


def test_json_key_order_and_spacing_do_not_make_another_request(backend):
    client, headers = backend.client(), key()
    body = '{"title": "%s", "category": "jalan_rusak", "description": "%s", "reporter": %s}'
    text = body % (ROAD["title"], ROAD["description"], '{"contact": "budi@example.org"}')
    spaced = text.replace(": ", ":   ")
    json_type = {**headers, "Content-Type": "application/json"}
    first = client.post(TICKETS, data=text, headers=json_type)
    again = client.post(TICKETS, data=spaced, headers=json_type)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.get_json()["number"] == first.get_json()["number"]
    assert count(backend) == 1


def test_a_request_in_progress_with_the_key_answers_409(backend):
    headers = key()
    now = datetime.now(UTC)
    client = backend.client()
    with backend.app.test_request_context(TICKETS, method="POST", json=ROAD):
        from web.api.idempotency import request_fingerprint

        fingerprint = request_fingerprint()
    with backend.factory.begin() as session:
        idempotency.claim(
            session, scope="", key=headers["Idempotency-Key"], fingerprint=fingerprint, now=now
        )
    assert_error(client.post(TICKETS, json=ROAD, headers=headers), 409, "idempotency_key_in_use")
    assert count(backend) == 0


def test_a_failed_request_gives_its_key_back(backend):
    client, headers = backend.client(), key()
    refused = client.post(TICKETS, json={**ROAD, "category": ""}, headers=headers)
    assert_error(refused, 422, "invalid_input")
    assert count(backend, IdempotencyKey) == 0
    assert client.post(TICKETS, json=ROAD, headers=headers).status_code == 201
    assert count(backend) == 1


def test_keys_belong_to_who_sent_them(backend):
    headers = key()
    client = backend.client()
    public = client.post(TICKETS, json=ROAD, headers=headers)
    desk = client.post(
        TICKETS, json=ROAD, headers={**headers, **bearer(backend.tokens["verifikator"])}
    )
    officer = client.post(
        TICKETS, json=ROAD, headers={**headers, **bearer(backend.tokens["petugas_dlh"])}
    )
    numbers = {r.get_json()["number"] for r in (public, desk, officer)}
    assert len(numbers) == 3
    assert count(backend) == 3


def test_a_partners_keys_share_its_idempotency_keys(backend):
    with backend.factory.begin() as session:
        keys = []
        for code in ("kanal-kota", "bot-wa"):
            partners.create_partner(session, code=code, name=code, now=NOW)
        for code in ("kanal-kota", "kanal-kota", "bot-wa"):
            keys.append(
                partners.create_key(session, partner_code=code, scopes=[partners.SUBMIT], now=NOW)[
                    1
                ]
            )
    client, headers = backend.client(), key()
    first, rotated, other = (
        client.post(TICKETS, json=ROAD, headers={**headers, **bearer(k)}) for k in keys
    )
    assert (first.status_code, rotated.status_code, other.status_code) == (201, 201, 201)
    assert rotated.get_json() == first.get_json()  # another key of the same partner
    assert rotated.headers["Idempotent-Replayed"] == "true"
    assert other.get_json()["number"] != first.get_json()["number"]  # another partner
    assert count(backend) == 2


@pytest.mark.parametrize("bad", ["short", "x" * 256, "has a space in it ok", "é" * 20])
def test_an_unusable_key_is_refused(backend, bad):
    response = backend.client().post(
        TICKETS, json=ROAD, headers={"Idempotency-Key": bad.encode().decode("latin-1")}
    )
    assert "Idempotency-Key" in assert_error(response, 422, "invalid_input")["fields"]
    assert count(backend) == 0


def test_a_multipart_report_with_photos_is_replayed_by_its_parts(backend):
    client, headers = backend.client(), key()
    photo = jpeg()
    parts = {"ticket": json.dumps(ROAD), "photos": [(photo, "a.jpg")]}
    first = client.post(TICKETS, headers=headers, **multipart(parts))
    again = client.post(TICKETS, headers=headers, **multipart(parts))  # a new boundary
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.get_json() == first.get_json()
    assert count(backend) == 1
    assert count(backend, Attachment) == 1
    other = {**parts, "photos": [(jpeg(colour=(0, 0, 255)), "a.jpg")]}
    assert_error(
        client.post(TICKETS, headers=headers, **multipart(other)), 422, "idempotency_key_reused"
    )
    assert count(backend, Attachment) == 1


def test_a_retried_task_completion_answers_the_first_answer(backend):
    client = backend.client()
    number = client.post(TICKETS, json=ROAD).get_json()["number"]
    desk = backend.tokens["verifikator"]
    task = task_of(client, desk, number)
    path = f"/api/v1/tasks/{task['id']}/complete"
    body = {"data": {"decision": "route"}, "version": task["version"]}
    headers = {**key(), **bearer(desk)}
    first = client.post(path, json=body, headers=headers)
    again = client.post(path, json=body, headers=headers)
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    # Without the key the retry is a conflict: the task is done.
    assert_error(client.post(path, json=body, headers=bearer(desk)), 409)
    with backend.factory() as session:
        ticket = session.scalars(select(Ticket)).one()
        assert ticket.status == first.get_json()["status"] == "dispatched"


def test_concurrent_retries_with_one_key_file_one_ticket(backend, monkeypatch):
    slow_submit = commands.submit_ticket

    def submit(*args: Any, **kwargs: Any) -> Any:
        time.sleep(0.3)  # hold the claim while the others arrive
        return slow_submit(*args, **kwargs)

    monkeypatch.setattr(commands, "submit_ticket", submit)
    headers, start = key(), threading.Barrier(4)
    answers: list[Any] = []

    def post() -> None:
        client = backend.client()
        start.wait()
        answers.append(client.post(TICKETS, json=ROAD, headers=headers))

    threads = [threading.Thread(target=post) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    statuses = sorted(a.status_code for a in answers)
    assert statuses.count(201) >= 1, statuses
    assert set(statuses) <= {201, 409}, statuses
    assert len({a.get_json()["number"] for a in answers if a.status_code == 201}) == 1
    for refused in (a for a in answers if a.status_code == 409):
        assert refused.get_json()["error"]["code"] == "idempotency_key_in_use"
    assert count(backend) == 1
    later = backend.client().post(TICKETS, json=ROAD, headers=headers)
    assert later.headers["Idempotent-Replayed"] == "true"


def test_two_sessions_claiming_one_key_at_once_make_one_claim(backend):
    """The unique constraint decides: the second claim waits for the first and sees it."""
    now = datetime.now(UTC)
    arguments = {"scope": "token:1", "key": "k" * 20, "fingerprint": "f" * 64, "now": now}
    outcome: list[Any] = []
    with backend.factory() as first:
        mine = idempotency.claim(first, **arguments)
        first.flush()

        def second() -> None:
            with backend.factory() as other:
                try:
                    outcome.append(idempotency.claim(other, **arguments))
                    other.commit()
                except idempotency.KeyInUse as exc:
                    outcome.append(exc)

        thread = threading.Thread(target=second)
        thread.start()
        time.sleep(0.5)
        assert outcome == []  # waiting for the first transaction
        first.commit()
        thread.join(timeout=30)
    assert isinstance(mine, idempotency.Claimed)
    assert len(outcome) == 1
    assert isinstance(outcome[0], idempotency.KeyInUse)
    assert count(backend, IdempotencyKey) == 1


def test_a_dead_requests_claim_is_taken_over_and_its_answer_refused(backend):
    then = datetime.now(UTC) - idempotency.LEASE - timedelta(seconds=1)
    arguments = {"scope": "", "key": "d" * 20, "fingerprint": "f" * 64}
    with backend.factory.begin() as session:
        dead = idempotency.claim(session, **arguments, now=then)
    with backend.factory.begin() as session:
        alive = idempotency.claim(session, **arguments, now=datetime.now(UTC))
    assert isinstance(dead, idempotency.Claimed)
    assert isinstance(alive, idempotency.Claimed)
    assert alive.id == dead.id
    with backend.factory() as session, pytest.raises(idempotency.KeyInUse):
        idempotency.finish(session, dead, status=201, body="{}", location=None)
    with backend.factory.begin() as session:
        idempotency.finish(session, alive, status=201, body='{"a": 1}', location="/x")
    with backend.factory.begin() as session:
        answer = idempotency.claim(session, **arguments, now=datetime.now(UTC))
    assert answer == idempotency.Answer(201, '{"a": 1}', "/x")


def test_keys_expire_and_are_swept(backend):
    client, headers = backend.client(), key()
    first = client.post(TICKETS, json=ROAD, headers=headers).get_json()["number"]
    later = datetime.now(UTC) + idempotency.LIFETIME + timedelta(seconds=1)
    assert idempotency.sweep(backend.factory, now=datetime.now(UTC)) == 0
    assert idempotency.sweep(backend.factory, now=later) == 1
    assert count(backend, IdempotencyKey) == 0
    again = client.post(TICKETS, json=ROAD, headers=headers)
    assert again.status_code == 201
    assert again.get_json()["number"] != first
    assert "Idempotent-Replayed" not in again.headers


def test_an_expired_key_not_yet_swept_is_claimed_afresh(backend):
    arguments = {"scope": "token:9", "key": "e" * 20}
    then = datetime.now(UTC)
    with backend.factory.begin() as session:
        old = idempotency.claim(session, **arguments, fingerprint="a" * 64, now=then)
        assert isinstance(old, idempotency.Claimed)
        idempotency.finish(session, old, status=201, body="{}", location=None)
    later = then + idempotency.LIFETIME
    with backend.factory.begin() as session:  # another body: fine once the key expired
        new = idempotency.claim(session, **arguments, fingerprint="b" * 64, now=later)
    assert isinstance(new, idempotency.Claimed)
    assert new.token != old.token
    with backend.factory() as session:
        row = session.scalars(select(IdempotencyKey)).one()  # the old row is gone
        assert (row.fingerprint, row.claim, row.status) == ("b" * 64, new.token, None)
