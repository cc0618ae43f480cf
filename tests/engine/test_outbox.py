"""The outbox (rule 10): rows written in the command's transaction, delivered after, retried.

Writing runs through the real lifecycle (need-info, escalations); delivery on SQLite and
PostgreSQL, with real SMTP and HTTP servers on loopback for the e-mail and webhook senders.
"""

from __future__ import annotations

import email
import http.server
import json
import socketserver
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import closing
from datetime import datetime
from datetime import timedelta
from email.message import Message as EmailMessage
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import delete
from sqlalchemy import event
from sqlalchemy import func
from sqlalchemy import insert
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from engine import audit
from engine import commands
from engine import definitions
from engine import notify
from engine import outbox
from engine.errors import WorkflowFailed
from engine.identity import Actor
from engine.models import AuditEvent
from engine.models import HumanTask
from engine.models import OutboxMessage
from engine.models import ProcessInstance
from engine.models import Ticket
from engine.settings import Settings
from tests.conftest import NOW
from tests.conftest import WORKFLOWS
from tests.factories import ROAD
from tests.factories import submit
from web.cli import main

CONTACT = "budi@example.org"
SECRET = "test-secret"


# --- helpers ------------------------------------------------------------------------------


def complete(
    factory: sessionmaker[Session], actor: Actor, number: str, data: dict[str, Any]
) -> None:
    with factory.begin() as session:
        commands.complete_task(
            session, task_id=open_task(session, number), actor=actor, data=data, now=NOW
        )


def open_task(session: Session, number: str) -> int:
    return session.scalars(
        select(HumanTask.id)
        .join(Ticket, Ticket.id == HumanTask.ticket_id)
        .where(Ticket.number == number, HumanTask.completed_at.is_(None))
    ).one()


def submit_without_link(factory: sessionmaker[Session], data=ROAD) -> str:
    """Submit, then drop the e-mail with the private link (tested in test_reporter_link), so
    these tests count only the lifecycle's notifications."""
    number = submit(factory, data)
    with factory.begin() as session:
        session.execute(
            delete(OutboxMessage).where(
                OutboxMessage.payload["template"].as_string() == outbox.PRIVATE_LINK_TEMPLATE
            )
        )
    return number


def at_handle(factory: sessionmaker[Session], actors: dict[str, Actor], data=ROAD) -> str:
    """A ticket routed to dpupr, acknowledged as simple, waiting at the handle task."""
    number = submit_without_link(factory, data)
    complete(factory, actors["verifikator"], number, {"decision": "route"})
    complete(
        factory, actors["petugas_dpupr"], number, {"decision": "accept", "complexity": "simple"}
    )
    return number


NEED_INFO = {"decision": "need_info", "question": "Di depan nomor berapa?"}


def outbox_rows(factory: sessionmaker[Session]) -> list[OutboxMessage]:
    with factory() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def count_rows(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return session.scalar(select(func.count()).select_from(OutboxMessage)) or 0


class Statements:
    """SQL statements an engine runs while the block is open."""

    def __init__(self, factory: sessionmaker[Session]) -> None:
        self.engine = factory.kw["bind"]
        self.seen: list[str] = []

    def _record(self, conn, cursor, statement, parameters, context, executemany) -> None:
        self.seen.append(statement)

    def __enter__(self) -> Statements:
        event.listen(self.engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._record)

    def touching(self, table: str) -> list[str]:
        return [s for s in self.seen if table in s]


def add_messages(factory: sessionmaker[Session], count: int, *, now: datetime = NOW) -> None:
    rows = [
        {
            "topic": outbox.TOPIC_GROUP,
            "payload": {"ticket": f"LK-{i:08d}", "recipients": ["dpupr"], "template": "t"},
            "created_at": now,
            "deliver_after": now,
        }
        for i in range(count)
    ]
    with factory.begin() as session:
        session.execute(insert(OutboxMessage), rows)


class Recording:
    """A sender that records what it was given; fails the first ``failures`` calls."""

    name = "recording"

    def __init__(self, failures: int = 0, delay: float = 0.0) -> None:
        self.failures = failures
        self.delay = delay
        self.sent: list[int] = []
        self.calls = 0
        self.lock = threading.Lock()

    def send(self, message: outbox.Message) -> None:
        with self.lock:
            self.calls += 1
            if self.calls <= self.failures:
                raise ConnectionRefusedError("SMTP server down")
        if self.delay:
            time.sleep(self.delay)
        with self.lock:
            self.sent.append(message.id)


# --- writing ------------------------------------------------------------------------------


def committed_rows(settings: Settings) -> int:
    """Outbox rows another reader sees (plain sqlite3: the engine's BEGIN IMMEDIATE would wait)."""
    path = settings.database_url.removeprefix("sqlite:///")
    with closing(sqlite3.connect(path)) as conn:
        return int(conn.execute("SELECT count(*) FROM outbox_message").fetchone()[0])


def test_need_info_writes_one_reporter_message_in_the_commands_transaction(
    settings, session_factory, actors
):
    number = at_handle(session_factory, actors)
    assert count_rows(session_factory) == 0  # nothing on the way here notifies anyone

    with session_factory.begin() as session:
        with Statements(session_factory) as statements:
            commands.complete_task(
                session,
                task_id=open_task(session, number),
                actor=actors["petugas_dpupr"],
                data=NEED_INFO,
                now=NOW,
            )
        # written in the command's transaction: visible here, not yet to anyone else
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 1
        assert committed_rows(settings) == 0
    assert len(statements.touching("outbox_message")) == 1

    [row] = outbox_rows(session_factory)
    assert row.topic == "notify.reporter"
    assert row.created_at == row.deliver_after == NOW
    assert (row.attempts, row.delivered_at, row.last_error) == (0, None, None)
    assert row.payload == {
        "ticket": number,
        "element_id": "info_requested",
        "element_name": "Ask the reporter",
        "notify": "reporter",
        "recipients": [CONTACT],
        "status": "waiting_info",
        "status_label": "Menunggu informasi pelapor",
        "escalation_level": 0,
        "confidential": False,
        "template": "info_requested",
        "lang": "id",
    }
    # the contact lives in the ticket and the outbox row only
    with session_factory() as session:
        audit_text = " ".join(session.scalars(select(AuditEvent.data)))
        instance = session.scalars(select(ProcessInstance)).one()
        definition = definitions.latest_definition(session, "complaint")
        process = definitions.bundle_for(session, definition).processes["complaint"]
        data = definitions.get_runtime().load(process, instance.state).data
    assert CONTACT not in audit_text
    assert CONTACT not in json.dumps(data, default=str)


def test_a_command_that_notifies_nobody_touches_no_outbox(session_factory, actors):
    number = submit_without_link(session_factory)
    with Statements(session_factory) as statements:
        complete(session_factory, actors["verifikator"], number, {"decision": "route"})
    assert statements.touching("outbox_message") == []
    assert statements.touching("FROM definition") == []  # no status table lookup either
    assert count_rows(session_factory) == 0


def test_a_reporter_without_contact_gets_no_row(session_factory, actors):
    anonymous = commands.TicketInput(
        kind="complaint", category="jalan_rusak", title="Jalan berlubang", description="Lubang"
    )
    number = at_handle(session_factory, actors, anonymous)
    complete(session_factory, actors["petugas_dpupr"], number, NEED_INFO)
    assert count_rows(session_factory) == 0


def test_escalations_write_one_group_row_each_in_one_insert(session_factory, actors):
    number = at_handle(session_factory, actors)
    with session_factory() as session:
        instance_id = session.scalars(select(ProcessInstance.id)).one()
    with session_factory.begin() as session, Statements(session_factory) as statements:
        commands.fire_timers(session, instance_id=instance_id, now=NOW + timedelta(days=30))
    assert len(statements.touching("INSERT INTO outbox_message")) == 1

    rows = outbox_rows(session_factory)
    assert {r.topic for r in rows} == {"notify.group"}
    by_element = {r.payload["element_id"]: r.payload for r in rows}
    assert by_element["opd_reminded"]["recipients"] == ["dpupr"]
    assert by_element["escalated_to_head"]["recipients"] == ["dpupr_head"]
    assert by_element["escalated_to_supervisor"]["recipients"] == ["supervisor"]
    for payload in by_element.values():
        assert payload["ticket"] == number
        assert payload["status"] == "in_progress"
        assert payload["status_label"] == "Diproses"
        assert CONTACT not in json.dumps(payload)


def test_a_command_that_fails_after_writing_leaves_no_outbox_rows(
    session_factory, actors, monkeypatch
):
    number = at_handle(session_factory, actors)

    def fail(session, instance, rows):
        raise WorkflowFailed("the audit write failed", element_id=None)

    monkeypatch.setattr(audit, "write", fail)
    with session_factory() as session, Statements(session_factory) as statements:
        with pytest.raises(WorkflowFailed):
            commands.complete_task(
                session,
                task_id=open_task(session, number),
                actor=actors["petugas_dpupr"],
                data=NEED_INFO,
                now=NOW,
            )
        session.rollback()
    assert len(statements.touching("INSERT INTO outbox_message")) == 1  # written, rolled back
    assert count_rows(session_factory) == 0
    with session_factory() as session:
        assert session.scalar(select(Ticket.status)) == "in_progress"


def test_a_script_failing_after_the_notify_element_writes_nothing(session_factory, actors):
    files = definitions.read_files(WORKFLOWS)
    marker = '<bpmn:receiveTask id="await_reply"'
    assert marker in files["complaint.bpmn"]
    bpmn = files["complaint.bpmn"]
    start = bpmn.index(marker)
    end = bpmn.index(">", start) + 1
    files["complaint.bpmn"] = (
        bpmn[:end]
        + "<bpmn:extensionElements><spiffworkflow:preScript>reply_due = int('never')"
        + "</spiffworkflow:preScript></bpmn:extensionElements>"
        + bpmn[end:]
    )
    with session_factory.begin() as session:
        definitions.deploy(session, files, actor="test", now=NOW)
    number = at_handle(session_factory, actors)  # a ticket on the broken version
    with session_factory() as session:
        with pytest.raises(WorkflowFailed):
            commands.complete_task(
                session,
                task_id=open_task(session, number),
                actor=actors["petugas_dpupr"],
                data=NEED_INFO,
                now=NOW,
            )
        session.rollback()
    assert count_rows(session_factory) == 0


# --- delivery -----------------------------------------------------------------------------


def test_an_outage_loses_nothing_backs_off_and_delivers_exactly_once(session_factory, actors):
    number = at_handle(session_factory, actors)
    complete(session_factory, actors["petugas_dpupr"], number, NEED_INFO)
    sender = Recording(failures=3)
    t = NOW

    def deliver(at: datetime) -> outbox.DeliveryResult:
        return outbox.deliver_due(session_factory, now=at, sender=sender)

    assert deliver(t).retrying == 1
    [row] = outbox_rows(session_factory)
    assert (row.attempts, row.delivered_at) == (1, None)
    assert row.last_error == "ConnectionRefusedError: SMTP server down"
    assert row.deliver_after == t + timedelta(minutes=1)

    assert deliver(t + timedelta(seconds=59)).claimed == 0  # backoff respected
    assert deliver(t + timedelta(minutes=1)).retrying == 1
    [row] = outbox_rows(session_factory)
    assert (row.attempts, row.deliver_after) == (2, t + timedelta(minutes=3))
    assert deliver(t + timedelta(minutes=2)).claimed == 0
    assert deliver(t + timedelta(minutes=3)).retrying == 1
    [row] = outbox_rows(session_factory)
    assert (row.attempts, row.deliver_after) == (3, t + timedelta(minutes=7))

    done = deliver(t + timedelta(minutes=7))
    assert (done.claimed, done.delivered) == (1, 1)
    for later in (8, 60, 60 * 24 * 3):
        assert deliver(t + timedelta(minutes=later)).claimed == 0
    [row] = outbox_rows(session_factory)
    assert row.delivered_at == t + timedelta(minutes=7)
    assert row.attempts == 3
    assert sender.sent == [row.id]  # exactly once


def test_backoff_doubles_up_to_a_day():
    assert [outbox.backoff(n, {}) for n in (1, 2, 3, 4)] == [
        timedelta(minutes=m) for m in (1, 2, 4, 8)
    ]
    short = {outbox.BACKOFF_ENV: "0.5"}
    assert [outbox.backoff(n, short) for n in (1, 2, 3)] == [
        timedelta(seconds=s) for s in (0.5, 1, 2)
    ]
    assert outbox.backoff(40, short) == outbox.MAX_BACKOFF
    assert outbox.backoff(11) == timedelta(minutes=1024)
    assert outbox.backoff(12) == outbox.backoff(50) == timedelta(days=1)


def test_after_the_last_attempt_a_message_is_kept_and_listed_as_failed(session_factory):
    add_messages(session_factory, 2)
    always = Recording(failures=10**6)
    at = NOW
    for _ in range(3):
        outbox.deliver_due(session_factory, now=at, sender=always, max_attempts=3)
        at += timedelta(days=2)
    assert always.calls == 6
    assert outbox.deliver_due(session_factory, now=at, sender=always, max_attempts=3).claimed == 0
    with session_factory() as session:
        assert [m.attempts for m in outbox.failed(session, max_attempts=3)] == [3, 3]
        assert outbox.counts(session, max_attempts=3) == outbox.OutboxCounts(0, 0, 2)
    assert count_rows(session_factory) == 2  # nothing is deleted


def test_a_dead_deliverers_lease_ends_and_the_message_goes_out(session_factory):
    add_messages(session_factory, 1)
    with session_factory.begin() as session:
        assert len(outbox.claim_due(session, now=NOW)) == 1  # then the deliverer dies
    sender = Recording()
    assert outbox.deliver_due(session_factory, now=NOW + timedelta(minutes=4), sender=sender) == (
        outbox.DeliveryResult()
    )
    result = outbox.deliver_due(session_factory, now=NOW + outbox.LEASE, sender=sender)
    assert result.delivered == 1
    assert len(sender.sent) == 1


def test_two_concurrent_deliverers_send_each_message_once(backend_factory):
    add_messages(backend_factory, 300)
    sender = Recording(delay=0.0005)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            outbox.deliver_due(backend_factory, now=NOW, sender=sender, batch=7)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(sender.sent) == 300
    assert set(Counter(sender.sent).values()) == {1}
    with backend_factory() as session:
        assert outbox.counts(session) == outbox.OutboxCounts(0, 300, 0)


def test_a_channel_that_took_a_message_is_not_sent_it_again(session_factory):
    add_messages(session_factory, 1)

    class Channel(Recording):
        def __init__(self, name: str, failures: int = 0) -> None:
            super().__init__(failures)
            self.name = name

    mail, hook = Channel("smtp"), Channel("webhook", failures=1)
    multi = notify.MultiSender([mail, hook])
    assert outbox.deliver_due(session_factory, now=NOW, sender=multi).retrying == 1
    [row] = outbox_rows(session_factory)
    assert row.payload[outbox.DELIVERED_VIA] == ["smtp"]
    later = NOW + timedelta(minutes=1)
    assert outbox.deliver_due(session_factory, now=later, sender=multi).delivered == 1
    assert (len(mail.sent), len(hook.sent)) == (1, 1)


# --- senders against loopback servers -----------------------------------------------------


class FakeSmtp(socketserver.ThreadingTCPServer):
    """Just enough SMTP for smtplib: EHLO, MAIL, RCPT, DATA, QUIT; keeps what it received."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), SmtpHandler)
        self.received: list[tuple[str, list[str], bytes]] = []

    @property
    def port(self) -> int:
        return int(self.server_address[1])


class SmtpHandler(socketserver.StreamRequestHandler):
    server: FakeSmtp

    def reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self) -> None:
        self.reply("220 fake ESMTP")
        sender, rcpt = "", []
        while True:
            line = self.rfile.readline()
            if not line:
                return
            verb = line.decode().strip().split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                self.reply("250-fake")
                self.reply("250 8BITMIME")
            elif verb == "MAIL":
                sender, rcpt = line.decode().strip()[10:], []
                self.reply("250 ok")
            elif verb == "RCPT":
                rcpt.append(line.decode().strip()[8:])
                self.reply("250 ok")
            elif verb == "DATA":
                self.reply("354 go ahead")
                data = b""
                while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                    data += chunk
                self.server.received.append((sender, rcpt, data))
                self.reply("250 queued")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("250 ok")


@pytest.fixture
def smtp_server() -> Iterator[FakeSmtp]:
    server = FakeSmtp()  # bound and listening, but answering nobody until served
    yield server
    if getattr(server, "_serving", False):
        server.shutdown()
    server.server_close()


def serve(server: socketserver.BaseServer) -> None:
    server._serving = True  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()


def test_smtp_sender_emails_the_reporter_after_an_outage(session_factory, actors, smtp_server):
    number = at_handle(session_factory, actors)
    complete(session_factory, actors["petugas_dpupr"], number, NEED_INFO)
    smtp = notify.SmtpSender(
        f"smtp://127.0.0.1:{smtp_server.port}",
        sender="laksa@kota.example",
        public_url="https://laksa.kota.example/lapor/{number}",
        timeout=0.5,
    )
    # the server accepts connections but never greets: a timeout, retried later
    failed = outbox.deliver_due(session_factory, now=NOW, sender=smtp)
    assert failed.retrying == 1
    assert "timed out" in outbox_rows(session_factory)[0].last_error

    serve(smtp_server)
    later = NOW + timedelta(minutes=1)
    assert outbox.deliver_due(session_factory, now=later, sender=smtp).delivered == 1
    [(sender, rcpt, data)] = smtp_server.received
    assert (sender, rcpt) == ("<laksa@kota.example>", [f"<{CONTACT}>"])
    mail: EmailMessage = email.message_from_bytes(data)
    assert mail["To"] == CONTACT
    assert mail["Subject"] == f"[LAKSA] Laporan {number}: Menunggu informasi pelapor"
    body = mail.get_payload(decode=True).decode()
    assert f"Status laporan Anda {number} kini: Menunggu informasi pelapor." in body
    assert "informasi tambahan" in body
    assert f"https://laksa.kota.example/lapor/{number}" in body
    assert outbox_rows(session_factory)[0].delivered_at == later


def test_smtp_sender_only_logs_group_messages(session_factory, smtp_server, caplog):
    add_messages(session_factory, 1)
    serve(smtp_server)
    smtp = notify.SmtpSender(
        f"smtp://127.0.0.1:{smtp_server.port}", sender="laksa@x.example", public_url="http://x"
    )
    with caplog.at_level("INFO", logger="engine.notify"):
        assert outbox.deliver_due(session_factory, now=NOW, sender=smtp).delivered == 1
    assert smtp_server.received == []
    assert "group members have no e-mail address" in caplog.text


class Hook(http.server.BaseHTTPRequestHandler):
    received: list[tuple[dict[str, str], bytes]]
    answers: list[int]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((dict(self.headers), body))
        self.send_response(self.answers.pop(0) if self.answers else 204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_webhook_posts_signed_json_and_retries_a_server_error(session_factory, actors):
    Hook.received, Hook.answers = [], [503]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    serve(server)
    try:
        number = at_handle(session_factory, actors)
        complete(session_factory, actors["petugas_dpupr"], number, NEED_INFO)
        hook = notify.WebhookSender(
            f"http://127.0.0.1:{server.server_address[1]}/laksa", secret=SECRET, timeout=5
        )
        assert outbox.deliver_due(session_factory, now=NOW, sender=hook).retrying == 1
        assert "503" in outbox_rows(session_factory)[0].last_error
        later = NOW + timedelta(minutes=1)
        assert outbox.deliver_due(session_factory, now=later, sender=hook).delivered == 1
    finally:
        server.shutdown()
        server.server_close()
    assert len(Hook.received) == 2
    headers, body = Hook.received[-1]
    assert headers["X-Laksa-Signature"] == notify.signature(SECRET, body)
    assert headers["X-Laksa-Signature"] != notify.signature("wrong", body)
    document = json.loads(body)
    [row] = outbox_rows(session_factory)
    assert headers["X-Laksa-Message-Id"] == str(row.id) == str(document["id"])
    assert document["topic"] == "notify.reporter"
    assert document["payload"]["ticket"] == number
    assert document["payload"]["recipients"] == [CONTACT]


def test_senders_come_from_the_settings(settings):
    assert isinstance(notify.sender_from_settings(settings), notify.LogSender)
    env = {
        "LAKSA_HOME": str(settings.home),
        "LAKSA_SECRET_KEY": SECRET,
        "LAKSA_SMTP_URL": "smtp://user:p%40ss@mail.example:2525?starttls=1",
        "LAKSA_WEBHOOK_URL": "https://hooks.example/laksa",
    }
    both = notify.sender_from_settings(Settings.from_env(env))
    assert isinstance(both, notify.MultiSender)
    smtp, hook = both.senders
    assert isinstance(smtp, notify.SmtpSender)
    assert (smtp.host, smtp.port, smtp.username, smtp.password, smtp.starttls) == (
        "mail.example",
        2525,
        "user",
        "p@ss",
        True,
    )
    assert isinstance(hook, notify.WebhookSender)
    assert hook.secret == SECRET
    with pytest.raises(ValueError, match="LAKSA_WEBHOOK_URL"):
        notify.WebhookSender("file:///etc/passwd", secret=SECRET)


def test_laksa_outbox_deliver_prints_counts(settings, session_factory, actors, caplog):
    number = at_handle(session_factory, actors)
    complete(session_factory, actors["petugas_dpupr"], number, NEED_INFO)
    env = {
        "LAKSA_HOME": str(settings.home),
        "LAKSA_DATABASE_URL": settings.database_url,
        "LAKSA_SECRET_KEY": SECRET,
        "LAKSA_REDIS_URL": "",
    }
    runner = CliRunner()
    with caplog.at_level("INFO", logger="engine.notify"):
        result = runner.invoke(main, ["outbox", "deliver"], env=env, catch_exceptions=False)
    assert result.exit_code == 0
    assert result.stdout.strip() == (
        "1 delivered, 0 to retry, 0 given up; outbox: 0 pending, 1 delivered, 0 failed"
    )
    assert f"ticket={number} template=info_requested" in caplog.text
    # The command configured logging: the log channel's line is on stderr, not only captured.
    assert f"ticket={number} template=info_requested" in result.stderr
    assert CONTACT not in caplog.text  # the log sender never logs a contact
    failed = runner.invoke(main, ["outbox", "failed"], env=env, catch_exceptions=False)
    assert failed.output == ""


@pytest.mark.redis
def test_the_sweep_job_enqueues_a_delivery_that_sends_due_messages(
    monkeypatch, backend_url, backend_factory, redis_url, tmp_path
):
    import uuid

    from redis import Redis
    from rq import Queue
    from rq import SimpleWorker

    from engine import jobs

    monkeypatch.setenv("LAKSA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("LAKSA_DATABASE_URL", backend_url)
    monkeypatch.setenv("LAKSA_REDIS_URL", redis_url)
    monkeypatch.setenv("LAKSA_TIMER_INTERVAL", "600")
    monkeypatch.setenv("LAKSA_SECRET_KEY", SECRET)
    add_messages(backend_factory, 3, now=NOW)
    connection = Redis.from_url(redis_url)
    queue = Queue(f"laksa-test-{uuid.uuid4().hex[:10]}", connection=connection)
    try:
        queue.enqueue(jobs.sweep_timers, queue.name)
        SimpleWorker([queue], connection=connection).work(burst=True)
        [delivery] = [j for j in queue.finished_job_registry.get_job_ids() if "outbox" in j]
        assert queue.fetch_job(delivery).latest_result().return_value == 3
        with backend_factory() as session:
            assert outbox.counts(session).delivered == 3
    finally:
        jobs.close_engines()
        for key in connection.scan_iter(match=f"*{queue.name}*"):
            connection.delete(key)
        connection.close()
