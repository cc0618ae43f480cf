"""The admin's pages (/admin/pengguna, /admin/grup, /admin/token) through the test client, CSRF
on: admins only; users, groups and memberships; API tokens shown once and revoked."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from engine import identity
from engine.models import ApiToken
from engine.models import Group
from engine.models import User
from tests.conftest import NOW
from tests.web.officer_helpers import is_sign_in_redirect
from tests.web.officer_helpers import location
from tests.web.officer_helpers import make_admin
from tests.web.officer_helpers import page
from tests.web.officer_helpers import post_page
from tests.web.officer_helpers import sign_in
from tests.web.officer_helpers import signed_in_client
from tests.web.test_api import assert_error
from tests.web.test_api import bearer

TOKEN = re.compile(r"\blk_[A-Za-z0-9_-]{20,}")
ADMIN_PATHS = ["/admin/pengguna", "/admin/token", "/admin/pengguna/1", "/admin"]


@pytest.fixture
def admin(app, session_factory):
    """A signed-in admin's client."""
    password = make_admin(session_factory)
    return signed_in_client(app, "admin", password)


def user_id(session_factory, username: str) -> int:
    with session_factory() as session:
        return session.scalars(select(User.id).where(User.username == username)).one()


def groups_of(session_factory, username: str) -> set[str]:
    with session_factory() as session:
        user = session.scalars(select(User).where(User.username == username)).one()
        return set(identity.actor_for(session, user).groups)


def create_by_page(admin, username: str, **fields) -> object:
    data = {
        "username": username,
        "display_name": "Rina Wati",
        "role": "officer",
        "groups": ["dlh"],
        "password": "sandi-rina-123",
        **fields,
    }
    return post_page(admin, "/admin/pengguna", data)


def edit_by_page(admin, session_factory, username: str, **fields) -> object:
    path = f"/admin/pengguna/{user_id(session_factory, username)}"
    data = {"username": username, "display_name": username, "role": "officer", **fields}
    return post_page(admin, path, data)


# -- who may open them ------------------------------------------------------------------------


@pytest.mark.parametrize("path", ADMIN_PATHS)
def test_admin_pages_send_a_visitor_to_sign_in(client, path):
    assert is_sign_in_redirect(client.get(path))


@pytest.mark.parametrize("name", ["verifikator", "petugas_dpupr", "kepala_dpupr", "pengawas"])
def test_non_admins_get_the_403_page(app, name):
    client = signed_in_client(app, name)
    for path in ADMIN_PATHS:
        response = client.get(path)
        assert response.status_code == 403, path
        assert "Anda tidak berhak membuka halaman ini" in page(response)


def test_non_admins_cannot_post_to_admin_pages(app, session_factory):
    client = signed_in_client(app, "verifikator")
    response = post_page(
        client,
        "/admin/pengguna",
        {"username": "x", "role": "admin", "password": "sandi-x-12345"},
        token_from="/petugas",
    )
    assert response.status_code == 403
    assert (
        post_page(
            client,
            "/admin/grup",
            {"group-code": "x", "group-name": "X", "group-kind": "opd"},
            token_from="/petugas",
        ).status_code
        == 403
    )
    assert (
        post_page(
            client, "/admin/token", {"user": "verifikator", "name": "x"}, token_from="/petugas"
        ).status_code
        == 403
    )
    with session_factory() as session:
        assert session.scalars(select(User).where(User.username == "x")).first() is None
        assert session.get(Group, "x") is None
        assert session.scalars(select(ApiToken)).all() == []


def test_the_admin_sees_users_groups_and_tokens(admin):
    users = admin.get("/admin/pengguna")
    assert users.status_code == 200
    text = page(users)
    for name in ("verifikator", "petugas_dpupr", "admin", "dpupr_head", "supervisor"):
        assert name in text
    assert users.headers["Cache-Control"] == "private, no-store"
    assert admin.get("/admin/token").status_code == 200
    assert location(admin.get("/admin")) == "/admin/pengguna"


# -- users ------------------------------------------------------------------------------------


def test_an_admin_creates_a_user_who_can_then_sign_in(app, admin, session_factory):
    response = create_by_page(admin, "rina")
    assert response.status_code == 302
    assert location(response) == "/admin/pengguna"
    assert "Pengguna rina dibuat." in page(admin.get("/admin/pengguna"))
    with session_factory() as session:
        user = session.scalars(select(User).where(User.username == "rina")).one()
        assert (user.display_name, user.role, user.active) == ("Rina Wati", "officer", True)
    assert groups_of(session_factory, "rina") == {"dlh"}
    rina = app.test_client()
    assert sign_in(rina, "rina", "sandi-rina-123").status_code == 302
    assert rina.get("/petugas").status_code == 200


def test_a_new_user_needs_a_password_and_a_free_name(admin, session_factory):
    missing = create_by_page(admin, "rina", password="")
    assert missing.status_code == 200
    assert "Pengguna baru perlu kata sandi." in page(missing)
    taken = create_by_page(admin, "verifikator")
    assert taken.status_code == 200
    assert "Tidak dapat diterima" in page(taken)
    short = create_by_page(admin, "rina", password="pendek")
    assert short.status_code == 200
    assert "Paling sedikit 8 karakter." in page(short)
    unknown_role = create_by_page(admin, "rina", role="raja")
    assert unknown_role.status_code == 200
    with session_factory() as session:
        assert session.scalars(select(User).where(User.username == "rina")).first() is None


def test_an_admin_edits_a_users_groups_and_role(admin, session_factory):
    response = edit_by_page(
        admin,
        session_factory,
        "petugas_dlh",
        display_name="Petugas DLH dan DPUPR",
        groups=["dlh", "dpupr"],
        active="y",
    )
    assert response.status_code == 302
    assert groups_of(session_factory, "petugas_dlh") == {"dlh", "dpupr"}
    response = edit_by_page(
        admin, session_factory, "petugas_dlh", role="opd_head", groups=["dlh_head"], active="y"
    )
    assert response.status_code == 302
    assert groups_of(session_factory, "petugas_dlh") == {"dlh_head"}
    with session_factory() as session:
        user = session.scalars(select(User).where(User.username == "petugas_dlh")).one()
        assert (user.role, user.active) == ("opd_head", True)
    edit_page = page(admin.get(f"/admin/pengguna/{user_id(session_factory, 'petugas_dlh')}"))
    assert re.search(r'value="dlh_head"[^>]*checked|checked[^>]*value="dlh_head"', edit_page)


def test_removing_every_group_leaves_the_user_with_none(admin, session_factory):
    response = edit_by_page(admin, session_factory, "petugas_dlh", active="y")
    assert response.status_code == 302
    assert groups_of(session_factory, "petugas_dlh") == set()


def test_a_deactivated_user_cannot_sign_in_and_their_token_and_session_stop(
    app, admin, session_factory, tokens
):
    theirs = signed_in_client(app, "petugas_dlh")
    assert theirs.get("/petugas").status_code == 200
    assert (
        app.test_client().get("/api/v1/tasks", headers=bearer(tokens["petugas_dlh"])).status_code
        == 200
    )
    response = edit_by_page(admin, session_factory, "petugas_dlh", groups=["dlh"])  # unticked
    assert response.status_code == 302
    with session_factory() as session:
        user = session.scalars(select(User).where(User.username == "petugas_dlh")).one()
        assert user.active is False
    refused = sign_in(app.test_client(), "petugas_dlh")
    assert refused.status_code == 200
    assert "Nama pengguna atau kata sandi salah." in page(refused)
    api = app.test_client().get("/api/v1/tasks", headers=bearer(tokens["petugas_dlh"]))
    assert_error(api, 401, "unauthorized")
    assert api.headers["WWW-Authenticate"].startswith("Bearer")
    assert is_sign_in_redirect(theirs.get("/petugas"))


def test_a_password_reset_by_the_admin_ends_the_users_sessions(app, admin, session_factory):
    theirs = signed_in_client(app, "petugas_dlh")
    response = edit_by_page(
        admin, session_factory, "petugas_dlh", groups=["dlh"], active="y", password="sandi-baru-99"
    )
    assert response.status_code == 302
    assert is_sign_in_redirect(theirs.get("/petugas"))
    assert sign_in(app.test_client(), "petugas_dlh", "sandi-baru-99").status_code == 302


def test_an_unknown_group_in_an_edit_is_refused(admin, session_factory):
    response = edit_by_page(admin, session_factory, "petugas_dlh", groups=["nope"], active="y")
    assert response.status_code == 200
    assert groups_of(session_factory, "petugas_dlh") == {"dlh"}


# -- groups -----------------------------------------------------------------------------------


def test_an_admin_creates_a_group_users_can_then_join(admin, session_factory):
    response = post_page(
        admin,
        "/admin/grup",
        {"group-code": "bpbd", "group-name": "Badan Penanggulangan Bencana", "group-kind": "opd"},
        token_from="/admin/pengguna",
    )
    assert response.status_code == 302
    text = page(admin.get("/admin/pengguna"))
    assert "Kelompok bpbd dibuat." in text
    assert "Badan Penanggulangan Bencana" in text
    with session_factory() as session:
        group = session.get(Group, "bpbd")
        assert group is not None
        assert group.kind == "opd"
    edit_by_page(admin, session_factory, "petugas_dlh", groups=["dlh", "bpbd"], active="y")
    assert groups_of(session_factory, "petugas_dlh") == {"dlh", "bpbd"}


@pytest.mark.parametrize(
    ("code", "name", "kind"), [("BPBD", "X", "opd"), ("dpupr", "X", "opd"), ("", "X", "opd")]
)
def test_a_bad_or_taken_group_code_is_refused(admin, session_factory, code, name, kind):
    with session_factory() as session:
        before = len(identity.list_groups(session))
    response = post_page(
        admin,
        "/admin/grup",
        {"group-code": code, "group-name": name, "group-kind": kind},
        token_from="/admin/pengguna",
    )
    assert response.status_code == 302
    assert "Kelompok tidak dibuat" in page(admin.get("/admin/pengguna"))
    with session_factory() as session:
        assert len(identity.list_groups(session)) == before
        assert session.get(Group, "bpbd") is None


# -- tokens -----------------------------------------------------------------------------------


def test_a_token_is_shown_once_and_works_until_it_is_revoked(app, admin, session_factory):
    response = post_page(
        admin, "/admin/token", {"user": "petugas_dpupr", "name": "aplikasi mitra", "days": "30"}
    )
    assert response.status_code == 200
    text = page(response)
    assert "Salin sekarang: token ini tidak akan ditampilkan lagi." in text
    (token,) = set(TOKEN.findall(text))
    assert response.headers["Cache-Control"] == "private, no-store"
    with session_factory() as session:
        (row,) = session.scalars(select(ApiToken)).all()
        assert row.name == "aplikasi mitra"
        assert row.expires_at is not None
        assert row.created_at is not None
        lifetime = row.expires_at - row.created_at
        assert lifetime.days == 30
        token_id = row.id
    again = page(admin.get("/admin/token"))
    assert token not in again
    assert not TOKEN.search(again)
    assert "aplikasi mitra" in again
    assert "petugas_dpupr" in again
    api = app.test_client()
    assert api.get("/api/v1/tasks", headers=bearer(token)).status_code == 200
    revoked = post_page(admin, f"/admin/token/{token_id}/cabut", token_from="/admin/token")
    assert revoked.status_code == 302
    assert location(revoked) == "/admin/token"
    assert "dicabut" in page(admin.get("/admin/token"))
    answer = api.get("/api/v1/tasks", headers=bearer(token))
    assert_error(answer, 401, "unauthorized")
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_token_without_days_never_expires(admin, session_factory):
    response = post_page(admin, "/admin/token", {"user": "pengawas", "name": "dasbor", "days": ""})
    assert response.status_code == 200
    assert TOKEN.search(page(response))
    with session_factory() as session:
        (row,) = session.scalars(select(ApiToken)).all()
        assert row.expires_at is None
    assert "tanpa batas" in page(admin.get("/admin/token"))


def test_a_token_needs_a_label_and_a_sensible_lifetime(admin, session_factory):
    for data in (
        {"user": "pengawas", "name": "", "days": "30"},
        {"user": "pengawas", "name": "x", "days": "0"},
        {"user": "pengawas", "name": "x", "days": "3651"},
        {"user": "nobody", "name": "x", "days": "30"},
    ):
        response = post_page(admin, "/admin/token", data)
        assert response.status_code == 200
        assert not TOKEN.search(page(response)), data
    with session_factory() as session:
        assert session.scalars(select(ApiToken)).all() == []


def test_revoking_needs_the_csrf_token(app, admin, session_factory):
    with session_factory.begin() as session:
        token = identity.create_token(session, username="pengawas", name="x", now=NOW)
        token_id = session.scalars(select(ApiToken.id)).one()
    assert admin.post(f"/admin/token/{token_id}/cabut").status_code == 400
    assert app.test_client().get("/api/v1/tasks", headers=bearer(token)).status_code == 200


# -- the `laksa tokens` command ---------------------------------------------------------------


@pytest.fixture
def laksa(settings, session_factory):
    """Run `laksa` on the test database (the one the `app` fixture serves)."""
    from click.testing import CliRunner

    from web.cli import main

    env = {
        "LAKSA_HOME": str(settings.home),
        "LAKSA_DATABASE_URL": settings.database_url,
        "LAKSA_SECRET_KEY": settings.secret_key,
        "LAKSA_REDIS_URL": "",
    }

    def run(*args: str):
        return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)

    return run


def listed(laksa, *args: str) -> list[list[str]]:
    result = laksa("tokens", "list", *args)
    assert result.exit_code == 0, result.output
    return [line.split("\t") for line in result.output.splitlines() if line.strip()]


def test_cli_tokens_create_with_days_is_listed_active_with_its_expiry(
    laksa, client, session_factory
):
    from datetime import UTC
    from datetime import datetime
    from datetime import timedelta

    before = datetime.now(UTC)
    created = laksa("tokens", "create", "petugas_dpupr", "--days", "1", "--label", "mitra")
    assert created.exit_code == 0, created.output
    token = created.output.strip()
    assert TOKEN.fullmatch(token)
    (row,) = listed(laksa)
    token_id, user, label, made, expires, last_used, state = row
    assert (user, label, state) == ("petugas_dpupr", "mitra", "active")
    assert made.startswith("created ")
    assert last_used == "last used -"
    expected = {
        (before + timedelta(days=1, minutes=m)).strftime("expires %Y-%m-%d %H:%M") for m in (0, 1)
    }
    assert expires in expected
    assert token not in created.output.replace(token, "", 1)  # printed once
    assert client.get("/api/v1/tasks", headers=bearer(token)).status_code == 200
    (row,) = listed(laksa)
    assert row[5] != "last used -"  # the use is noted
    assert listed(laksa, "--user", "petugas_dpupr")[0][0] == token_id
    assert listed(laksa, "--user", "pengawas") == []


def test_cli_tokens_revoke_makes_list_say_revoked_and_the_token_401(laksa, client):
    token = laksa("tokens", "create", "verifikator").output.strip()
    ((token_id, *_rest, expires_state),) = [r[:1] + r[4:] for r in listed(laksa)]
    assert expires_state == "active"
    assert listed(laksa)[0][4] == "expires -"  # no --days: no expiry
    revoked = laksa("tokens", "revoke", token_id)
    assert revoked.exit_code == 0
    assert revoked.output.strip() == f"token {token_id} revoked"
    assert listed(laksa)[0][-1] == "revoked"
    response = client.get("/api/v1/tasks", headers=bearer(token))
    assert_error(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    again = laksa("tokens", "revoke", token_id)
    assert again.exit_code == 1
    assert f"no active token {token_id}" in again.output


def test_cli_lists_an_expired_token_as_expired_and_it_answers_401(laksa, client, session_factory):
    from datetime import timedelta

    from engine.clock import now as wall_now

    with session_factory.begin() as session:
        token = identity.create_token(
            session,
            username="pengawas",
            name="lama",
            now=wall_now() - timedelta(days=3),
            lifetime=timedelta(days=1),
        )
    (row,) = listed(laksa)
    assert (row[1], row[2], row[-1]) == ("pengawas", "lama", "expired")
    response = client.get("/api/v1/tasks", headers=bearer(token))
    assert_error(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_cli_refuses_an_unknown_user_and_a_lifetime_out_of_range(laksa):
    unknown = laksa("tokens", "create", "nobody")
    assert unknown.exit_code == 1
    assert "no user 'nobody'" in unknown.output
    for days in ("0", "3651", "x"):
        assert laksa("tokens", "create", "verifikator", "--days", days).exit_code == 2
    assert listed(laksa) == []
