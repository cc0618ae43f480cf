"""The admin's partner pages (/admin/mitra): partners, keys shown once, subscriptions with
their secret shown once, switching off, revoking, replaying failed deliveries; CSRF on."""

from __future__ import annotations

import re

from sqlalchemy import select

from engine import outbox
from engine import partner_hooks
from engine import partners
from engine.models import OutboxMessage
from engine.models import Partner
from engine.models import PartnerKey
from engine.models import PartnerWebhook
from tests.conftest import NOW
from tests.web.officer_helpers import post_page
from tests.web.test_admin_pages import admin  # noqa: F401 (fixture)
from tests.web.test_api import ROAD
from tests.web.test_api import bearer


def page(client, path: str) -> str:
    answer = client.get(path)
    assert answer.status_code == 200, path
    return str(answer.get_data(as_text=True))


KEY = re.compile(r"\blp_[0-9a-f]{12}_[A-Za-z0-9_-]{40,}")
SECRET = re.compile(r"\bwhsec_[A-Za-z0-9_-]{40,}")


def test_an_admin_adds_a_partner_and_a_key_shown_once(admin, client, session_factory):  # noqa: F811
    answer = post_page(admin, "/admin/mitra", {"code": "kanal-kota", "name": "Kanal Kota"})
    assert answer.status_code == 302
    assert answer.location.endswith("/admin/mitra/kanal-kota")
    listing = page(admin, "/admin/mitra")
    assert "kanal-kota" in listing
    assert "Kanal Kota" in listing
    again = post_page(admin, "/admin/mitra", {"code": "kanal-kota", "name": "Lagi"})
    assert again.status_code == 200
    assert "Tidak dapat diterima" in again.get_data(as_text=True)

    made = post_page(admin, "/admin/mitra/kanal-kota", {"scopes": ["submit", "read"], "days": "30"})
    assert made.status_code == 200
    [key] = KEY.findall(made.get_data(as_text=True))
    assert made.headers["Cache-Control"] == "private, no-store"
    assert KEY.search(page(admin, "/admin/mitra/kanal-kota")) is None  # shown once
    with session_factory() as session:
        row = session.scalars(select(PartnerKey)).one()
        assert row.key_hash == partners.key_hash(key)
        assert row.expires_at is not None
    assert client.post("/api/v1/tickets", json=ROAD, headers=bearer(key)).status_code == 201
    none = post_page(admin, "/admin/mitra/kanal-kota", {"days": "30"})
    assert "Tidak dapat diterima" in none.get_data(as_text=True)

    revoked = post_page(
        admin, f"/admin/mitra/kunci/{row.id}/cabut", token_from="/admin/mitra/kanal-kota"
    )
    assert revoked.status_code == 302
    assert client.get("/api/v1/partner", headers=bearer(key)).status_code == 401
    assert "dicabut" in page(admin, "/admin/mitra/kanal-kota")


def test_switching_a_partner_off_and_on(admin, client, session_factory):  # noqa: F811
    post_page(admin, "/admin/mitra", {"code": "kanal-kota", "name": "Kanal Kota"})
    made = post_page(admin, "/admin/mitra/kanal-kota", {"scopes": ["read"]})
    [key] = KEY.findall(made.get_data(as_text=True))
    path = "/admin/mitra/kanal-kota/aktif"
    post_page(admin, path, token_from="/admin/mitra/kanal-kota")
    with session_factory() as session:
        assert session.scalars(select(Partner.active)).one() is False
    assert client.get("/api/v1/partner", headers=bearer(key)).status_code == 401
    post_page(admin, path, token_from="/admin/mitra/kanal-kota")
    assert client.get("/api/v1/partner", headers=bearer(key)).status_code == 200


def test_a_subscription_shows_its_secret_once_and_replays_failures(admin, session_factory):  # noqa: F811
    post_page(admin, "/admin/mitra", {"code": "kanal-kota", "name": "Kanal Kota"})
    refused = post_page(
        admin,
        "/admin/mitra/kanal-kota/webhook",
        {"webhook-url": "ftp://x", "webhook-topics": ["ticket.closed"]},
        token_from="/admin/mitra/kanal-kota",
    )
    assert "Tidak dapat diterima" in refused.get_data(as_text=True)
    made = post_page(
        admin,
        "/admin/mitra/kanal-kota/webhook",
        {"webhook-url": "https://mitra.example/hook", "webhook-topics": ["ticket.closed"]},
        token_from="/admin/mitra/kanal-kota",
    )
    assert made.status_code == 200
    [secret] = SECRET.findall(made.get_data(as_text=True))
    with session_factory() as session:
        hook = session.scalars(select(PartnerWebhook)).one()
    assert (hook.secret, hook.topics, hook.url) == (
        secret,
        "ticket.closed",
        made.request.url and hook.url,
    )
    assert SECRET.search(page(admin, "/admin/mitra/kanal-kota")) is None

    with session_factory.begin() as session:
        session.add(
            OutboxMessage(
                topic=partner_hooks.CLOSED,
                payload={"ticket": "LK-TEST"},
                created_at=NOW,
                deliver_after=NOW,
                attempts=outbox.MAX_ATTEMPTS,
                last_error="RuntimeError: webhook answered 500",
                webhook_id=hook.id,
            )
        )
    shown = page(admin, "/admin/mitra/kanal-kota")
    assert "webhook answered 500" in shown
    replay = post_page(
        admin, f"/admin/mitra/webhook/{hook.id}/ulang", token_from="/admin/mitra/kanal-kota"
    )
    assert replay.status_code == 302
    with session_factory() as session:
        row = session.scalars(select(OutboxMessage)).one()
    assert row.attempts == 0
    assert row.delivered_at is None
    assert "webhook answered 500" not in page(admin, "/admin/mitra/kanal-kota")

    post_page(admin, f"/admin/mitra/webhook/{hook.id}/aktif", token_from="/admin/mitra/kanal-kota")
    with session_factory() as session:
        assert session.get(PartnerWebhook, hook.id).active is False


def test_partner_pages_need_csrf_and_an_admin(admin, client):  # noqa: F811
    post_page(admin, "/admin/mitra", {"code": "kanal-kota", "name": "Kanal Kota"})
    assert admin.post("/admin/mitra/kanal-kota/aktif").status_code == 400  # no CSRF token
    assert client.get("/admin/mitra").status_code == 302  # to sign in
    assert admin.get("/admin/mitra/nobody").status_code == 404
