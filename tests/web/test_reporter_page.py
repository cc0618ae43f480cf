"""The reporter's private page /laporan/<number>/k/<secret> and the API behind the secret."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select

from engine.models import Rating
from tests.web.pages import Driven
from tests.web.pages import attachments_of
from tests.web.pages import csrf
from tests.web.pages import field_error
from tests.web.pages import jpeg
from tests.web.pages import post_form
from tests.web.pages import text
from tests.web.pages import ticket_row
from tests.web.pages import version_of
from tests.web.pages import written
from tests.web.test_api import assert_error
from tests.web.test_api import snapshot

NOT_WAITING = "Laporan ini sudah tidak menunggu jawaban itu"


@pytest.fixture
def ticket(client, tokens) -> Driven:
    return Driven(client, tokens, reporter={"name": "Rina", "contact": "rina@example.org"})


@pytest.fixture
def other(client, tokens) -> Driven:
    return Driven(client, tokens, title="Laporan tetangga")


def actions(page: str, ticket: Driven) -> set[str]:
    """The private forms on the page: balas, konfirmasi, sanggah, nilai."""
    return {
        name
        for name in ("balas", "konfirmasi", "sanggah", "nilai")
        if f'action="{ticket.private}/{name}"' in page
    }


def answer(client, ticket: Driven, action: str, data: dict) -> Any:
    """POST a private form; the CSRF token is the session's (read on /lapor, as the private
    page has no form while the ticket waits for nothing: a stale tab still posts)."""
    return post_form(client, f"{ticket.private}/{action}", data, token_from="/lapor")


def main(page: str) -> str:
    """The page without its header (whose language link repeats the address asked for)."""
    found = re.search(r"<main.*</main>", page, re.S)
    assert found
    return found.group(0)


# -- the link is the key --------------------------------------------------------------------


def test_a_wrong_other_or_truncated_secret_answers_404_like_an_unknown_ticket(
    client, ticket, other
):
    unknown = client.get(f"/laporan/LK-00000000/k/{ticket.secret}")
    assert unknown.status_code == 404
    wrong = [
        f"/laporan/{ticket.number}/k/{'x' * len(ticket.secret)}",
        f"/laporan/{ticket.number}/k/{other.secret}",
        f"/laporan/{ticket.number}/k/{ticket.secret[:-1]}",
        f"/laporan/{ticket.number}/k/{ticket.secret[:8]}",
        f"/laporan/{ticket.number}/k/{ticket.secret}x",
        f"/laporan/{ticket.number}/k/{ticket.secret.upper()}",
        f"/laporan/{other.number}/k/{ticket.secret}",
    ]
    for path in wrong:
        response = client.get(path)
        assert response.status_code == 404, path
        assert main(text(response)) == main(text(unknown)), path
        assert response.headers["Cache-Control"] == "private, no-store"
    assert client.get(ticket.private).status_code == 200


def test_a_wrong_secret_may_not_post_either(client, ticket, other, session_factory):
    ticket.to_handling()
    ticket.ask("Di mana?")
    before = written(session_factory)
    wrong = f"/laporan/{ticket.number}/k/{other.secret}"
    token = csrf(client, ticket.private)
    for action, data in [("balas", {"text": "Depan masjid"}), ("nilai", {"score": "1"})]:
        response = client.post(
            f"{wrong}/{action}",
            data={"csrf_token": token, **data},
            content_type="multipart/form-data",
        )
        assert response.status_code == 404, action
    assert written(session_factory) == before


# -- the forms appear when the ticket waits for them ----------------------------------------


def test_the_forms_appear_only_while_the_ticket_waits_for_them(client, ticket):
    assert actions(text(client.get(ticket.private)), ticket) == set()
    ticket.to_handling()
    assert actions(text(client.get(ticket.private)), ticket) == set()
    ticket.ask("Lubangnya di depan nomor berapa?")
    page = text(client.get(ticket.private))
    assert actions(page, ticket) == {"balas"}
    assert "Lubangnya di depan nomor berapa?" in page
    assert answer(client, ticket, "balas", {"text": "Depan nomor 12"}).status_code == 302
    page = text(client.get(ticket.private))
    assert actions(page, ticket) == set()
    assert "Depan nomor 12" in page
    ticket.resolve("Sudah ditambal aspal")
    page = text(client.get(ticket.private))
    assert actions(page, ticket) == {"konfirmasi", "sanggah", "nilai"}
    assert "Sudah ditambal aspal" in page
    assert answer(client, ticket, "konfirmasi", {}).status_code == 302
    page = text(client.get(ticket.private))
    assert actions(page, ticket) == {"nilai"}
    assert ticket.public()["status"] == "confirmed"


def test_a_reply_when_not_waiting_redirects_back_with_a_message_and_changes_nothing(
    client, ticket, session_factory
):
    version = version_of(session_factory, ticket.number)
    before = written(session_factory)
    response = answer(client, ticket, "balas", {"text": "Jawaban yang terlambat"})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(ticket.private)
    page = text(client.get(response.headers["Location"]))
    assert NOT_WAITING in page
    assert version_of(session_factory, ticket.number) == version
    assert written(session_factory) == before
    for action in ("konfirmasi", "sanggah"):
        data = {"reason": "Belum selesai"} if action == "sanggah" else {}
        response = answer(client, ticket, action, data)
        assert response.status_code == 302, action
        assert NOT_WAITING in text(client.get(response.headers["Location"]))
    assert version_of(session_factory, ticket.number) == version


def test_an_empty_reply_is_shown_again_with_the_error_beside_the_field(
    client, ticket, session_factory
):
    ticket.to_handling()
    ticket.ask("Di mana?")
    before = written(session_factory)
    response = answer(client, ticket, "balas", {"text": " "})
    page = text(response)
    assert response.status_code == 200
    assert 'class="error-summary"' in page
    assert field_error(page, "text")
    assert written(session_factory) == before
    assert ticket.public()["status"] == "waiting_info"


@pytest.mark.parametrize(
    ("action", "data"),
    [("balas", {"text": "Di sini"}), ("sanggah", {"reason": "Masih berlubang"})],
)
def test_a_refused_photo_is_shown_beside_the_photo_field(
    client, ticket, session_factory, action, data
):
    ticket.to_handling()
    if action == "balas":
        ticket.ask("Di mana?")
    else:
        ticket.resolve()
    before = written(session_factory)
    response = answer(client, ticket, action, {**data, "photo": [(b"teks", "catatan.jpg")]})
    assert response.status_code == 200
    assert written(session_factory) == before
    page = text(response)
    assert 'class="error-summary"' in page
    assert "catatan.jpg" in (field_error(page, "photo") or "")


def test_a_refused_photo_writes_nothing(client, ticket, session_factory):
    ticket.to_handling()
    ticket.ask("Di mana?")
    before = written(session_factory)
    response = answer(client, ticket, "balas", {"text": "Di sini", "photo": [(b"teks", "a.jpg")]})
    assert response.status_code == 200
    assert written(session_factory) == before
    assert ticket.public()["status"] == "waiting_info"


def test_a_reply_with_a_photo_joins_the_conversation(client, ticket, session_factory):
    ticket.to_handling()
    ticket.ask("Di mana?")
    response = answer(
        client, ticket, "balas", {"text": "Ini fotonya", "photo": [(jpeg((5, 5, 250)), "a.jpg")]}
    )
    assert response.status_code == 302
    (photo,) = attachments_of(session_factory, ticket.number)
    assert photo.purpose == "reply"
    page = text(client.get(ticket.private))
    assert "Ini fotonya" in page
    assert f"{ticket.private}/foto/{photo.id}/kecil" in page
    assert ticket.public()["status"] == "in_progress"


# -- dispute --------------------------------------------------------------------------------


def test_a_dispute_with_a_reason_and_a_photo_reopens_and_joins_the_conversation(
    client, ticket, other, session_factory
):
    ticket.to_handling()
    ticket.resolve()
    response = answer(
        client,
        ticket,
        "sanggah",
        {"reason": "Lubangnya masih ada", "photo": [(jpeg((250, 5, 5)), "masih.jpg")]},
    )
    assert response.status_code == 302
    assert ticket.public()["status"] == "reopened"
    (photo,) = [p for p in attachments_of(session_factory, ticket.number) if p.purpose == "dispute"]
    assert photo.linked_at is not None
    page = text(client.get(ticket.private))
    assert "Sanggahan Anda terkirim" in page
    assert "Lubangnya masih ada" in page
    assert "Pelapor menyanggah penyelesaian" in page
    assert f"{ticket.private}/foto/{photo.id}/kecil" in page
    served = client.get(f"{ticket.private}/foto/{photo.id}")
    assert served.status_code == 200
    assert served.mimetype == "image/jpeg"
    assert served.headers["Cache-Control"] == "private, no-store"
    assert client.get(f"{other.private}/foto/{photo.id}").status_code == 404
    assert client.get(f"{other.private}/foto/{photo.id}/kecil").status_code == 404
    assert actions(page, ticket) == {"nilai"}  # resolved once: rating stays open


def test_a_dispute_without_a_reason_is_shown_again(client, ticket, session_factory):
    ticket.to_handling()
    ticket.resolve()
    before = written(session_factory)
    response = answer(client, ticket, "sanggah", {"reason": ""})
    page = text(response)
    assert response.status_code == 200
    assert field_error(page, "reason")
    assert written(session_factory) == before
    assert ticket.public()["status"] == "resolved"


# -- rating ---------------------------------------------------------------------------------


def test_rating_before_resolution_is_refused_and_nothing_is_stored(client, ticket, session_factory):
    ticket.to_handling()
    before = written(session_factory)
    response = answer(client, ticket, "nilai", {"score": "4", "comment": "Bagus"})
    page = text(response)
    assert response.status_code == 200
    assert 'class="error-summary"' in page
    assert "Penanganan dapat dinilai setelah laporan selesai." in page
    assert written(session_factory) == before


def test_rating_before_resolution_shows_the_error_beside_the_field(client, ticket):
    ticket.to_handling()
    page = text(answer(client, ticket, "nilai", {"score": "4"}))
    assert field_error(page, "score") == "Penanganan dapat dinilai setelah laporan selesai."
    assert 'id="score"' in page


def test_rating_without_a_score_is_shown_again_with_the_error_beside_the_field(
    client, ticket, session_factory
):
    ticket.to_fixed()
    for data in ({"comment": "Bagus"}, {"score": "9"}, {"score": "0"}):
        response = answer(client, ticket, "nilai", data)
        assert response.status_code == 200
        assert field_error(text(response), "score"), data
    with session_factory() as session:
        assert session.scalars(select(Rating)).all() == []


def test_after_confirmation_a_rating_is_stored_and_rating_again_replaces_it(
    client, ticket, session_factory
):
    ticket.to_fixed()
    response = answer(client, ticket, "nilai", {"score": "4", "comment": "Cepat ditangani"})
    assert response.status_code == 302
    page = text(client.get(response.headers["Location"]))
    assert "Terima kasih atas penilaian Anda." in page
    assert "Nilai Anda sekarang: 4 dari 5." in page
    ticket_id = ticket_row(session_factory, ticket.number).id
    with session_factory() as session:
        (rating,) = session.scalars(select(Rating))
        assert (rating.ticket_id, rating.score, rating.comment) == (ticket_id, 4, "Cepat ditangani")
    response = answer(client, ticket, "nilai", {"score": "2", "comment": "Ternyata retak lagi"})
    assert response.status_code == 302
    with session_factory() as session:
        (rating,) = session.scalars(select(Rating))
        assert (rating.score, rating.comment) == (2, "Ternyata retak lagi")
    page = text(client.get(ticket.private))
    assert "Nilai Anda sekarang: 2 dari 5." in page
    assert re.search(r'<input checked[^>]*name="score"[^>]*value="2">', page)
    assert ticket.reporter_view()["rating"] == 2
    public = client.application.test_client().get(f"/laporan/{ticket.number}")
    assert "Ternyata retak lagi" not in text(public)


# -- the API behind the secret --------------------------------------------------------------


def test_the_reporters_view_answers_awaiting_contact_and_the_conversation(client, ticket):
    ticket.to_handling()
    ticket.ask("Sejak kapan berlubang?")
    view = ticket.reporter_view()
    assert view["number"] == ticket.number
    assert view["awaiting"] == ["reporter_reply"]
    assert (view["reporter_name"], view["reporter_contact"]) == ("Rina", "rina@example.org")
    asked = [e for e in view["timeline"] if e["audience"] == "reporter"]
    assert [(e["kind"], e["text"]) for e in asked] == [("note", "Sejak kapan berlubang?")]
    assert all(e["audience"] in ("public", "reporter") for e in view["timeline"])
    public = ticket.public()
    assert all(e["audience"] == "public" for e in public["timeline"])
    assert "Sejak kapan berlubang?" not in str(public)


def test_the_reporters_view_with_a_wrong_secret_is_404(client, ticket, other):
    url = f"/api/v1/tickets/{ticket.number}/reporter"
    for secret in ("", "salah", other.secret, ticket.secret[:-2]):
        assert_error(client.get(url, headers={"X-Reporter-Secret": secret}), 404, "not_found")
    assert_error(client.get(url), 404, "not_found")
    assert_error(
        client.get(
            "/api/v1/tickets/LK-00000000/reporter", headers={"X-Reporter-Secret": ticket.secret}
        ),
        404,
        "not_found",
    )


def test_a_message_with_the_secret_needs_no_token(client, ticket, session_factory):
    ticket.to_handling()
    ticket.ask("Di mana?")
    response = ticket.message("reporter_reply", {"text": "Depan sekolah"})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["status"] == "in_progress"
    view = ticket.reporter_view()
    said = [e for e in view["timeline"] if e["kind"] == "message"]
    assert [e["text"] for e in said] == ["Depan sekolah"]
    assert view["awaiting"] == []


def test_a_message_with_a_wrong_secret_is_404_and_changes_nothing(
    client, ticket, other, session_factory
):
    ticket.to_handling()
    ticket.ask("Di mana?")
    before = snapshot(session_factory)
    for secret in ("salah", other.secret, ""):
        response = client.post(
            f"/api/v1/tickets/{ticket.number}/messages",
            json={"message": "reporter_reply", "data": {"text": "palsu"}},
            headers={"X-Reporter-Secret": secret},
        )
        assert_error(response, 404, "not_found")
    assert snapshot(session_factory) == before
    assert ticket.public()["status"] == "waiting_info"
