"""Users, groups and API tokens (engine.identity) on SQLite and PostgreSQL: token lifetimes,
last use, revocation, passwords, the admin's changes to users and groups."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from engine import identity
from engine.errors import InvalidInput
from engine.models import ApiToken
from engine.models import Group
from engine.models import User
from tests.conftest import NOW

PASSWORD = "kata-sandi-lama"


@pytest.fixture
def factory(backend_factory: sessionmaker[Session]) -> sessionmaker[Session]:
    """A prepared database with one officer of the DPUPR."""
    with backend_factory.begin() as session:
        identity.create_user(
            session,
            username="dedi",
            password=PASSWORD,
            role="officer",
            groups=["dpupr"],
            now=NOW,
            display_name="Dedi Kurniawan",
        )
    return backend_factory


def token_for(
    factory: sessionmaker[Session], *, lifetime: timedelta | None = None, at=NOW, name="app"
) -> str:
    with factory.begin() as session:
        return identity.create_token(session, username="dedi", name=name, now=at, lifetime=lifetime)


def user_of(factory: sessionmaker[Session], token: str, *, now=NOW) -> str | None:
    with factory() as session:
        user = identity.user_for_token(session, token, now=now)
        return user.username if user else None


def the_user(session: Session, name: str = "dedi") -> User:
    return session.scalars(select(User).where(User.username == name)).one()


def deactivate(factory: sessionmaker[Session], name: str = "dedi") -> None:
    with factory.begin() as session:
        user = the_user(session, name)
        identity.update_user(
            session,
            user_id=user.id,
            display_name=user.display_name,
            role=user.role,
            groups=["dpupr"],
            active=False,
        )


# -- tokens -----------------------------------------------------------------------------------


def test_a_token_names_its_user_and_only_its_hash_is_stored(factory):
    token = token_for(factory)
    assert token.startswith("lk_")
    assert user_of(factory, token) == "dedi"
    assert user_of(factory, token + "x") is None
    with factory() as session:
        (row,) = session.scalars(select(ApiToken)).all()
        assert token not in row.token_hash
        assert row.expires_at is None


def test_a_token_with_a_lifetime_is_refused_once_it_expired(factory):
    token = token_for(factory, lifetime=timedelta(days=30))
    with factory() as session:
        (row,) = session.scalars(select(ApiToken)).all()
        assert row.expires_at == NOW + timedelta(days=30)
    assert user_of(factory, token, now=NOW + timedelta(days=29, hours=23)) == "dedi"
    assert user_of(factory, token, now=NOW + timedelta(days=30)) is None
    assert user_of(factory, token, now=NOW + timedelta(days=31)) is None


def test_last_use_is_written_at_most_once_a_minute(factory):
    token = token_for(factory)

    def last_used():
        with factory() as session:
            return session.scalars(select(ApiToken.last_used_at)).one()

    assert last_used() is None
    user_of(factory, token, now=NOW)
    assert last_used() == NOW
    user_of(factory, token, now=NOW + timedelta(seconds=30))
    assert last_used() == NOW
    user_of(factory, token, now=NOW + timedelta(seconds=60))
    assert last_used() == NOW
    user_of(factory, token, now=NOW + timedelta(seconds=61))
    assert last_used() == NOW + timedelta(seconds=61)
    user_of(factory, token + "x", now=NOW + timedelta(minutes=5))  # no token: nothing written
    assert last_used() == NOW + timedelta(seconds=61)


def test_an_expired_or_revoked_token_does_not_note_a_use(factory):
    token = token_for(factory, lifetime=timedelta(days=1))
    user_of(factory, token, now=NOW + timedelta(days=2))
    with factory() as session:
        assert session.scalars(select(ApiToken.last_used_at)).one() is None


def test_list_tokens_newest_first_with_their_state_fields(factory):
    with factory.begin() as session:
        identity.create_user(
            session, username="sari", password=PASSWORD, role="verifier", groups=[], now=NOW
        )
        identity.create_token(session, username="sari", name="desk", now=NOW)
    first = token_for(factory, name="first", lifetime=timedelta(days=7))
    token_for(factory, name="second", at=NOW + timedelta(hours=1))
    user_of(factory, first, now=NOW + timedelta(minutes=2))
    with factory() as session:
        tokens = identity.list_tokens(session)
        assert [(t.username, t.name) for t in tokens] == [
            ("dedi", "second"),
            ("dedi", "first"),
            ("sari", "desk"),
        ]
        assert [t.id for t in tokens] == sorted((t.id for t in tokens), reverse=True)
        by_name = {t.name: t for t in tokens}
        assert by_name["first"].expires_at == NOW + timedelta(days=7)
        assert by_name["first"].last_used_at == NOW + timedelta(minutes=2)
        assert by_name["second"].created_at == NOW + timedelta(hours=1)
        assert by_name["second"].expires_at is None
        assert [t.name for t in identity.list_tokens(session, username="sari")] == ["desk"]
        assert identity.list_tokens(session, username="nobody") == []
        assert all(not hasattr(t, "token_hash") for t in tokens)


def test_a_revoked_token_is_refused_and_revoking_twice_says_so(factory):
    token = token_for(factory)
    with factory() as session:
        (info,) = identity.list_tokens(session)
    with factory.begin() as session:
        assert identity.revoke_token(session, token_id=info.id, now=NOW) is True
    assert user_of(factory, token) is None
    with factory.begin() as session:
        assert identity.revoke_token(session, token_id=info.id, now=NOW) is False
        assert identity.revoke_token(session, token_id=999_999, now=NOW) is False
    with factory() as session:
        (info,) = identity.list_tokens(session)
        assert info.revoked_at == NOW


def test_a_token_for_an_unknown_user_is_refused(factory):
    with factory.begin() as session, pytest.raises(InvalidInput) as refused:
        identity.create_token(session, username="nobody", name="x", now=NOW)
    assert "username" in refused.value.fields


def test_a_deactivated_users_token_stops_working(factory):
    token = token_for(factory)
    deactivate(factory)
    assert user_of(factory, token) is None
    with factory() as session:
        assert identity.authenticate(session, "dedi", PASSWORD) is None


def test_a_tokens_actor_is_read_in_one_statement_with_its_groups(factory):
    token = token_for(factory)
    with factory.begin() as session:
        identity.update_user(
            session,
            user_id=the_user(session).id,
            display_name="Dedi Kurniawan",
            role="officer",
            groups=["dpupr", "dlh"],
            active=True,
        )
    later = NOW + timedelta(hours=1)
    with factory() as session:
        identity.actor_for_token(session, token, now=later)  # notes the use: a write, once
        statements: list[str] = []
        event.listen(
            session.get_bind(), "before_cursor_execute", lambda *a: statements.append(a[2])
        )
        actor = identity.actor_for_token(session, token, now=later)
    assert actor is not None
    assert actor.name == "user:dedi"
    assert actor.role == "officer"
    assert actor.groups == {"dpupr", "dlh"}
    assert actor.via is not None
    assert actor.via.startswith("token:")
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 1
    assert not [s for s in statements if s.lstrip().upper().startswith("UPDATE")]


def test_a_tokens_actor_is_refused_when_wrong_expired_revoked_or_deactivated(factory):
    def actor_of(token: str, *, now=NOW):
        with factory() as session:
            return identity.actor_for_token(session, token, now=now)

    short = token_for(factory, lifetime=timedelta(days=1), name="short")
    assert actor_of(short) is not None
    assert actor_of(short + "x") is None
    assert actor_of(short, now=NOW + timedelta(days=1)) is None
    revoked = token_for(factory, name="revoked")
    with factory.begin() as session:
        (info,) = [t for t in identity.list_tokens(session) if t.name == "revoked"]
        identity.revoke_token(session, token_id=info.id, now=NOW)
    assert actor_of(revoked) is None
    kept = token_for(factory, name="kept")
    deactivate(factory)
    assert actor_of(kept) is None


# -- passwords --------------------------------------------------------------------------------


def test_changing_the_password_needs_the_current_one(factory):
    with factory.begin() as session:
        user = the_user(session)
        with pytest.raises(InvalidInput) as refused:
            identity.change_password(session, user=user, current="salah", new="baru-sekali-1")
        assert set(refused.value.fields) == {"current"}
    with factory() as session:
        assert identity.authenticate(session, "dedi", PASSWORD) is not None


def test_a_new_password_under_eight_characters_is_refused(factory):
    with factory.begin() as session:
        user = the_user(session)
        with pytest.raises(InvalidInput) as refused:
            identity.change_password(session, user=user, current=PASSWORD, new="pendek7")
        assert set(refused.value.fields) == {"new"}
    with factory() as session:
        assert identity.authenticate(session, "dedi", PASSWORD) is not None


def test_a_changed_password_signs_in_and_the_old_one_does_not(factory):
    with factory.begin() as session:
        identity.change_password(session, user=the_user(session), current=PASSWORD, new="delapan8")
    with factory() as session:
        assert identity.authenticate(session, "dedi", "delapan8") is not None
        assert identity.authenticate(session, "dedi", PASSWORD) is None
        assert identity.authenticate(session, "nobody", PASSWORD) is None


def test_password_hashes_are_salted_scrypt():
    first, second = identity.hash_password("rahasia"), identity.hash_password("rahasia")
    assert first != second
    assert first.startswith("scrypt$")
    assert identity.check_password("rahasia", first)
    assert not identity.check_password("Rahasia", first)
    assert not identity.check_password("rahasia", "not-a-hash")


# -- the admin's changes ----------------------------------------------------------------------


def test_update_user_changes_name_role_groups_and_password(factory):
    with factory.begin() as session:
        user = the_user(session)
        identity.update_user(
            session,
            user_id=user.id,
            display_name="",
            role="opd_head",
            groups=["dlh", "dlh_head"],
            active=True,
            password="baru-sekali",
        )
    with factory() as session:
        (info,) = [u for u in identity.list_users(session) if u.username == "dedi"]
        assert (info.display_name, info.role, info.active) == ("dedi", "opd_head", True)
        assert info.groups == ("dlh", "dlh_head")
        user = identity.authenticate(session, "dedi", "baru-sekali")
        assert user is not None
        assert identity.actor_for(session, user).groups == {"dlh", "dlh_head"}


def test_update_user_refuses_unknown_roles_groups_users_and_short_passwords(factory):
    with factory() as session:
        user_id = the_user(session).id
    attempts = [
        ({"role": "king"}, "role"),
        ({"groups": ["dpupr", "nope"]}, "group"),
        ({"password": "pendek"}, "password"),
        ({"user_id": 999_999}, "user"),
    ]
    for change, field in attempts:
        arguments = {
            "user_id": user_id,
            "display_name": "X",
            "role": "officer",
            "groups": ["dpupr"],
            "active": True,
            **change,
        }
        with factory.begin() as session, pytest.raises(InvalidInput) as refused:
            identity.update_user(session, **arguments)  # type: ignore[arg-type]
        assert field in refused.value.fields
    with factory() as session:
        (info,) = [u for u in identity.list_users(session) if u.username == "dedi"]
        assert (info.display_name, info.role, info.groups) == (
            "Dedi Kurniawan",
            "officer",
            ("dpupr",),
        )


def test_create_user_refuses_a_taken_name_and_unknown_groups(factory):
    with factory.begin() as session, pytest.raises(InvalidInput) as refused:
        identity.create_user(
            session, username="dedi", password=PASSWORD, role="officer", groups=[], now=NOW
        )
    assert "username" in refused.value.fields
    with factory.begin() as session, pytest.raises(InvalidInput):
        identity.create_user(
            session, username="eko", password=PASSWORD, role="officer", groups=["x"], now=NOW
        )


def test_add_group_creates_a_group_lanes_can_name(factory):
    with factory.begin() as session:
        identity.add_group(session, code="bpbd", name="Badan Penanggulangan Bencana", kind="opd")
        identity.add_group(session, code="bpbd_head", name="", kind="opd_head")
    with factory() as session:
        groups = {g.code: g for g in identity.list_groups(session)}
        assert (groups["bpbd"].name, groups["bpbd"].kind) == ("Badan Penanggulangan Bencana", "opd")
        assert groups["bpbd_head"].name == "bpbd_head"
        kinds = [g.kind for g in identity.list_groups(session)]
        assert kinds == sorted(kinds)


@pytest.mark.parametrize(
    ("code", "kind", "field"),
    [
        ("", "opd", "code"),
        ("BPBD", "opd", "code"),
        ("bp-bd", "opd", "code"),
        ("bp bd", "opd", "code"),
        ("bpbd", "agency", "kind"),
        ("dpupr", "opd", "code"),  # exists
    ],
)
def test_add_group_refuses_bad_codes_kinds_and_taken_codes(factory, code, kind, field):
    with factory.begin() as session, pytest.raises(InvalidInput) as refused:
        identity.add_group(session, code=code, name="X", kind=kind)
    assert set(refused.value.fields) == {field}
    with factory() as session:
        assert session.get(Group, "bpbd") is None
