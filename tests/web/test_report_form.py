"""POST /lapor: the report form, its mistakes shown beside the fields with nothing written,
photos kept across a form shown again, and "already reported nearby?"."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from itsdangerous import URLSafeSerializer
from sqlalchemy import select

from engine.media import MAX_BYTES
from engine.models import Follower
from engine.models import Ticket
from tests.web.pages import LAT
from tests.web.pages import LON
from tests.web.pages import METRE
from tests.web.pages import Driven
from tests.web.pages import attachments_of
from tests.web.pages import csrf
from tests.web.pages import field_error
from tests.web.pages import gif
from tests.web.pages import huge_png
from tests.web.pages import input_value
from tests.web.pages import jpeg
from tests.web.pages import kept_tokens
from tests.web.pages import multipart
from tests.web.pages import png
from tests.web.pages import post_report
from tests.web.pages import text
from tests.web.pages import textarea_value
from tests.web.pages import written
from tests.web.test_api import report

NEARBY_TITLE = "Lubang besar di tikungan"


def numbers(factory) -> list[str]:
    with factory() as session:
        return list(session.scalars(select(Ticket.number).order_by(Ticket.id)))


def filed(factory, before: list[str]) -> str:
    """The one ticket filed since ``before``."""
    (number,) = [n for n in numbers(factory) if n not in before]
    return number


def assert_form_again(response: Any, field: str) -> str:
    """The form shown again: 200, an error summary, and the message beside ``field``."""
    page = text(response)
    assert response.status_code == 200, page[:500]
    assert 'class="error-summary"' in page
    assert field_error(page, field), f"no message beside {field}"
    assert 'action="/lapor"' in page
    return page


# -- a valid report -------------------------------------------------------------------------


def test_a_valid_report_redirects_to_the_receipt_with_the_number_and_a_private_link_that_opens(
    client, session_factory
):
    response = post_report(client)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/lapor/terkirim")
    (number,) = numbers(session_factory)
    receipt = client.get("/lapor/terkirim")
    page = text(receipt)
    assert receipt.status_code == 200
    assert number in page
    match = re.search(rf"/laporan/{number}/k/[A-Za-z0-9_-]{{40,}}", page)
    assert match, "no private link on the receipt"
    private = client.get(match.group(0))
    assert private.status_code == 200
    assert "Jalan berlubang di depan pasar" in text(private)
    with session_factory() as session:
        ticket = session.scalars(select(Ticket)).one()
        assert (ticket.category, ticket.kecamatan, ticket.reporter_contact) == (
            "jalan_rusak",
            "Cipondoh",
            "budi@example.org",
        )


def test_a_report_with_photos_files_them_as_report_attachments(client, session_factory):
    response = post_report(client, photos=[(jpeg(), "lubang.jpg"), (png(), "dekat.png")])
    assert response.status_code == 302, text(response)[:500]
    (number,) = numbers(session_factory)
    rows = attachments_of(session_factory, number)
    assert [(a.purpose, a.mime) for a in rows] == [
        ("report", "image/jpeg"),
        ("report", "image/png"),
    ]
    assert all(a.linked_at is not None for a in rows)


# -- mistakes: the form again, the message beside the field, nothing written ---------------


def _photo(make: Callable[[], bytes], name: str) -> Callable[[], list[tuple[bytes, str]]]:
    return lambda: [(make(), name)]


BAD_INPUTS = [
    pytest.param({"title": None}, None, "title", id="missing-title"),
    pytest.param(
        {"title": "     "},
        None,
        "title",
        id="blank-title",
    ),
    pytest.param({"description": None}, None, "description", id="missing-description"),
    pytest.param(
        {"description": " \n \t \n "},
        None,
        "description",
        id="blank-description",
    ),
    pytest.param({"category": None}, None, "category", id="no-category"),
    pytest.param({"category": ""}, None, "category", id="empty-category"),
    pytest.param({"category": "ufo"}, None, "category", id="unknown-category"),
    pytest.param({"kecamatan": "Atlantis"}, None, "kecamatan", id="unknown-kecamatan"),
    pytest.param({"contact": None}, None, "contact", id="contact-missing-not-anonymous"),
    pytest.param({"contact": "abc"}, None, "contact", id="contact-abc"),
    pytest.param({"latitude": str(LAT)}, None, "longitude", id="latitude-without-longitude"),
    pytest.param({"longitude": str(LON)}, None, "latitude", id="longitude-without-latitude"),
    pytest.param({"latitude": "95", "longitude": str(LON)}, None, "latitude", id="latitude-95"),
    pytest.param({"latitude": "abc", "longitude": str(LON)}, None, "latitude", id="latitude-abc"),
    pytest.param({}, _photo(lambda: b"", "kosong.jpg"), "photos", id="empty-file"),
    pytest.param(
        {}, _photo(lambda: b"ini bukan foto\n" * 20, "foto.jpg"), "photos", id="text-as-jpg"
    ),
    pytest.param(
        {},
        _photo(
            lambda: (
                b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
                b'<rect width="10" height="10"/></svg>'
            ),
            "gambar.svg",
        ),
        "photos",
        id="svg",
    ),
    pytest.param({}, _photo(gif, "animasi.gif"), "photos", id="gif"),
    pytest.param(
        {},
        _photo(lambda: jpeg()[:200], "terpotong.jpg"),
        "photos",
        id="truncated-jpeg",
    ),
    pytest.param(
        {},
        _photo(lambda: b"\xff\xd8\xff\xe0" + bytes(12 * 1024 * 1024), "besar.jpg"),
        "photos",
        id="12-MB-file",
    ),
    pytest.param({}, _photo(huge_png, "bom.png"), "photos", id="50000x50000-png"),
    pytest.param(
        {},
        lambda: [(jpeg((i * 40, 10, 10)), f"foto{i}.jpg") for i in range(6)],
        "photos",
        id="six-photos",
    ),
]


@pytest.mark.parametrize(("fields", "photos", "field"), BAD_INPUTS)
def test_a_mistake_shows_the_form_again_with_the_error_beside_the_field_and_writes_nothing(
    client, session_factory, fields, photos, field
):
    before = written(session_factory)
    response = post_report(client, photos=photos() if photos else (), **fields)
    assert response.status_code != 500
    assert_form_again(response, field)
    assert written(session_factory) == before


def test_the_size_refusal_names_the_limit_of_ten_megabytes(client, session_factory):
    big = b"\xff\xd8\xff\xe0" + bytes(MAX_BYTES + 1)
    page = assert_form_again(post_report(client, photos=[(big, "besar.jpg")]), "photos")
    assert "besar.jpg" in (field_error(page, "photos") or "")
    assert "10 MB" in (field_error(page, "photos") or "")


def test_an_anonymous_report_needs_no_contact(client, session_factory):
    response = post_report(client, contact=None, name=None, anonymous="y")
    assert response.status_code == 302, text(response)[:500]
    with session_factory() as session:
        ticket = session.scalars(select(Ticket)).one()
        assert (ticket.anonymous, ticket.reporter_contact) == (True, None)


# -- bodies that cannot be read -------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    [
        pytest.param("multipart/form-data; boundary=tidak-ada", id="wrong-boundary"),
        pytest.param("multipart/form-data", id="missing-boundary"),
        pytest.param('multipart/form-data; boundary="', id="broken-boundary"),
    ],
)
def test_a_broken_multipart_body_answers_a_4xx_page_and_writes_nothing(
    client, session_factory, content_type
):
    token = csrf(client, "/lapor")
    before = written(session_factory)
    garbage = (
        b'--xyz\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n'
        + token.encode()
        + b'\r\n--xyz\r\nContent-Disposition: form-data; name="title"\r\n\r\n\xff\xfe\x00'
    )
    response = client.post("/lapor", data=garbage, content_type=content_type)
    assert 400 <= response.status_code < 500, response.status_code
    assert response.mimetype == "text/html"
    assert "Traceback" not in text(response)
    assert written(session_factory) == before


def test_a_body_over_the_size_limit_answers_the_413_page_in_indonesian(
    app, client, session_factory
):
    token = csrf(client, "/lapor")
    app.config["MAX_CONTENT_LENGTH"] = 4096
    before = written(session_factory)
    body = {"csrf_token": token, "title": "x" * 100, "photos": [(jpeg(size=(800, 600)), "a.jpg")]}
    response = client.post("/lapor", **multipart(body))
    assert response.status_code == 413
    page = text(response)
    assert "Kiriman terlalu besar" in page
    assert "Foto terlalu besar" in page
    assert written(session_factory) == before


# -- what was typed is kept -----------------------------------------------------------------


def test_after_a_mistake_what_was_typed_and_the_photo_are_kept_and_resubmitting_files_both(
    client, session_factory
):
    title, description = 'Jalan "ambles" & retak', "Retak <panjang> sejak hujan"
    before = written(session_factory)
    again = post_report(
        client, title=title, description=description, contact="abc", photos=[(jpeg(), "a.jpg")]
    )
    page = assert_form_again(again, "contact")
    assert written(session_factory) == before
    assert input_value(page, "title") == title
    assert textarea_value(page, "description") == description
    assert input_value(page, "contact") == "abc"
    (kept,) = kept_tokens(page)
    assert re.search(r'<input type="checkbox" name="kept" value="[^"]+" checked>', page)

    response = post_report(client, title=title, description=description, kept=kept)
    assert response.status_code == 302, text(response)[:500]
    (number,) = numbers(session_factory)
    (photo,) = attachments_of(session_factory, number)
    assert (photo.purpose, photo.mime, photo.width, photo.height) == (
        "report",
        "image/jpeg",
        64,
        48,
    )
    assert photo.linked_at is not None


def test_a_kept_photo_and_a_new_one_are_both_filed(client, session_factory):
    page = text(post_report(client, title=None, photos=[(jpeg(), "a.jpg")]))
    (kept,) = kept_tokens(page)
    response = post_report(client, kept=kept, photos=[(png(), "b.png")])
    assert response.status_code == 302
    (number,) = numbers(session_factory)
    assert [a.mime for a in attachments_of(session_factory, number)] == ["image/jpeg", "image/png"]


def test_a_forged_kept_token_is_ignored(client, session_factory):
    page = text(post_report(client, title=None, photos=[(jpeg(), "a.jpg")]))
    (kept,) = kept_tokens(page)
    body, _, signature = kept.rpartition(".")
    forged = body + "." + ("A" if signature[0] != "A" else "B") + signature[1:]
    response = post_report(client, kept=forged)
    assert response.status_code == 302, text(response)[:500]
    (number,) = numbers(session_factory)
    assert attachments_of(session_factory, number) == []


def test_a_kept_token_signed_with_another_key_is_ignored(client, session_factory):
    page = text(post_report(client, title=None, photos=[(jpeg(), "a.jpg")]))
    (kept,) = kept_tokens(page)
    data = URLSafeSerializer("test-secret", salt="laksa-kept-upload").loads(kept)
    forged = URLSafeSerializer("another-key", salt="laksa-kept-upload").dumps(data)
    assert post_report(client, kept=forged).status_code == 302
    (number,) = numbers(session_factory)
    assert attachments_of(session_factory, number) == []


# -- already reported nearby? ---------------------------------------------------------------


@pytest.fixture
def nearby_ticket(client) -> str:
    """An open road ticket at (LAT, LON)."""
    return report(
        client,
        title=NEARBY_TITLE,
        location={
            "address": "Jl. Gatot Subroto 5",
            "kecamatan": "Cipondoh",
            "latitude": LAT,
            "longitude": LON,
        },
    )


def at(metres_north: float) -> dict[str, str]:
    return {"latitude": f"{LAT + metres_north * METRE:.7f}", "longitude": f"{LON:.7f}"}


def test_a_report_30_m_from_an_open_ticket_of_the_same_category_is_offered_it_first(
    client, session_factory, nearby_ticket
):
    before = written(session_factory)
    response = post_report(client, photos=[(jpeg(), "a.jpg")], **at(30))
    page = text(response)
    assert response.status_code == 200
    assert "Mungkin sudah ada yang melaporkan" in page
    assert nearby_ticket in page
    assert NEARBY_TITLE in page
    assert re.search(rf'name="follow" value="{nearby_ticket}"', page)
    assert kept_tokens(page), "the photo is carried to the next step"
    assert input_value(page, "title") == "Jalan berlubang di depan pasar"
    assert written(session_factory) == before


def test_following_the_nearby_ticket_with_a_contact_files_nothing_new(
    client, session_factory, nearby_ticket
):
    before = numbers(session_factory)
    response = post_report(client, follow=nearby_ticket, contact="tetangga@example.org", **at(30))
    assert response.status_code == 200
    assert f"Anda kini mengikuti laporan {nearby_ticket}" in text(response)
    assert numbers(session_factory) == before
    with session_factory() as session:
        (follower,) = session.scalars(select(Follower))
        assert follower.contact == "tetangga@example.org"
        ticket_id = session.scalars(select(Ticket.id).where(Ticket.number == nearby_ticket)).one()
        assert follower.ticket_id == ticket_id


def test_following_without_a_contact_shows_the_nearby_page_again_with_the_contact_error(
    client, session_factory, nearby_ticket
):
    before = written(session_factory)
    response = post_report(client, follow=nearby_ticket, contact=None, **at(30))
    page = text(response)
    assert response.status_code == 200
    assert "Mungkin sudah ada yang melaporkan" in page
    assert 'class="error-summary"' in page
    assert field_error(page, "contact")
    assert nearby_ticket in page
    assert written(session_factory) == before


def test_following_a_number_that_cannot_be_followed_files_nothing(client, session_factory):
    secret = report(client, confidential=True)
    before = written(session_factory)
    for number in (secret, "LK-00000000"):
        response = post_report(client, follow=number, **at(30))
        page = text(response)
        assert response.status_code == 200
        assert "Laporan itu tidak dapat diikuti lagi." in page
        assert written(session_factory) == before


def test_confirm_new_files_the_new_ticket_despite_the_nearby_one(
    client, session_factory, nearby_ticket
):
    before = numbers(session_factory)
    response = post_report(client, confirm_new="1", **at(30))
    assert response.status_code == 302, text(response)[:500]
    number = filed(session_factory, before)
    with session_factory() as session:
        ticket = session.scalars(select(Ticket).where(Ticket.number == number)).one()
        assert ticket.latitude == pytest.approx(LAT + 30 * METRE)


def test_the_nearby_page_keeps_the_photo_through_confirm_new(
    client, session_factory, nearby_ticket
):
    before = numbers(session_factory)
    page = text(post_report(client, photos=[(jpeg(), "a.jpg")], **at(30)))
    (kept,) = kept_tokens(page)
    response = post_report(client, confirm_new="1", kept=kept, **at(30))
    assert response.status_code == 302
    number = filed(session_factory, before)
    assert [a.purpose for a in attachments_of(session_factory, number)] == ["report"]


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param(at(150), id="150-m-away"),
        pytest.param({**at(30), "category": "sampah"}, id="another-category"),
        pytest.param({}, id="without-coordinates"),
    ],
)
def test_no_nearby_page_far_away_or_for_another_category(
    client, session_factory, nearby_ticket, fields
):
    before = numbers(session_factory)
    response = post_report(client, **fields)
    assert response.status_code == 302, text(response)[:500]
    filed(session_factory, before)


def test_a_confidential_ticket_nearby_is_never_offered(client, session_factory):
    secret = report(
        client,
        confidential=True,
        title="Rahasia dekat sini",
        location={"kecamatan": "Cipondoh", "latitude": LAT, "longitude": LON},
    )
    response = post_report(client, **at(30))
    assert response.status_code == 302, text(response)[:500]
    assert secret not in text(response)
    assert len(numbers(session_factory)) == 2


def test_a_closed_ticket_nearby_is_not_offered(client, session_factory, tokens):
    closed = Driven(
        client, tokens, location={"kecamatan": "Cipondoh", "latitude": LAT, "longitude": LON}
    )
    closed.to_fixed()
    response = post_report(client, **at(30))
    assert response.status_code == 302, text(response)[:500]
