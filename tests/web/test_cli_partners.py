"""`laksa partners`: partners, keys shown once and stored hashed, revocation, subscriptions."""

from __future__ import annotations

import re

from sqlalchemy import select

from engine import partners
from engine.models import PartnerKey
from engine.models import PartnerWebhook
from tests.conftest import NOW
from tests.web.test_cli import env  # noqa: F401 (fixture)
from tests.web.test_cli import factory  # noqa: F401 (fixture)
from tests.web.test_cli import initialised  # noqa: F401 (fixture)
from tests.web.test_cli import laksa  # noqa: F401 (fixture)

KEY = re.compile(r"^lp_[0-9a-f]{12}_[A-Za-z0-9_-]{40,}$")


def test_create_list_key_revoke(initialised, laksa, factory):  # noqa: F811
    created = laksa("partners", "create", "kanal-kota", "--name", "Kanal Kota")
    assert created.exit_code == 0, created.output
    assert "partner kanal-kota created (Kanal Kota)" in created.output
    taken = laksa("partners", "create", "kanal-kota")
    assert taken.exit_code == 1
    assert "exists" in taken.output
    bad = laksa("partners", "create", "Kanal Kota")
    assert bad.exit_code == 1

    made = laksa("partners", "key", "kanal-kota", "--scope", "submit", "--scope", "read")
    assert made.exit_code == 0, made.output
    key = made.output.strip()
    assert KEY.match(key), key
    with factory() as session:
        row = session.scalars(select(PartnerKey)).one()
        assert row.key_hash == partners.key_hash(key)
        assert row.scopes == "submit read"
        assert partners.actor_for_partner_key(session, key, now=NOW) is not None
    assert laksa("partners", "key", "kanal-kota", "--scope", "admin").exit_code == 2
    assert laksa("partners", "key", "nobody", "--scope", "read").exit_code == 1

    listed = laksa("partners", "list")
    assert "kanal-kota\tKanal Kota\tactive\tkeys=1\ttickets=0" in listed.output
    keys = laksa("partners", "keys", "kanal-kota")
    assert f"{row.id}\tkanal-kota\tlp_{row.prefix}_…\tsubmit,read" in keys.output
    assert key not in keys.output
    assert keys.output.rstrip().endswith("active")

    revoked = laksa("partners", "revoke", str(row.id))
    assert revoked.exit_code == 0
    assert f"key {row.id} revoked" in revoked.output
    assert laksa("partners", "revoke", str(row.id)).exit_code == 1
    assert laksa("partners", "keys").output.rstrip().endswith("revoked")
    with factory() as session:
        assert partners.actor_for_partner_key(session, key, now=NOW) is None
    assert "keys=0" in laksa("partners", "list").output


def test_webhook_subscription_and_replay(initialised, laksa, factory):  # noqa: F811
    laksa("partners", "create", "kanal-kota")
    made = laksa(
        "partners",
        "webhook",
        "kanal-kota",
        "https://mitra.example/hook",
        "--topic",
        "ticket.closed",
    )
    assert made.exit_code == 0, made.output
    with factory() as session:
        hook = session.scalars(select(PartnerWebhook)).one()
    assert f"webhook {hook.id}: https://mitra.example/hook (ticket.closed)" in made.output
    assert f"secret: {hook.secret}" in made.output
    assert laksa("partners", "webhook", "kanal-kota", "ftp://x").exit_code == 1
    everything = laksa("partners", "webhook", "kanal-kota", "https://mitra.example/all")
    assert "(ticket.status ticket.message ticket.closed)" in everything.output
    listed = laksa("partners", "list").output
    assert f"webhook {hook.id}\thttps://mitra.example/hook\tticket.closed\tactive" in listed
    replayed = laksa("partners", "replay", str(hook.id))
    assert replayed.exit_code == 0
    assert "0 failed deliveries scheduled again" in replayed.output
