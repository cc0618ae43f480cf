"""Partners' webhook subscriptions: events of their tickets written in the command's
transaction, filtered by topic, delivered through the outbox signed with each subscription's
secret, to a real HTTP server on loopback, once per event even when the deliverer is killed
in the middle of a pass and started again; failed deliveries replayed."""

from __future__ import annotations

import hashlib
import hmac
import http.server
import json
import os
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from engine import commands
from engine import outbox
from engine import partner_hooks
from engine import partners
from engine.errors import InvalidInput
from engine.identity import Actor
from engine.identity import actor_for
from engine.identity import create_user
from engine.models import OutboxMessage
from tests.conftest import NOW
from tests.engine.test_sweeper_kill import cli_env
from tests.engine.test_sweeper_kill import laksa
from tests.factories import ROAD
from tests.factories import complete
from tests.factories import correlate

LEASE_SECONDS = 2.0
NEED_INFO = {"decision": "need_info", "question": "Di depan nomor berapa?"}


@dataclass
class Receiver:
    """A webhook receiver on loopback: records what it answered 200 to; can hang once."""

    url: str
    answered: list[dict[str, Any]] = field(default_factory=list)
    unanswered: list[dict[str, Any]] = field(default_factory=list)
    hang_on: int | None = None  # the n-th request (1-based) is never answered
    status: int = 200
    hanging: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    seen: int = 0


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    lock = threading.Lock()
    state = Receiver(url="")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            record = {"path": self.path, "headers": dict(self.headers), "body": body}
            with lock:
                state.seen += 1
                hang = state.seen == state.hang_on
            if hang:
                state.unanswered.append(record)
                state.hanging.set()
                state.release.wait(60)
                return
            if state.status == 200:  # recorded before the answer, so the sender never
                with lock:  # returns before the record is there
                    state.answered.append(record)
            self.send_response(state.status)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    state.release.set()
    server.shutdown()
    server.server_close()


def _partner(factory: sessionmaker[Session]) -> Actor:
    with factory.begin() as session:
        partners.create_partner(session, code="kanal-kota", name="Kanal Kota", now=NOW)
        _, key = partners.create_key(
            session, partner_code="kanal-kota", scopes=partners.SCOPES, now=NOW
        )
    with factory() as session:
        actor = partners.actor_for_partner_key(session, key, now=NOW)
    assert actor is not None
    return actor


def _hook(factory: sessionmaker[Session], url: str, topics: tuple[str, ...]) -> tuple[int, str]:
    with factory.begin() as session:
        row = partner_hooks.create_webhook(
            session, partner_code="kanal-kota", url=url, topics=topics, now=NOW
        )
        return row.id, row.secret


def _submit(factory: sessionmaker[Session], actor: Actor, external_id: str) -> str:
    with factory.begin() as session:
        data = replace(ROAD, external_id=external_id)
        return commands.submit_ticket(session, data=data, actor=actor, now=NOW).ticket.number


def _hook_rows(factory: sessionmaker[Session]) -> list[OutboxMessage]:
    with factory() as session:
        return list(
            session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.webhook_id.is_not(None))
                .order_by(OutboxMessage.id)
            )
        )


def _lifecycle(factory: sessionmaker[Session], actors: dict[str, Actor], partner: Actor) -> None:
    """One partner ticket routed, asked a question and answered; another rejected (closed)."""
    first = _submit(factory, partner, "CHAT-1")
    complete(factory, actors["verifikator"], first, {"decision": "route"})
    complete(
        factory, actors["petugas_dpupr"], first, {"decision": "accept", "complexity": "simple"}
    )
    complete(factory, actors["petugas_dpupr"], first, NEED_INFO)
    correlate(factory, first, "reporter_reply", {"text": "Nomor 12"})
    second = _submit(factory, partner, "CHAT-2")
    complete(
        factory, actors["verifikator"], second, {"decision": "reject", "reason": "Bukan aduan"}
    )


def test_events_of_partner_tickets_are_written_per_subscription_and_topic(session_factory, actors):
    partner = _partner(session_factory)
    everything, _ = _hook(session_factory, "http://127.0.0.1:9/all", partner_hooks.TOPICS)
    closures, _ = _hook(session_factory, "http://127.0.0.1:9/closed", (partner_hooks.CLOSED,))
    off, _ = _hook(session_factory, "http://127.0.0.1:9/off", partner_hooks.TOPICS)
    with session_factory.begin() as session:
        partner_hooks.set_webhook_active(session, webhook_id=off, active=False)

    _lifecycle(session_factory, actors, partner)

    rows = _hook_rows(session_factory)
    by_hook = Counter((r.webhook_id, r.topic) for r in rows)
    assert by_hook[(closures, partner_hooks.CLOSED)] == 1
    assert {hook for hook, _ in by_hook} == {everything, closures}
    topics = [r.topic for r in rows if r.webhook_id == everything]
    assert topics.count(partner_hooks.CLOSED) == 1
    assert topics.count(partner_hooks.STATUS) >= 3  # routed, in progress, waiting, archived
    messages = [r.payload["message"] for r in rows if r.topic == partner_hooks.MESSAGE]
    texts = [m["text"] for m in messages]
    assert "Di depan nomor berapa?" in texts
    assert "Nomor 12" in texts
    assert all(r.payload["external_id"] in ("CHAT-1", "CHAT-2") for r in rows)
    closed = next(r for r in rows if r.topic == partner_hooks.CLOSED)
    assert closed.payload["external_id"] == "CHAT-2"
    assert closed.payload["closed_at"] is not None


def test_the_auditors_trail_lists_webhook_rows_by_subscription(session_factory, actors):
    from engine import audit_trail

    partner = _partner(session_factory)
    hook, _ = _hook(session_factory, "http://127.0.0.1:9/all", (partner_hooks.STATUS,))
    number = _submit(session_factory, partner, "CHAT-5")
    complete(session_factory, actors["verifikator"], number, {"decision": "route"})
    auditor = Actor(name="user:auditor", role="auditor")
    with session_factory() as session:
        notes = audit_trail.trail(session, number, actor=auditor).notifications
    hooks = [n for n in notes if n.target == f"webhook {hook}"]
    assert hooks
    assert {n.element_name for n in hooks} == {partner_hooks.STATUS}
    assert all(n.recipients == [] and n.state == "pending" for n in hooks)


def test_a_ticket_without_a_partner_reads_no_subscription(session_factory, actors):
    _partner(session_factory)
    _hook(session_factory, "http://127.0.0.1:9/all", partner_hooks.TOPICS)
    engine = session_factory.kw["bind"]
    seen: list[str] = []

    def record(conn, cursor, statement, *args: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        with session_factory.begin() as session:
            number = commands.submit_ticket(
                session, data=ROAD, actor=Actor.public(), now=NOW
            ).ticket.number
        complete(session_factory, actors["verifikator"], number, {"decision": "route"})
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert not [s for s in seen if "partner_webhook" in s]
    assert _hook_rows(session_factory) == []


def _signed(record: dict[str, Any], secret: str) -> bool:
    expected = "sha256=" + hmac.new(secret.encode(), record["body"], hashlib.sha256).hexdigest()
    return hmac.compare_digest(record["headers"]["X-Laksa-Signature"], expected)


def test_each_subscribed_event_reaches_a_loopback_receiver_once_across_a_killed_deliverer(
    backend_url, backend_factory, tmp_path, receiver
):
    command = laksa()
    with backend_factory.begin() as session:
        desk = create_user(
            session,
            username="meja",
            password="password-meja",
            role="verifier",
            groups=["verifier"],
            now=NOW,
        )
        officer = create_user(
            session,
            username="dpupr",
            password="password-dpupr",
            role="officer",
            groups=["dpupr"],
            now=NOW,
        )
    with backend_factory() as session:
        actors = {
            "verifikator": actor_for(session, desk),
            "petugas_dpupr": actor_for(session, officer),
        }
    partner = _partner(backend_factory)
    everything, secret_all = _hook(backend_factory, receiver.url + "/all", partner_hooks.TOPICS)
    closures, secret_closed = _hook(
        backend_factory, receiver.url + "/closed", (partner_hooks.CLOSED,)
    )
    _lifecycle(backend_factory, actors, partner)
    expected = {r.id: r for r in _hook_rows(backend_factory)}
    assert len(expected) >= 8

    env = cli_env(backend_url, tmp_path / "home")
    env[outbox.LEASE_ENV] = str(LEASE_SECONDS)
    receiver.hang_on = 3  # the deliverer dies while the receiver has not answered
    first = subprocess.Popen(
        [command, "outbox", "deliver"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        assert receiver.hanging.wait(60), first.poll() or "the deliverer sent nothing"
        os.kill(first.pid, signal.SIGKILL)
        first.communicate(timeout=30)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert first.returncode == -signal.SIGKILL
    killed_at = time.monotonic()
    assert len(receiver.answered) == 2
    with backend_factory() as session:
        marked = session.scalars(
            select(OutboxMessage.id).where(
                OutboxMessage.webhook_id.is_not(None), OutboxMessage.delivered_at.is_not(None)
            )
        ).all()
    assert len(marked) == 2  # what was answered was recorded; the rest is still leased

    time.sleep(max(0.0, killed_at + LEASE_SECONDS + 0.5 - time.monotonic()))
    again = subprocess.run(
        [command, "outbox", "deliver"], env=env, capture_output=True, text=True, timeout=300
    )
    assert again.returncode == 0, again.stderr

    ids = [int(r["headers"]["X-Laksa-Message-Id"]) for r in receiver.answered]
    assert sorted(ids) == sorted(expected)  # every event once: none lost, none twice
    secrets_by_hook = {everything: secret_all, closures: secret_closed}
    for record in receiver.answered:
        row = expected[int(record["headers"]["X-Laksa-Message-Id"])]
        assert _signed(record, secrets_by_hook[row.webhook_id])
        assert not _signed(
            record, secrets_by_hook[closures if row.webhook_id == everything else everything]
        )
        assert record["path"] == ("/all" if row.webhook_id == everything else "/closed")
        document = json.loads(record["body"])
        assert document["id"] == row.id
        assert document["topic"] == row.topic == record["headers"]["X-Laksa-Topic"]
        assert document["payload"]["ticket"] == row.payload["ticket"]
    hung = int(receiver.unanswered[0]["headers"]["X-Laksa-Message-Id"])
    assert hung in ids  # the one never answered was sent again, and answered then
    with backend_factory() as session:
        pending = session.scalars(
            select(OutboxMessage.id).where(
                OutboxMessage.webhook_id.is_not(None), OutboxMessage.delivered_at.is_(None)
            )
        ).all()
    assert pending == []


def test_failed_deliveries_are_listed_and_replayed(session_factory, actors, receiver, settings):
    partner = _partner(session_factory)
    hook, _ = _hook(session_factory, receiver.url + "/all", (partner_hooks.STATUS,))
    number = _submit(session_factory, partner, "CHAT-9")
    complete(session_factory, actors["verifikator"], number, {"decision": "route"})
    rows = _hook_rows(session_factory)
    assert rows

    receiver.status = 500
    sender = partner_hooks.sender_for(settings, session_factory)
    result = outbox.deliver_due(session_factory, now=NOW, sender=sender, max_attempts=1)
    assert result.gave_up >= len(rows)
    with session_factory() as session:
        failed = partner_hooks.failed_deliveries(session, webhook_id=hook, max_attempts=1)
        [info] = partner_hooks.list_webhooks(session, partner_code="kanal-kota", max_attempts=1)
    assert {f.id for f in failed} == {r.id for r in rows}
    assert all(f.ticket == number and "500" in (f.last_error or "") for f in failed)
    assert (info.failed, info.delivered) == (len(rows), 0)

    receiver.status = 200
    assert outbox.deliver_due(session_factory, now=NOW, sender=sender, max_attempts=1).claimed == 0
    with session_factory.begin() as session:
        assert partner_hooks.replay_failed(
            session, webhook_id=hook, now=NOW, max_attempts=1
        ) == len(rows)
    result = outbox.deliver_due(session_factory, now=NOW, sender=sender, max_attempts=1)
    assert result.delivered == len(rows)
    assert sorted(int(r["headers"]["X-Laksa-Message-Id"]) for r in receiver.answered) == [
        r.id for r in rows
    ]


def test_a_switched_off_subscription_keeps_its_rows_undelivered(session_factory, actors, settings):
    partner = _partner(session_factory)
    hook, _ = _hook(session_factory, "http://127.0.0.1:9/none", (partner_hooks.STATUS,))
    number = _submit(session_factory, partner, "CHAT-3")
    complete(session_factory, actors["verifikator"], number, {"decision": "route"})
    with session_factory.begin() as session:
        partner_hooks.set_webhook_active(session, webhook_id=hook, active=False)
    sender = partner_hooks.sender_for(settings, session_factory)
    result = outbox.deliver_due(session_factory, now=NOW, sender=sender)
    assert result.delivered >= 0
    assert result.retrying == len(_hook_rows(session_factory))
    assert all("switched off" in e for e in result.errors if "webhook" in e)


def test_the_outbox_lease_comes_from_the_environment():
    assert outbox.lease_from_env({}) == outbox.LEASE
    assert outbox.lease_from_env({outbox.LEASE_ENV: "2"}).total_seconds() == 2
    for bad in ("soon", "0"):
        with pytest.raises(ValueError, match=outbox.LEASE_ENV):
            outbox.lease_from_env({outbox.LEASE_ENV: bad})


def test_replay_of_nothing_and_bad_subscriptions(session_factory):
    with session_factory.begin() as session:
        assert partner_hooks.replay_failed(session, webhook_id=12345, now=NOW) == 0
    with session_factory.begin() as session:
        partners.create_partner(session, code="kanal-lain", name="Lain", now=NOW)
        with pytest.raises(InvalidInput, match="topic"):
            partner_hooks.create_webhook(
                session, partner_code="kanal-lain", url="http://x.example", topics=["no"], now=NOW
            )
        with pytest.raises(InvalidInput, match="URL"):
            partner_hooks.create_webhook(
                session, partner_code="kanal-lain", url="ftp://x", topics=["ticket.closed"], now=NOW
            )
