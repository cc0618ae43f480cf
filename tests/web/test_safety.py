"""Safety of the citizens' pages: escaping, CSRF, rate limits, headers, and odd input."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from engine.models import Attachment
from engine.models import Ticket
from tests.web.pages import FORM
from tests.web.pages import LAT
from tests.web.pages import LON
from tests.web.pages import METRE
from tests.web.pages import Driven
from tests.web.pages import csrf
from tests.web.pages import jpeg
from tests.web.pages import multipart
from tests.web.pages import post_form
from tests.web.pages import post_report
from tests.web.pages import text
from tests.web.pages import written
from tests.web.test_api import ROAD
from tests.web.test_api import assert_error
from tests.web.test_api import bearer
from tests.web.test_api import report
from tests.web.test_api import snapshot

SCRIPT = '<script>alert("x")</script>'
IMG = "<img src=x onerror=alert(1)>"
PAYLOAD = SCRIPT + '">' + IMG
RAW = (SCRIPT, IMG, "<script>alert", "<img src=x")
ESCAPED = "&lt;script&gt;"


def assert_not_raw(page: str, where: str) -> None:
    for raw in RAW:
        assert raw not in page, f"unescaped {raw!r} on {where}"


def assert_escaped(page: str, where: str) -> None:
    """The payload is on the page only in its escaped form."""
    assert_not_raw(page, where)
    assert ESCAPED in page, f"the payload is not shown on {where}"


def receipt(client: FlaskClient) -> tuple[str, str]:
    """The number and private path shown on /lapor/terkirim."""
    page = text(client.get("/lapor/terkirim"))
    match = re.search(r"/laporan/(LK-[0-9A-Z]{8})/k/([A-Za-z0-9_-]+)", page)
    assert match, page
    return match.group(1), match.group(0)


# -- (a) every citizen string is escaped ----------------------------------------------------


def test_a_script_in_every_citizen_field_is_escaped_on_every_page_that_shows_it(
    client, tokens, session_factory
):
    at = {"latitude": f"{LAT:.7f}", "longitude": f"{LON:.7f}"}
    fields = {
        "title": PAYLOAD,
        "description": PAYLOAD,
        "address": PAYLOAD,
        "name": PAYLOAD,
        "contact": "warga@example.org",
    }
    response = post_report(client, photos=[(jpeg(), "lubang.jpg")], **fields, **at)
    assert response.status_code == 302, text(response)[:300]
    number, private = receipt(client)

    def check(path: str, **kwargs: Any) -> str:
        page = client.get(path, **kwargs)
        assert page.status_code == 200, path
        assert page.mimetype == "text/html"
        assert_escaped(text(page), path)
        return text(page)

    # The form shown again (a mistake elsewhere) and the nearby offer both carry the payload.
    again = post_report(client, **{**fields, "contact": "abc"})
    assert_escaped(text(again), "the form shown again")
    north = {"latitude": f"{LAT + 30 * METRE:.7f}", "longitude": f"{LON:.7f}"}
    nearby = post_report(client, **fields, **north)
    assert "Mungkin sudah ada yang melaporkan" in text(nearby)
    assert_escaped(text(nearby), "the nearby page")
    followed = post_report(client, **fields, **north, follow=number)
    assert followed.status_code == 200
    assert_not_raw(text(followed), "the followed page")

    check(f"/laporan/{number}")
    check(private)

    ticket = Driven.existing(client, tokens, number, private)
    ticket.to_handling()
    ticket.ask(PAYLOAD)
    page = check(private)
    assert 'action="' + private + '/balas"' in page
    reply = post_form(client, private + "/balas", {"text": PAYLOAD}, token_from=private)
    assert reply.status_code == 302, text(reply)[:300]
    check(private)
    check(f"/laporan/{number}")

    ticket.resolve(PAYLOAD)
    check(private)
    check(f"/laporan/{number}")
    dispute = post_form(
        client,
        private + "/sanggah",
        {"reason": PAYLOAD, "photo": [(jpeg((200, 0, 0)), "x.jpg")]},
        token_from=private,
    )
    assert dispute.status_code == 302, text(dispute)[:300]
    check(private)
    ticket.complete("petugas_dpupr", {"reopen_note": PAYLOAD})
    ticket.resolve(PAYLOAD)
    confirm = post_form(client, private + "/konfirmasi", {}, token_from=private)
    assert confirm.status_code == 302, text(confirm)[:300]
    rate = post_form(
        client, private + "/nilai", {"score": "4", "comment": PAYLOAD}, token_from=private
    )
    assert rate.status_code == 302, text(rate)[:300]

    page = check(private)
    # the title (twice), description, address, name, question, reply, two resolutions, the
    # dispute's reason, the rating in the timeline and in its form
    assert page.count(ESCAPED) >= 12
    assert "4/5: " + ESCAPED in page
    check(f"/laporan/{number}")
    check(f"/laporan/{number}?lang=en")
    check("/")
    check("/galeri")
    check("/galeri?kategori=jalan_rusak&kecamatan=Cipondoh")
    assert number in check("/galeri")

    # Not HTML: served with their own types, so a browser never renders them as a page.
    csv = client.get("/statistik.csv")
    assert csv.mimetype == "text/csv"
    assert client.get("/statistik.json").mimetype == "application/json"
    api = client.get(f"/api/v1/tickets/{number}")
    assert api.mimetype == "application/json"
    assert api.get_json()["title"] == PAYLOAD  # JSON carries the text as it was written
    with session_factory() as session:
        assert session.scalars(select(Ticket.title).where(Ticket.number == number)).one() == (
            PAYLOAD
        )


def test_a_file_name_with_html_is_escaped_in_the_refusal(client):
    name = IMG + ".jpg"
    response = post_report(client, photos=[(b"bukan foto", name)])
    assert response.status_code == 200
    assert_not_raw(text(response), "the refusal")
    assert "&lt;img src=x onerror=alert(1)&gt;.jpg" in text(response)


def test_a_tracked_number_with_html_is_escaped(client):
    response = client.get("/lacak", query_string={"nomor": PAYLOAD})
    assert response.status_code == 200
    assert_escaped(text(response), "/lacak")


# -- (b) CSRF -------------------------------------------------------------------------------


def assert_csrf_refused(response: Any) -> None:
    assert response.status_code == 400, response.status_code
    assert response.mimetype == "text/html"
    assert "Permintaan tidak dapat dibaca" in text(response)


def test_the_report_form_without_its_csrf_token_is_400_and_writes_nothing(client, session_factory):
    before = written(session_factory)
    response = client.post("/lapor", **multipart({**FORM, "photos": [(jpeg(), "a.jpg")]}))
    assert_csrf_refused(response)
    response = client.post("/lapor", **multipart({**FORM, "csrf_token": "palsu"}))
    assert_csrf_refused(response)
    assert written(session_factory) == before


def test_a_csrf_token_of_another_visitor_is_refused(app, client, session_factory):
    other = app.test_client()
    token = csrf(other, "/lapor")
    csrf(client, "/lapor")  # the visitor has a session of their own
    before = written(session_factory)
    assert_csrf_refused(client.post("/lapor", **multipart({**FORM, "csrf_token": token})))
    assert written(session_factory) == before


@pytest.fixture
def waiting(client, tokens) -> Driven:
    """A ticket whose officer asked the reporter a question."""
    ticket = Driven(client, tokens)
    ticket.to_handling()
    ticket.ask("Di sebelah mana?")
    return ticket


@pytest.fixture
def resolved(client, tokens) -> Driven:
    """A ticket the OPD resolved, waiting for the reporter's confirmation or dispute."""
    ticket = Driven(client, tokens)
    ticket.to_handling()
    ticket.resolve()
    return ticket


def test_the_private_forms_without_the_csrf_token_are_400_and_write_nothing(
    client, session_factory, waiting, resolved
):
    csrf(client, waiting.private)  # a session with a token, which the posts leave out
    posts = [
        (waiting, "/balas", {"text": "Depan masjid"}),
        (resolved, "/konfirmasi", {}),
        (resolved, "/sanggah", {"reason": "Masih berlubang"}),
        (resolved, "/nilai", {"score": "5", "comment": "Cepat"}),
    ]
    before = written(session_factory)
    for ticket, action, data in posts:
        assert_csrf_refused(client.post(ticket.private + action, **multipart(data)))
        assert_csrf_refused(
            client.post(ticket.private + action, **multipart({**data, "csrf_token": "x.y.z"}))
        )
    assert written(session_factory) == before
    assert waiting.public()["status"] == "waiting_info"
    assert resolved.public()["status"] == "resolved"


def test_the_api_needs_no_csrf_token(client, session_factory):
    csrf(client, "/lapor")  # even with a page session in the cookie jar
    response = client.post("/api/v1/tickets", json=ROAD)
    assert response.status_code == 201, response.get_json()


# -- (c) rate limits ------------------------------------------------------------------------


def test_the_third_api_report_in_a_minute_is_429_with_the_error_body(limited, session_factory):
    client = limited.test_client()
    for _ in range(2):
        assert client.post("/api/v1/tickets", json=ROAD).status_code == 201
    before = snapshot(session_factory)
    response = client.post("/api/v1/tickets", json=ROAD)
    assert_error(response, 429, "too_many_requests")
    names = {name for name, _ in response.headers.items()}
    assert "Retry-After" in names or any(n.startswith("X-RateLimit-") for n in names)
    assert snapshot(session_factory) == before


def test_the_third_page_report_in_a_minute_is_the_429_page(limited, session_factory):
    client = limited.test_client()
    for _ in range(2):
        assert post_report(client).status_code == 302
    before = written(session_factory)
    response = post_report(client)
    assert response.status_code == 429
    assert response.mimetype == "text/html"
    assert "Terlalu banyak kiriman" in text(response)
    assert written(session_factory) == before


def test_reading_pages_is_not_limited(limited, session_factory):
    client = limited.test_client()
    number = report(client)
    for _ in range(2):
        post_report(client)
    assert post_report(client).status_code == 429
    for path in ["/", "/lapor", f"/laporan/{number}", "/galeri", "/statistik"] * 2:
        assert client.get(path).status_code == 200, path
    assert client.get(f"/api/v1/tickets/{number}").status_code == 200


# -- (d) headers ----------------------------------------------------------------------------


def assert_page_headers(response: Any, path: str) -> None:
    assert response.mimetype == "text/html", path
    policy = response.headers.get("Content-Security-Policy", "")
    assert "script-src 'self'" in policy, path
    assert "unsafe-inline" not in policy, path
    assert response.headers.get("X-Content-Type-Options") == "nosniff", path
    assert response.headers.get("X-Frame-Options") == "DENY", path


def test_every_html_page_sends_the_security_headers(client, resolved):
    post_report(client)
    paths = [
        "/",
        "/lapor",
        "/lapor/terkirim",
        "/lacak",
        "/lacak?nomor=salah",
        f"/laporan/{resolved.number}",
        resolved.private,
        "/galeri",
        "/statistik",
        "/laporan/LK-00000000",  # the 404 page
        "/?lang=en",
    ]
    for path in paths:
        response = client.get(path)
        assert response.status_code in (200, 404), path
        assert_page_headers(response, path)
    assert_page_headers(client.post("/lapor", data={}), "the 400 page")


def test_the_private_page_is_never_cached_nor_sent_as_referer(client, waiting):
    responses = [
        client.get(waiting.private),
        post_form(client, waiting.private + "/balas", {"text": ""}, token_from=waiting.private),
    ]
    for response in responses:
        assert response.status_code == 200
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert "no-store" in response.headers["Cache-Control"]


def test_the_receipt_that_shows_the_private_link_is_never_cached(client):
    post_report(client)
    response = client.get("/lapor/terkirim")
    assert "/k/" in text(response)
    assert "no-store" in response.headers.get("Cache-Control", "")


def test_the_receipt_is_shown_once(client):
    post_report(client)
    assert "/k/" in text(client.get("/lapor/terkirim"))
    again = client.get("/lapor/terkirim")
    assert "/k/" not in text(again)


def test_a_public_photo_is_cacheable_and_the_reporters_photo_url_is_private(
    client, tokens, session_factory
):
    ticket = Driven(client, tokens, photos=[jpeg()])
    with session_factory() as session:
        (photo,) = session.scalars(select(Attachment.id))
    for path in (f"/foto/{photo}", f"/foto/{photo}/kecil"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.mimetype == "image/jpeg"
        assert "public" in response.headers["Cache-Control"]
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    for path in (f"{ticket.private}/foto/{photo}", f"{ticket.private}/foto/{photo}/kecil"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers["Cache-Control"] == "private, no-store"
        assert response.headers["Referrer-Policy"] == "no-referrer"


def test_a_confidential_photo_served_to_staff_is_private(client, tokens, session_factory):
    Driven(client, tokens, photos=[jpeg()], confidential=True)
    with session_factory() as session:
        (photo,) = session.scalars(select(Attachment.id))
    response = client.get(f"/foto/{photo}", headers=bearer(tokens["verifikator"]))
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "private, no-store"


# -- (e) odd input never answers 500 --------------------------------------------------------


ODD = [
    "/laporan/LK-",
    "/laporan/lk-xxxxxxxx",
    "/laporan/%00",
    "/laporan/LK-%00%00%00%00%00%00%00%00",
    "/laporan/../../etc/passwd",
    "/laporan/..%2F..%2Fetc%2Fpasswd",
    "/laporan/" + "A" * 500,
    "/laporan/%F0%9F%92%A9",
    "/laporan/LK-00000000/k/",
    "/laporan/LK-00000000/k/x",
    "/laporan/LK-00000000/k/x/foto/1",
    "/laporan/LK-00000000/k/x/foto/99999999999999999999999",
    "/foto/0",
    "/foto/-1",
    "/foto/9223372036854775807",
    "/foto/abc/kecil",
    "/galeri?setelah=garbage",
    "/galeri?setelah=1e400_1",
    "/galeri?setelah=nan_x",
    "/galeri?setelah=-99999999999999_1",
    "/galeri?kategori=nope",
    "/galeri?kategori=nope&kecamatan=%3Cscript%3E",
    "/lacak?nomor=%3Cscript%3E",
    "/lacak?nomor=" + "9" * 5000,
    "/lacak?nomor=%00",
    "/bahasa/xx?next=//evil",
    "/bahasa/en?next=https://evil.example/",
    "/bahasa/en?next=%00",
    "/?lang=xx",
    "/api/v1/tickets/%00",
    "/api/v1/tickets/" + "A" * 500,
    "/api/v1/tickets/LK-00000000/reporter",
]


@pytest.mark.parametrize("path", ODD)
def test_odd_input_never_answers_500(client, path):
    response = client.get(path)
    if "%00" in path:  # a NUL byte is refused before any query (PostgreSQL refuses it too)
        assert response.status_code == 400, (path, response.status_code)
    else:
        assert response.status_code in (200, 302, 404), (path, response.status_code)
    assert "Traceback" not in text(response)
    if response.status_code == 302:
        location = response.headers["Location"]
        assert location.startswith("/"), location
        assert not location.startswith("//"), location


@pytest.mark.parametrize("suffix", ["", "/kecil"])
def test_a_photo_id_beyond_64_bits_is_404_not_500(client, suffix):
    response = client.get(f"/foto/{2**63}{suffix}")
    assert response.status_code == 404


def test_a_private_photo_id_beyond_64_bits_is_404_not_500(client, tokens):
    ticket = Driven(client, tokens)
    response = client.get(f"{ticket.private}/foto/99999999999999999999999")
    assert response.status_code == 404


def test_an_unknown_ticket_page_is_the_404_page_in_indonesian(client):
    response = client.get("/laporan/LK-00000000")
    assert response.status_code == 404
    assert "Halaman tidak ditemukan" in text(response)


def test_the_language_switch_never_sends_the_visitor_off_site(client):
    for target in ("//evil", "https://evil.example/", "/\\evil", "javascript:alert(1)", "evil"):
        response = client.get("/bahasa/en", query_string={"next": target})
        assert response.status_code == 302
        location = response.headers["Location"]
        assert location.startswith("/"), target
        assert not location.startswith("//"), target
        assert "\\" not in location, target  # a browser reads /\evil as //evil


def test_tracking_a_lower_case_number_redirects_to_the_upper_case_page(client):
    response = client.get("/lacak?nomor=lk-abcdefgh")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/laporan/LK-ABCDEFGH")
    without_prefix = client.get("/lacak?nomor=%20abcdefgh%20")
    assert without_prefix.headers["Location"].endswith("/laporan/LK-ABCDEFGH")


def test_a_lower_case_ticket_page_shows_the_ticket(client):
    number = report(client)
    assert client.get(f"/laporan/{number.lower()}").status_code == 200


def test_the_private_page_opens_with_the_number_written_in_lower_case(client, tokens):
    ticket = Driven(client, tokens)
    lower = ticket.private.replace(ticket.number, ticket.number.lower())
    assert client.get(lower).status_code == 200
