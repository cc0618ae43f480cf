"""Partner systems and their keys: stored hashed, refused when revoked or expired, scoped."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from engine import commands
from engine import partners
from engine.errors import Conflict
from engine.errors import InvalidInput
from engine.models import PartnerKey
from engine.models import Ticket
from engine.visibility import access
from engine.visibility import tickets_seen_by
from tests.conftest import NOW

REPORT = commands.TicketInput(
    kind="complaint",
    category="jalan_rusak",
    title="Jalan berlubang",
    description="Lubang besar di depan sekolah",
    reporter_contact="budi@example.org",
)


def _partner_with_key(factory, scopes=(partners.SUBMIT, partners.READ), lifetime=None):
    with factory.begin() as session:
        partners.create_partner(session, code="kanal-kota", name="Kanal Kota", now=NOW)
        row, key = partners.create_key(
            session, partner_code="kanal-kota", scopes=scopes, now=NOW, lifetime=lifetime
        )
        return row.id, key


def test_a_key_is_stored_as_its_hash_and_found_by_its_prefix(backend_factory):
    key_id, key = _partner_with_key(backend_factory)
    with backend_factory() as session:
        row = session.get(PartnerKey, key_id)
        assert key.startswith(f"lp_{row.prefix}_")
        assert key not in (row.key_hash, row.prefix)
        assert row.key_hash == partners.key_hash(key)
        assert row.key_hash != key
        actor = partners.actor_for_partner_key(session, key, now=NOW)
    assert actor is not None
    assert (actor.name, actor.role, actor.via) == (
        "partner:kanal-kota",
        "citizen",
        f"partner_key:{key_id}",
    )
    assert actor.scopes == {"submit", "read"}
    assert actor.partner_id is not None
    with backend_factory() as session:
        assert session.get(PartnerKey, key_id).last_used_at == NOW


def test_a_wrong_secret_with_a_real_prefix_is_refused(backend_factory):
    _, key = _partner_with_key(backend_factory)
    forged = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")
    with backend_factory() as session:
        assert partners.actor_for_partner_key(session, forged, now=NOW) is None
        assert partners.actor_for_partner_key(session, "lp_nothing", now=NOW) is None
        assert partners.actor_for_partner_key(session, "lk_other", now=NOW) is None


def test_revoked_expired_and_inactive_keys_are_refused(backend_factory):
    key_id, key = _partner_with_key(backend_factory, lifetime=timedelta(days=1))
    with backend_factory() as session:
        assert partners.actor_for_partner_key(session, key, now=NOW) is not None
        later = NOW + timedelta(days=1)
        assert partners.actor_for_partner_key(session, key, now=later) is None
    with backend_factory.begin() as session:
        partners.set_active(session, code="kanal-kota", active=False)
    with backend_factory() as session:
        assert partners.actor_for_partner_key(session, key, now=NOW) is None
    with backend_factory.begin() as session:
        partners.set_active(session, code="kanal-kota", active=True)
        assert partners.revoke_key(session, key_id=key_id, now=NOW)
        assert not partners.revoke_key(session, key_id=key_id, now=NOW)
    with backend_factory() as session:
        assert partners.actor_for_partner_key(session, key, now=NOW) is None
        [info] = partners.list_keys(session)
    assert info.state(NOW) == "revoked"
    assert info.scopes == ("submit", "read")


def test_scopes_and_codes_are_checked(session_factory):
    with session_factory.begin() as session:
        with pytest.raises(InvalidInput):
            partners.create_partner(session, code="Bad Code", name="x", now=NOW)
        partners.create_partner(session, code="kanal-kota", name="", now=NOW)
        with pytest.raises(InvalidInput):
            partners.create_partner(session, code="kanal-kota", name="again", now=NOW)
        with pytest.raises(InvalidInput):
            partners.create_key(session, partner_code="kanal-kota", scopes=["admin"], now=NOW)
        with pytest.raises(InvalidInput):
            partners.create_key(session, partner_code="kanal-kota", scopes=[], now=NOW)
        row, _ = partners.create_key(
            session, partner_code="kanal-kota", scopes=["follow", "submit"], now=NOW
        )
        assert row.scopes == "submit follow"


def test_a_partner_ticket_records_partner_and_external_id_and_is_its_own(backend_factory):
    _, key = _partner_with_key(backend_factory)
    with backend_factory() as session:
        actor = partners.actor_for_partner_key(session, key, now=NOW)
    with backend_factory.begin() as session:
        data = commands.TicketInput(**{**REPORT.__dict__, "external_id": "CHAT-1"})
        result = commands.submit_ticket(session, data=data, actor=actor, now=NOW)
        number = result.ticket.number
        with pytest.raises(Conflict):
            commands.submit_ticket(session, data=data, actor=actor, now=NOW)
    with backend_factory() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.number == number))
        assert ticket.partner_id == actor.partner_id
        assert ticket.external_id == "CHAT-1"
        assert access(ticket, actor=actor).who == "reporter"
        unread = actor.__class__(**{**actor.__dict__, "scopes": frozenset({"submit"})})
        assert access(ticket, actor=unread).who == "public"
        ticket.confidential = True
        assert access(ticket, actor=actor).sees_ticket
        assert not access(ticket, actor=unread).sees_ticket
        seen = session.scalars(select(Ticket.number).where(tickets_seen_by(actor))).all()
        assert number in seen


def test_the_public_cannot_set_an_external_id(session_factory, actors):
    from engine.identity import Actor

    with session_factory.begin() as session:
        data = commands.TicketInput(**{**REPORT.__dict__, "external_id": "X-1"})
        result = commands.submit_ticket(session, data=data, actor=Actor.public("api"), now=NOW)
        assert (result.ticket.partner_id, result.ticket.external_id) == (None, None)
