"""SMTP down while tickets change status: once it is back, every mail arrives, each once.

A real `laksa worker` (private redis-server, LAKSA_TIMER_INTERVAL=1) delivers the outbox to an
SMTP port that is closed while three tickets are submitted (private link) and brought to
"waiting for the reporter" (a status mail); every delivery fails and backs off
(LAKSA_OUTBOX_BACKOFF_SECONDS=1). Then a small SMTP server opens on that port: each reporter
mail arrives once (one Message-ID per outbox row), and a few sweeps later still once.
"""

from __future__ import annotations

import email
import threading
import time
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from engine import outbox
from engine.identity import actor_for
from engine.models import OutboxMessage
from engine.models import User
from tests.conftest import add_users
from tests.engine.private_redis import PrivateRedis
from tests.engine.private_redis import free_port
from tests.engine.test_outbox import CONTACT
from tests.engine.test_outbox import NEED_INFO
from tests.engine.test_outbox import FakeSmtp
from tests.engine.test_outbox import complete
from tests.engine.test_worker_heals import start_worker
from tests.engine.test_worker_heals import stop_worker
from tests.engine.test_worker_heals import wait_until
from tests.engine.test_worker_heals import worker_env
from tests.factories import ROAD
from tests.factories import submit

TICKETS = 3


def reporter_rows(factory: sessionmaker[Session]) -> list[OutboxMessage]:
    with factory() as session:
        return list(
            session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.topic == outbox.TOPIC_REPORTER)
                .order_by(OutboxMessage.id)
            )
        )


def test_mails_sent_while_smtp_is_down_arrive_once_it_is_back(
    backend_url, backend_factory, tmp_path: Path
):
    with backend_factory.begin() as session:
        add_users(session)
    with backend_factory() as session:
        actors = {u.username: actor_for(session, u) for u in session.scalars(select(User))}
    port = free_port()  # nothing listens here yet: connections are refused
    redis = PrivateRedis(tmp_path / "redis")
    redis.start()
    env = worker_env(
        backend_url,
        redis.url,
        tmp_path / "home",
        LAKSA_SMTP_URL=f"smtp://127.0.0.1:{port}",
        LAKSA_OUTBOX_BACKOFF_SECONDS="1",
        LAKSA_TIMER_INTERVAL="1",
    )
    log = tmp_path / "worker.log"
    worker = start_worker(env, log)
    smtp = None
    try:
        data = ROAD.__class__(**{**ROAD.__dict__, "reporter_contact": CONTACT})
        for _ in range(TICKETS):
            number = submit(backend_factory, data)  # the private link, by e-mail
            complete(backend_factory, actors["verifikator"], number, {"decision": "route"})
            complete(
                backend_factory,
                actors["petugas_dpupr"],
                number,
                {"decision": "accept", "complexity": "simple"},
            )
            complete(backend_factory, actors["petugas_dpupr"], number, NEED_INFO)
        rows = reporter_rows(backend_factory)
        assert len(rows) == 2 * TICKETS
        wait_until(
            lambda: all(r.attempts >= 1 for r in reporter_rows(backend_factory)),
            timeout=60,
            what="every mail tried while SMTP is down",
        )
        for row in reporter_rows(backend_factory):
            assert row.delivered_at is None
            assert "ConnectionRefusedError" in (row.last_error or "")

        smtp = FakeSmtp(port)
        threading.Thread(target=smtp.serve_forever, daemon=True).start()
        took = wait_until(
            lambda: all(r.delivered_at for r in reporter_rows(backend_factory)),
            timeout=60,
            what="every mail delivered once SMTP is back",
        )
        time.sleep(2.5)  # a few more sweeps: nothing goes out twice
        assert worker.poll() is None, log.read_text()
    finally:
        stop_worker(worker)
        redis.stop()
        if smtp is not None:
            smtp.shutdown()
            smtp.server_close()
    ids = [email.message_from_bytes(data)["Message-ID"] for _sender, _rcpt, data in smtp.received]
    assert len(ids) == len(set(ids)) == 2 * TICKETS, ids
    assert sorted(ids) == sorted(f"<laksa.outbox.{r.id}@localhost>" for r in rows)
    assert all(rcpt == [f"<{CONTACT}>"] for _sender, rcpt, _data in smtp.received)
    print(f"all {len(ids)} mails delivered {took:.2f} s after SMTP came back")
