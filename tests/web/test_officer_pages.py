"""The officers' pages through the Flask test client, CSRF on: sign in and out, the inbox, the
task page and its form (conflicts, errors, an after-photo), claims, passwords, the throttle,
oversight and a ticket as staff see it."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from engine import commands
from engine import timers
from engine.clock import now as wall_now
from engine.identity import Actor
from engine.identity import create_user
from engine.models import Attachment
from engine.models import HumanTask
from engine.ticket_view import ticket_view
from tests.conftest import NOW
from tests.web.officer_helpers import checked_radio
from tests.web.officer_helpers import field_error
from tests.web.officer_helpers import fire_timers
from tests.web.officer_helpers import input_value
from tests.web.officer_helpers import is_sign_in_redirect
from tests.web.officer_helpers import jpeg
from tests.web.officer_helpers import location
from tests.web.officer_helpers import open_task_of
from tests.web.officer_helpers import page
from tests.web.officer_helpers import post_multipart
from tests.web.officer_helpers import post_page
from tests.web.officer_helpers import query_of
from tests.web.officer_helpers import sign_in
from tests.web.officer_helpers import signed_in_client
from tests.web.officer_helpers import textarea_value
from tests.web.officer_helpers import ticket_of
from tests.web.officer_helpers import version_of
from tests.web.test_api import bearer
from tests.web.test_api import report
from tests.web.test_api import task_of

WRONG = "Nama pengguna atau kata sandi salah."
STALE = "sudah diubah orang lain"


def complete_by_api(client: FlaskClient, token: str, number: str, data: dict[str, Any]) -> None:
    task = task_of(client, token, number)
    response = client.post(
        f"/api/v1/tasks/{task['id']}/complete",
        json={"data": data, "version": task["version"]},
        headers=bearer(token),
    )
    assert response.status_code == 200, response.get_json()


def to_handling(client: FlaskClient, tokens: dict[str, str], number: str) -> None:
    complete_by_api(client, tokens["verifikator"], number, {"decision": "route"})
    complete_by_api(
        client, tokens["petugas_dpupr"], number, {"decision": "accept", "complexity": "simple"}
    )


def task_path(session_factory, number: str) -> str:
    return f"/petugas/tugas/{open_task_of(session_factory, number).id}"


# -- signing in -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/petugas",
        "/petugas/tugas/1",
        "/petugas/pengawasan",
        "/akun/sandi",
        "/petugas?filter=overdue",
    ],
)
def test_an_officer_page_without_a_session_sends_to_sign_in_with_next(client, path):
    response = client.get(path)
    assert is_sign_in_redirect(response)
    assert query_of(response)["next"] == [path]


def test_the_sign_in_page_carries_next_in_its_form(client):
    text = page(client.get("/masuk?next=/petugas/pengawasan"))
    assert input_value(text, "next") == "/petugas/pengawasan"
    assert 'name="csrf_token"' in text


def test_a_wrong_password_shows_the_error_and_does_not_sign_in(client):
    response = sign_in(client, "verifikator", "salah-sekali", next="/petugas")
    assert response.status_code == 200
    text = page(response)
    assert WRONG in text
    assert input_value(text, "username") == "verifikator"
    assert input_value(text, "password") in (None, "")  # a password is never sent back
    assert is_sign_in_redirect(client.get("/petugas"))


def test_an_unknown_user_gets_the_same_answer_as_a_wrong_password(client):
    response = sign_in(client, "tidak_ada", "password-x")
    assert response.status_code == 200
    assert WRONG in page(response)


def test_a_sign_in_without_the_csrf_token_is_refused(client):
    response = client.post("/masuk", data={"username": "verifikator", "password": "x"})
    assert response.status_code == 400
    assert is_sign_in_redirect(client.get("/petugas"))


def test_the_right_password_goes_back_to_next(client):
    response = sign_in(client, "verifikator", next="/petugas?filter=overdue")
    assert response.status_code == 302
    assert location(response) == "/petugas?filter=overdue"
    assert client.get("/petugas").status_code == 200


def test_without_next_the_inbox_follows_the_sign_in(client):
    response = sign_in(client, "verifikator")
    assert location(response) == "/petugas"


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/petugas",
        "//evil.example/petugas",
        "evil.example",
        "javascript:alert(1)",
    ],
)
def test_next_never_leads_to_another_site(client, target):
    response = sign_in(client, "verifikator", next=target)
    assert response.status_code == 302
    assert "evil.example" not in response.headers["Location"]
    assert location(response) in ("/", "/petugas")


def test_an_inactive_user_cannot_sign_in(client, session_factory):
    with session_factory.begin() as session:
        create_user(
            session, username="lama", password="password-lama", role="officer", groups=[], now=NOW
        )
        from engine.models import User

        session.scalars(select(User).where(User.username == "lama")).one().active = False
    response = sign_in(client, "lama")
    assert response.status_code == 200
    assert WRONG in page(response)


def test_sign_out_ends_the_session(app):
    client = signed_in_client(app, "verifikator")
    assert client.get("/petugas").status_code == 200
    response = post_page(client, "/keluar", token_from="/petugas")
    assert response.status_code == 302
    assert location(response) == "/masuk"
    assert "Anda telah keluar." in page(client.get("/masuk"))
    assert is_sign_in_redirect(client.get("/petugas"))


def test_sign_out_needs_the_csrf_token(app):
    client = signed_in_client(app, "verifikator")
    assert client.post("/keluar").status_code == 400
    assert client.get("/petugas").status_code == 200


def test_sign_in_is_throttled_per_address(settings, session_factory):
    from web.app import create_app

    limited = create_app(
        {
            "SETTINGS": settings,
            "TESTING": True,
            "DB_ENGINE": session_factory.kw["bind"],
            "RATELIMIT_ENABLED": True,
            "LAKSA_SIGN_IN_LIMIT": "3 per minute",
        }
    )
    client = limited.test_client()
    for _ in range(3):
        response = sign_in(client, "verifikator", "salah-sekali")
        assert response.status_code == 200
        assert WRONG in page(response)
    refused = sign_in(client, "verifikator")  # even the right password, now
    assert refused.status_code == 429
    assert is_sign_in_redirect(client.get("/petugas"))
    assert client.get("/masuk").status_code == 200  # reading the page is not limited


# -- passwords --------------------------------------------------------------------------------


def test_changing_the_password_ends_other_sessions_but_not_this_one(app):
    here = signed_in_client(app, "petugas_dpupr")
    there = signed_in_client(app, "petugas_dpupr")
    assert there.get("/petugas").status_code == 200
    response = post_page(
        here,
        "/akun/sandi",
        {
            "current": "password-petugas_dpupr",
            "new": "sandi-baru-123",
            "repeat": "sandi-baru-123",
        },
    )
    assert response.status_code == 302
    assert location(response) == "/petugas"
    assert here.get("/petugas").status_code == 200
    assert is_sign_in_redirect(there.get("/petugas"))
    fresh = app.test_client()
    assert sign_in(fresh, "petugas_dpupr").status_code == 200  # the old password: refused
    assert sign_in(fresh, "petugas_dpupr", "sandi-baru-123").status_code == 302


def test_a_wrong_current_password_changes_nothing(app):
    client = signed_in_client(app, "petugas_dpupr")
    response = post_page(
        client,
        "/akun/sandi",
        {"current": "salah-sekali", "new": "sandi-baru-123", "repeat": "sandi-baru-123"},
    )
    assert response.status_code == 200
    assert "Kata sandi sekarang salah." in page(response)
    assert client.get("/petugas").status_code == 200
    assert sign_in(app.test_client(), "petugas_dpupr").status_code == 302


def test_a_short_or_mistyped_new_password_is_shown_beside_its_field(app):
    client = signed_in_client(app, "petugas_dpupr")
    short = post_page(
        client,
        "/akun/sandi",
        {"current": "password-petugas_dpupr", "new": "pendek", "repeat": "pendek"},
    )
    assert short.status_code == 200
    assert "Paling sedikit 8 karakter." in page(short)
    mistyped = post_page(
        client,
        "/akun/sandi",
        {"current": "password-petugas_dpupr", "new": "sandi-baru-123", "repeat": "sandi-baru-321"},
    )
    assert mistyped.status_code == 200
    assert "Kedua kata sandi baru tidak sama." in page(mistyped)
    assert sign_in(app.test_client(), "petugas_dpupr").status_code == 302


# -- the inbox --------------------------------------------------------------------------------


def test_the_inbox_lists_the_verifiers_task_with_its_deadline_in_words(app, client):
    number = report(client)
    verifier = signed_in_client(app, "verifikator")
    response = verifier.get("/petugas")
    assert response.status_code == 200
    text = page(response)
    assert number in text
    assert re.search(r"\d+ hari lagi", text)
    assert "Verifikasi laporan" in text
    assert "Jalan berlubang di Jl. Merdeka" in text
    assert (
        f'href="/petugas/tugas/{open_task_of(app.extensions["laksa_sessions"], number).id}"' in text
    )
    other = signed_in_client(app, "petugas_dpupr")
    assert number not in page(other.get("/petugas"))


def test_the_inbox_filters_and_counts(app, client):
    first = report(client)
    second = report(
        client, category="drainase", location={"address": "Jl. A", "kecamatan": "Karawaci"}
    )
    verifier = signed_in_client(app, "verifikator")
    everything = page(verifier.get("/petugas"))
    assert first in everything
    assert second in everything
    assert re.search(r'class="count">2<', everything)
    by_number = page(verifier.get(f"/petugas?nomor={second.lower()}"))
    assert second in by_number
    assert first not in by_number
    by_kecamatan = page(verifier.get("/petugas?kecamatan=Karawaci"))
    assert second in by_kecamatan
    assert first not in by_kecamatan
    by_category = page(verifier.get("/petugas?kategori=jalan_rusak"))
    assert first in by_category
    assert second not in by_category
    overdue = page(verifier.get("/petugas?filter=overdue"))
    assert first not in overdue
    assert "Tidak ada tugas untuk pilihan ini." in overdue
    assert first not in page(verifier.get("/petugas?filter=today"))


def test_the_inbox_pages_by_cursor(app, client, session_factory):
    with session_factory.begin() as session:
        for _ in range(27):
            commands.submit_ticket(
                session,
                data=commands.TicketInput("complaint", "jalan_rusak", "Lubang", "Lubang besar"),
                actor=Actor.public(),
                now=wall_now(),
            )
    verifier = signed_in_client(app, "verifikator")
    first = page(verifier.get("/petugas"))
    assert first.count('class="task-row') == 25
    match = re.search(r'href="(/petugas\?[^"]*setelah=[^"]+)"', first)
    assert match, "no link to the next page"
    second = page(verifier.get(match.group(1).replace("&amp;", "&")))
    assert second.count('class="task-row') == 2
    numbers = set(re.findall(r'class="task-ticket">(LK-\w+)<', first + second))
    assert len(numbers) == 27


# -- the task page and its form ---------------------------------------------------------------


def test_the_task_page_shows_the_ticket_the_form_and_the_history(app, client, session_factory):
    number = report(client)
    verifier = signed_in_client(app, "verifikator")
    response = verifier.get(task_path(session_factory, number))
    assert response.status_code == 200
    text = page(response)
    assert "<h1>Verifikasi laporan</h1>" in text
    assert number in text
    assert "budi@example.org" in text  # the desk sees the contact
    assert 'name="version"' in text
    assert input_value(text, "version") == str(version_of(session_factory, number))
    for value in ("route", "reject", "not_our_authority", "duplicate"):
        assert f'value="{value}"' in text
    assert 'name="duplicate_of"' in text
    assert "Riwayat internal" in text
    assert "ticket_submitted" in text
    english = page(verifier.get(task_path(session_factory, number) + "?lang=en"))
    assert "Verify the complaint" in english


def test_posting_the_form_completes_the_task_and_routes_the_ticket(app, client, session_factory):
    number = report(client)
    verifier = signed_in_client(app, "verifikator")
    path = task_path(session_factory, number)
    version = version_of(session_factory, number)
    response = post_page(verifier, path, {"decision": "route", "version": str(version)})
    assert response.status_code == 302, page(response)[:2000]
    assert location(response) == "/petugas"
    ticket = ticket_of(session_factory, number)
    assert (ticket.status, ticket.opd) == ("dispatched", "dpupr")
    assert open_task_of(session_factory, number).candidate_group == "dpupr"
    inbox = page(verifier.get("/petugas"))
    assert f"Tugas untuk laporan {number} selesai." in inbox  # the flash
    assert f'class="task-ticket">{number}<' not in inbox
    dpupr = signed_in_client(app, "petugas_dpupr")
    assert number in page(dpupr.get("/petugas"))


def test_a_stale_version_is_a_409_with_the_fresh_state_and_what_was_typed(
    app, client, session_factory
):
    number = report(client)
    verifier = signed_in_client(app, "verifikator")
    path = task_path(session_factory, number)
    seen = version_of(session_factory, number)
    # Meanwhile the verification deadline passes and the escalation moves the ticket on.
    fire_timers(session_factory, number, now=wall_now() + timedelta(days=10))
    fresh = version_of(session_factory, number)
    assert fresh != seen
    typed = {"decision": "reject", "reason": "Iklan, bukan laporan warga", "version": str(seen)}
    response = post_page(verifier, path, typed)
    assert response.status_code == 409
    text = page(response)
    assert STALE in text
    assert checked_radio(text, "decision") == "reject"
    assert textarea_value(text, "reason") == "Iklan, bukan laporan warga"
    assert input_value(text, "version") == str(fresh)
    assert ticket_of(session_factory, number).status == "verification"
    # Sent again from the fresh page, it goes through.
    again = post_page(verifier, path, {**typed, "version": str(fresh)})
    assert again.status_code == 302
    assert ticket_of(session_factory, number).status == "archived"


def test_a_task_completed_by_a_colleague_meanwhile_is_a_409_naming_them(
    app, client, tokens, session_factory
):
    number = report(client)
    verifier = signed_in_client(app, "verifikator")
    path = task_path(session_factory, number)
    seen = version_of(session_factory, number)
    complete_by_api(client, tokens["verifikator"], number, {"decision": "route"})
    response = post_page(
        verifier, path, {"decision": "reject", "reason": "Spam", "version": str(seen)}
    )
    assert response.status_code == 409
    text = page(response)
    assert STALE in text
    assert "verifikator" in text
    assert ticket_of(session_factory, number).status == "dispatched"


def test_a_missing_decision_shows_the_error_beside_it(app, client, session_factory):
    number = report(client)
    verifier = signed_in_client(app, "verifikator")
    path = task_path(session_factory, number)
    before = version_of(session_factory, number)
    response = post_page(verifier, path, {"version": str(before)})
    assert response.status_code == 200
    text = page(response)
    assert 'class="error-summary"' in text
    assert 'id="decision-error"' in text
    assert field_error(text, "decision") == "Pilih salah satu."
    assert version_of(session_factory, number) == before
    assert ticket_of(session_factory, number).status == "verification"


def test_a_missing_conditional_field_is_blamed_and_what_was_typed_is_kept(
    app, client, session_factory
):
    number = report(client)
    verifier = signed_in_client(app, "verifikator")
    path = task_path(session_factory, number)
    response = post_page(
        verifier,
        path,
        {"decision": "reject", "reason": "", "version": str(version_of(session_factory, number))},
    )
    assert response.status_code == 200
    text = page(response)
    assert field_error(text, "reason") == "Wajib diisi."
    assert checked_radio(text, "decision") == "reject"


def test_an_unknown_duplicate_number_is_shown_beside_its_field(app, client, session_factory):
    number = report(client)
    verifier = signed_in_client(app, "verifikator")
    path = task_path(session_factory, number)
    response = post_page(
        verifier,
        path,
        {
            "decision": "duplicate",
            "duplicate_of": "lk-zzzzzzzz",
            "version": str(version_of(session_factory, number)),
        },
    )
    assert response.status_code == 200
    text = page(response)
    assert field_error(text, "duplicate_of") == "Tidak ada laporan dengan nomor itu."
    assert input_value(text, "duplicate_of") == "lk-zzzzzzzz"
    assert ticket_of(session_factory, number).status == "verification"


def test_the_tickets_own_number_as_its_original_is_not_called_unknown(app, client, session_factory):
    number = report(client)
    verifier = signed_in_client(app, "verifikator")
    response = post_page(
        verifier,
        task_path(session_factory, number),
        {
            "decision": "duplicate",
            "duplicate_of": number,
            "version": str(version_of(session_factory, number)),
        },
    )
    assert response.status_code == 200
    assert ticket_of(session_factory, number).status == "verification"
    message = field_error(page(response), "duplicate_of")
    assert message  # refused beside the field ...
    assert message != "Tidak ada laporan dengan nomor itu."  # ... but the ticket exists


def test_a_duplicate_typed_in_lower_case_on_the_page_links_the_tickets(
    app, client, session_factory
):
    original = report(client)
    number = report(client, reporter={"name": "Siti", "contact": "siti@example.org"})
    verifier = signed_in_client(app, "verifikator")
    response = post_page(
        verifier,
        task_path(session_factory, number),
        {
            "decision": "duplicate",
            "duplicate_of": original.lower(),
            "version": str(version_of(session_factory, number)),
        },
    )
    assert response.status_code == 302
    duplicate = ticket_of(session_factory, number)
    assert duplicate.status == "duplicate"
    assert duplicate.duplicate_of_id == ticket_of(session_factory, original).id


def test_an_after_photo_uploaded_with_the_form_resolves_the_ticket(
    app, client, tokens, session_factory
):
    number = report(client)
    to_handling(client, tokens, number)
    officer = signed_in_client(app, "petugas_dpupr")
    path = task_path(session_factory, number)
    text = page(officer.get(path))
    assert "<h1>Tangani laporan</h1>" in text
    assert 'type="file"' in text
    assert 'name="after_photo"' in text
    response = post_multipart(
        officer,
        path,
        {
            "decision": "resolve",
            "resolution": "Lubang sudah ditambal aspal",
            "after_photo": (jpeg(), "sesudah.jpg"),
            "version": str(version_of(session_factory, number)),
        },
    )
    assert response.status_code == 302, page(response)[:3000]
    ticket = ticket_of(session_factory, number)
    assert ticket.status == "resolved"
    with session_factory() as session:
        (photo,) = session.scalars(
            select(Attachment).where(
                Attachment.ticket_id == ticket.id, Attachment.purpose == "after"
            )
        ).all()
        assert photo.linked_at is not None
        assert photo.uploader == "user:petugas_dpupr"
        public = ticket_view(session, number)
        assert [p.id for p in public.photos_for("after")] == [photo.id]
        assert public.photos_for("after")[0].on_record
    assert client.get(f"/foto/{photo.id}").status_code == 200  # public once on record


def test_a_resolution_without_its_text_keeps_the_checked_photo(
    app, client, tokens, session_factory
):
    number = report(client)
    to_handling(client, tokens, number)
    officer = signed_in_client(app, "petugas_dpupr")
    path = task_path(session_factory, number)
    response = post_multipart(
        officer,
        path,
        {
            "decision": "resolve",
            "resolution": "",
            "after_photo": (jpeg(), "sesudah.jpg"),
            "version": str(version_of(session_factory, number)),
        },
    )
    assert response.status_code == 200
    text = page(response)
    assert field_error(text, "resolution") == "Wajib diisi."
    assert 'name="after_photo__kept"' in text
    assert ticket_of(session_factory, number).status == "in_progress"
    with session_factory() as session:
        assert session.scalars(select(Attachment).where(Attachment.purpose == "after")).all() == []


def test_another_opds_officer_gets_the_403_page(app, client, tokens, session_factory):
    number = report(client)
    complete_by_api(client, tokens["verifikator"], number, {"decision": "route"})
    path = task_path(session_factory, number)
    dlh = signed_in_client(app, "petugas_dlh")
    response = dlh.get(path)
    assert response.status_code == 403
    assert "Anda tidak berhak membuka halaman ini" in page(response)
    assert number not in page(response)
    posted = post_page(
        dlh,
        path,
        {"decision": "accept", "complexity": "simple", "version": "1"},
        token_from="/petugas",
    )
    assert posted.status_code == 403
    assert ticket_of(session_factory, number).status == "dispatched"


def test_a_supervisor_reads_a_task_without_its_form(app, client, tokens, session_factory):
    number = report(client)
    response = signed_in_client(app, "pengawas").get(task_path(session_factory, number))
    assert response.status_code == 200
    text = page(response)
    assert number in text
    assert "Kirim keputusan" not in text
    assert "Riwayat internal" in text


def test_a_missing_task_is_404(app):
    assert signed_in_client(app, "verifikator").get("/petugas/tugas/999999").status_code == 404


# -- claims -----------------------------------------------------------------------------------


def test_claim_take_over_and_release_on_the_task_page(app, client, session_factory):
    with session_factory.begin() as session:
        create_user(
            session,
            username="verifikator2",
            password="password-verifikator2",
            role="verifier",
            groups=["verifier"],
            now=NOW,
        )
    number = report(client)
    path = task_path(session_factory, number)
    version = version_of(session_factory, number)
    ani, budi = signed_in_client(app, "verifikator"), signed_in_client(app, "verifikator2")
    assert "Belum ada yang mengerjakan tugas ini." in page(ani.get(path))
    claimed = post_page(ani, path + "/ambil", token_from=path)
    assert claimed.status_code == 302
    assert location(claimed) == path
    assert "Dikerjakan oleh verifikator sejak" in page(budi.get(path))
    assert "dikerjakan verifikator" in page(budi.get("/petugas"))
    # A colleague's claim asks first.
    asked = post_page(budi, path + "/ambil", token_from=path)
    assert location(asked) == path + "/ambil-alih"
    assert "Ambil alih tugas ini?" in page(budi.get(path + "/ambil-alih"))
    taken = post_page(budi, path + "/ambil-alih")
    assert location(taken) == path
    assert "Anda mengambil alih tugas ini dari user:verifikator." in page(budi.get(path))
    assert open_task_of(session_factory, number).claimed_by == "user:verifikator2"
    # The former holder cannot release it; the holder can.
    post_page(ani, path + "/lepas", token_from=path)
    assert open_task_of(session_factory, number).claimed_by == "user:verifikator2"
    post_page(budi, path + "/lepas", token_from=path)
    assert open_task_of(session_factory, number).claimed_by is None
    assert version_of(session_factory, number) == version
    with session_factory() as session:
        task = session.get(HumanTask, open_task_of(session_factory, number).id)
        assert task is not None
        assert task.claimed_at is None


def test_claiming_needs_the_csrf_token(app, client, session_factory):
    number = report(client)
    path = task_path(session_factory, number)
    verifier = signed_in_client(app, "verifikator")
    assert verifier.post(path + "/ambil").status_code == 400
    assert open_task_of(session_factory, number).claimed_by is None


def test_another_opds_officer_cannot_claim(app, client, session_factory):
    number = report(client)
    path = task_path(session_factory, number)
    dpupr = signed_in_client(app, "petugas_dpupr")
    response = post_page(dpupr, path + "/ambil", token_from="/petugas")
    assert response.status_code == 403
    assert open_task_of(session_factory, number).claimed_by is None


# -- oversight and staff ticket pages ---------------------------------------------------------


def test_oversight_lists_an_escalated_ticket_for_the_supervisor_only(app, session_factory):
    past = wall_now() - timedelta(days=30)
    with session_factory.begin() as session:
        number = commands.submit_ticket(
            session,
            data=commands.TicketInput("complaint", "jalan_rusak", "Lubang lama", "Belum diperiksa"),
            actor=Actor.public(),
            now=past,
        ).ticket.number
    timers.run_due(session_factory, now=wall_now())
    assert ticket_of(session_factory, number).escalation_level >= 1
    supervisor = signed_in_client(app, "pengawas")
    response = supervisor.get("/petugas/pengawasan")
    assert response.status_code == 200
    assert number in page(response)
    denied = signed_in_client(app, "petugas_dpupr").get("/petugas/pengawasan")
    assert denied.status_code == 403
    assert "Anda tidak berhak membuka halaman ini" in page(denied)


def test_a_confidential_ticket_page_is_for_the_desk_and_the_routed_opd(
    app, client, tokens, session_factory
):
    number = report(client, confidential=True)
    complete_by_api(client, tokens["verifikator"], number, {"decision": "route"})
    path = f"/petugas/laporan/{number}"
    for user in ("verifikator", "petugas_dpupr", "kepala_dpupr", "pengawas"):
        response = signed_in_client(app, user).get(path)
        assert response.status_code == 200, user
        assert number in page(response)
    assert signed_in_client(app, "verifikator").get(path.lower()).status_code == 200
    assert "budi@example.org" in page(signed_in_client(app, "verifikator").get(path))
    hidden = signed_in_client(app, "petugas_dlh").get(path)
    assert hidden.status_code == 404
    main = page(hidden).split("<main", 1)[1]
    assert number not in main
    assert "Jalan berlubang" not in main
    assert "budi@example.org" not in main
    assert client.get(path).status_code == 302  # not signed in: to /masuk


def test_the_csrf_token_of_the_inbox_serves_every_form_of_the_session(app):
    # The token is signed with a timestamp, so two pages may print different strings; what
    # matters is that the inbox's token is accepted by another form of the same session.
    client = signed_in_client(app, "verifikator")
    response = post_page(
        client,
        "/akun/sandi",
        {"current": "salah-sekali", "new": "sandi-baru-123", "repeat": "sandi-baru-123"},
        token_from="/petugas",
    )
    assert response.status_code == 200  # the form answered, not the CSRF check (400)
    assert "Kata sandi sekarang salah." in page(response)
