"""Who sees what: the public walks every page and endpoint and finds no confidential ticket and
no anonymous reporter's name or contact anywhere; the reporter and entitled staff see theirs."""

from __future__ import annotations

import json
import re
import uuid
from collections import deque
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from engine.models import Attachment
from engine.models import HumanTask
from engine.models import Ticket
from engine.visibility import access
from tests.web.pages import Driven
from tests.web.pages import attachments_of
from tests.web.pages import jpeg
from tests.web.pages import links
from tests.web.pages import png
from tests.web.pages import post_form
from tests.web.pages import text
from tests.web.test_api import bearer

MAX_REQUESTS = 600
_ARGS = re.compile(r"<(?:[a-z]+:)?([a-z_]+)>")


@dataclass
class World:
    """Tickets with photos: confidential, anonymous and plain ones closed as fixed (each would
    qualify for the gallery if public), and a plain one waiting for its reporter's answer."""

    secret: Driven  # confidential
    anonymous: Driven
    plain: Driven
    open_plain: Driven  # still open: the officer asked the reporter a question
    tag: str

    @property
    def all(self) -> list[Driven]:
        return [self.secret, self.anonymous, self.plain, self.open_plain]

    @property
    def secret_title(self) -> str:
        return f"RAHASIA-{self.tag}"

    @property
    def anonymous_name(self) -> str:
        return f"Anonymous-{self.tag}"

    @property
    def anonymous_contact(self) -> str:
        return f"{self.tag}@example.org"

    @property
    def hidden(self) -> list[str]:
        """Strings the public must never read anywhere."""
        return [
            self.secret_title,
            f"Uraian rahasia {self.tag}",
            f"Rahasia-{self.tag}",  # the confidential reporter's name
            f"rahasia-{self.tag}@example.org",
            self.anonymous_name,
            self.anonymous_contact,
            f"Warga-{self.tag}",  # the plain reporters' names: never public either
            f"warga-{self.tag}@example.org",
            f"buka-{self.tag}@example.org",
            f"Jawaban-{self.tag}",  # the reply: reporter's conversation
            f"Pertanyaan-{self.tag}",  # the officer's question to the reporter
        ]


def drive_to_fixed_with_a_reply(ticket: Driven, tag: str) -> None:
    """Route, ask, reply on the private page with a photo, resolve with an after-photo, confirm."""
    ticket.to_handling()
    ticket.ask(f"Pertanyaan-{tag}: di sebelah mana?")
    reply = post_form(
        ticket.client,
        ticket.private + "/balas",
        {"text": f"Jawaban-{tag}: depan masjid", "photo": [(jpeg((9, 9, 200)), "balas.jpg")]},
        token_from=ticket.private,
    )
    assert reply.status_code == 302, text(reply)[:300]
    ticket.resolve(f"Ditambal-{tag}", photo=jpeg((30, 160, 30)))
    ticket.confirm()


@pytest.fixture
def world(client, tokens) -> World:
    tag = uuid.uuid4().hex
    secret = Driven(
        client,
        tokens,
        photos=[jpeg((200, 10, 10)), png((10, 200, 10))],
        confidential=True,
        title=f"RAHASIA-{tag}",
        description=f"Uraian rahasia {tag}",
        reporter={"name": f"Rahasia-{tag}", "contact": f"rahasia-{tag}@example.org"},
    )
    drive_to_fixed_with_a_reply(secret, tag)
    anonymous = Driven(
        client,
        tokens,
        photos=[jpeg((10, 10, 200))],
        anonymous=True,
        title="Jalan amblas dekat pasar",
        reporter={"name": f"Anonymous-{tag}", "contact": f"{tag}@example.org"},
    )
    drive_to_fixed_with_a_reply(anonymous, tag)
    plain = Driven(
        client,
        tokens,
        photos=[jpeg((120, 120, 10))],
        title="Trotoar rusak",
        reporter={"name": f"Warga-{tag}", "contact": f"warga-{tag}@example.org"},
        location={"address": "Jl. Daan Mogot 3", "kecamatan": "Tangerang"},
    )
    plain.to_fixed()
    open_plain = Driven(
        client,
        tokens,
        photos=[jpeg((50, 50, 50))],
        title="Saluran tersumbat",
        category="drainase",
        reporter={"name": f"Warga-{tag}", "contact": f"buka-{tag}@example.org"},
    )
    open_plain.to_handling()
    open_plain.ask(f"Pertanyaan-{tag}: sejak kapan?")
    return World(secret, anonymous, plain, open_plain, tag)


# -- the public walks everything ------------------------------------------------------------


def seeds(app: Flask, world: World, session_factory) -> list[str]:
    """Every GET route of the app, its arguments filled with what the database holds."""
    with session_factory() as session:
        photo_ids = list(session.scalars(select(Attachment.id)))
        task_ids = list(session.scalars(select(HumanTask.id)))
        categories = sorted(set(session.scalars(select(Ticket.category))))
        kecamatan = sorted({k for k in session.scalars(select(Ticket.kecamatan)) if k})
    values: dict[str, list[str]] = {
        "number": [t.number for t in world.all],
        "secret": ["x" * 43],  # the public does not hold a reporter's secret
        "attachment_id": [str(i) for i in photo_ids],
        "task_id": [str(i) for i in task_ids],
        "incident_id": ["1"],
        "lang": ["en"],
    }
    found: list[str] = []
    for rule in app.url_map.iter_rules():
        if "GET" not in (rule.methods or ()) or rule.endpoint == "static":
            continue
        paths = [rule.rule]
        for name in _ARGS.findall(rule.rule):
            paths = [
                re.sub(rf"<(?:[a-z]+:)?{name}>", value, p, count=1)
                for p in paths
                for value in values.get(name, [])
            ]
        found += paths
    found += [f"/lacak?nomor={t.number}" for t in world.all]
    found += [f"/lacak?nomor={t.number.lower()[3:]}" for t in world.all]
    gallery = text(app.test_client().get("/galeri"))
    found += [f"/galeri?kategori={c}" for c in options(gallery, "kategori")]
    found += [f"/galeri?kecamatan={k}" for k in options(gallery, "kecamatan")]
    found += [f"/galeri?kategori={c}&kecamatan={k}" for c in categories for k in kecamatan]
    found += ["/?lang=en", "/galeri?lang=en", "/statistik?lang=en", "/statistik.json?lang=en"]
    found += [f"/laporan/{t.number}?lang=en" for t in world.all]
    found += [f"/api/v1/tickets/{t.number}?lang=en" for t in world.all]
    return found


def options(page: str, name: str) -> list[str]:
    """The values of a select's options (the gallery's filters)."""
    select_ = re.search(rf'<select[^>]*name="{name}"[^>]*>(.*?)</select>', page, re.S)
    assert select_, name
    values = [v for v in re.findall(r'<option[^>]*value="([^"]*)"', select_.group(1)) if v]
    assert values, name
    return values


def local(url: str) -> str | None:
    """The site-local path of a link, or None for another site, a fragment, data: and such."""
    parts = urlsplit(url)
    if parts.scheme not in ("", "http", "https") or (parts.netloc not in ("", "localhost")):
        return None
    if not parts.path.startswith("/") or url.startswith("//"):
        return None
    if parts.path.startswith(("/static/", "/bahasa/")):
        return None  # the same files for everyone; the language switch only sets a cookie
    return parts.path + (f"?{parts.query}" if parts.query else "")


def urls_in_json(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [u for v in value.values() for u in urls_in_json(v)]
    if isinstance(value, list):
        return [u for v in value for u in urls_in_json(v)]
    if isinstance(value, str) and (value.startswith(("/", "http://localhost/"))):
        return [value]
    return []


def crawl(client: FlaskClient, start: list[str]) -> dict[str, Any]:
    """GET each path and every site link found in the answers, breadth first."""
    seen: dict[str, Any] = {}
    queue = deque(start)
    while queue and len(seen) < MAX_REQUESTS:
        path = queue.popleft()
        if path in seen:
            continue
        response = client.get(path)
        seen[path] = response
        found: list[str] = []
        if response.status_code in (301, 302, 303, 307, 308):
            found.append(response.headers["Location"])
        elif response.mimetype == "text/html":
            found += links(text(response))
        elif response.mimetype == "application/json" and not path.endswith("openapi.json"):
            found += urls_in_json(response.get_json())
        for url in found:
            target = local(url)
            if target and target not in seen:
                queue.append(target)
    return seen


def test_the_public_walks_every_page_and_endpoint_and_finds_nothing_it_may_not_see(
    app, client, session_factory, world, monkeypatch
):
    monkeypatch.setattr("web.public.gallery.PAGE", 1)  # the crawl follows every gallery page
    public = app.test_client()  # no token, no secret, no cookie
    answers = crawl(public, seeds(app, world, session_factory))
    assert 150 < len(answers) < MAX_REQUESTS, len(answers)

    secret_number = world.secret.number
    for path, response in answers.items():
        assert response.status_code != 500, path
        if response.mimetype.startswith("image/"):
            continue
        body = text(response) + json.dumps(dict(response.headers))
        for hidden in world.hidden:
            assert hidden not in body, (hidden, path)
        if secret_number in path or secret_number.lower()[3:] in path:
            # asked for by number: a 404 like a missing ticket (/lacak redirects to it), or the
            # staff's sign-in page
            if urlsplit(path).path == "/masuk":
                continue  # the sign-in form, which echoes where to go next
            assert response.status_code in (302, 401, 404), path
            if response.status_code == 302:
                location = urlsplit(response.headers["Location"]).path
                if location.startswith("/laporan/"):
                    assert public.get(location).status_code == 404, path
                else:
                    assert location == "/masuk", path
        else:
            assert secret_number not in body, path

    # The crawl saw the public tickets' pages, photos and gallery pairs ...
    for ticket in (world.anonymous, world.plain, world.open_plain):
        assert answers[f"/laporan/{ticket.number}"].status_code == 200
        for photo in attachments_of(session_factory, ticket.number):
            if photo.purpose in ("report", "after"):
                assert answers[f"/foto/{photo.id}"].status_code == 200
                assert answers[f"/foto/{photo.id}/kecil"].status_code == 200
    gallery = "".join(text(r) for p, r in answers.items() if p.startswith("/galeri"))
    assert world.anonymous.number in gallery
    assert world.plain.number in gallery
    assert any("setelah=" in p for p in answers), "the gallery's next page was not followed"
    # ... and none of the confidential ticket's photos.
    secret_photos = attachments_of(session_factory, secret_number)
    assert {p.purpose for p in secret_photos} == {"report", "reply", "after"}
    for photo in secret_photos:
        for suffix in ("", "/kecil"):
            assert answers[f"/foto/{photo.id}{suffix}"].status_code == 404
    # The staff pages and the API ask who is calling.
    assert answers["/api/v1/tasks"].status_code == 401
    assert answers[f"/api/v1/tickets/{secret_number}"].status_code == 404
    assert answers[f"/api/v1/tickets/{world.plain.number}/reporter"].status_code == 404


def test_the_statistics_count_the_confidential_ticket_without_naming_it(client, world):
    stats = client.get("/statistik.json").get_json()
    assert stats["totals"]["received"] == 4
    assert stats["totals"]["fixed"] == 3
    csv = text(client.get("/statistik.csv"))
    assert world.secret.number not in csv
    assert world.secret_title not in csv


def test_the_reporters_conversation_photos_are_not_public(app, client, world, session_factory):
    reply = post_form(
        client,
        world.open_plain.private + "/balas",
        {"text": "Sejak Senin", "photo": [(jpeg((1, 2, 250)), "rumah.jpg")]},
        token_from=world.open_plain.private,
    )
    assert reply.status_code == 302
    public = app.test_client()
    for ticket in (world.anonymous, world.open_plain):
        photos = attachments_of(session_factory, ticket.number)
        replies = [p.id for p in photos if p.purpose in ("reply", "dispute")]
        assert replies
        listed = {
            p["id"] for p in public.get(f"/api/v1/tickets/{ticket.number}").get_json()["photos"]
        }
        for photo in replies:
            assert photo not in listed
            assert public.get(f"/foto/{photo}").status_code == 404


# -- what the reporter and entitled staff see -----------------------------------------------


@pytest.fixture
def secret(client, tokens) -> Driven:
    """A confidential road ticket with a photo, closed as fixed with an after-photo."""
    ticket = Driven(
        client,
        tokens,
        photos=[jpeg((200, 10, 10))],
        confidential=True,
        title="RAHASIA-pungutan liar",
        reporter={"name": "Sri", "contact": "sri@example.org"},
    )
    ticket.to_fixed()
    return ticket


def test_the_confidential_tickets_private_link_shows_everything_with_its_photos(
    app, session_factory, secret
):
    reporter = app.test_client()
    page = reporter.get(secret.private)
    assert page.status_code == 200
    html = text(page)
    for shown in ("RAHASIA-pungutan liar", secret.number, "Sri", "sri@example.org", "Rahasia"):
        assert shown in html, shown
    photos = attachments_of(session_factory, secret.number)
    assert [p.purpose for p in photos] == ["report", "after"]
    for photo in photos:
        url = f"{secret.private}/foto/{photo.id}"
        assert url in html
        assert f"{url}/kecil" in html
        assert reporter.get(url).status_code == 200
        assert reporter.get(url + "/kecil").mimetype == "image/jpeg"
    view = secret.reporter_view()
    assert (view["title"], view["reporter_contact"]) == ("RAHASIA-pungutan liar", "sri@example.org")
    assert {p["url"] for p in view["photos"]} == {
        f"http://localhost{secret.private}/foto/{p.id}" for p in photos
    }


def test_staff_see_the_confidential_photo_as_entitled(client, tokens, session_factory, secret):
    photos = attachments_of(session_factory, secret.number)
    for photo in photos:
        url = f"/foto/{photo.id}"
        assert client.get(url).status_code == 404
        assert client.get(url, headers=bearer(tokens["verifikator"])).status_code == 200
        assert client.get(url, headers=bearer(tokens["petugas_dpupr"])).status_code == 200
        assert client.get(url, headers=bearer(tokens["kepala_dpupr"])).status_code == 200
        assert client.get(url, headers=bearer(tokens["pengawas"])).status_code == 200
        assert client.get(url, headers=bearer(tokens["petugas_dlh"])).status_code == 404
        assert client.get(url + "/kecil", headers=bearer(tokens["petugas_dlh"])).status_code == 404


def test_the_reporters_view_needs_the_secret_even_for_the_verifier_desk(client, tokens, secret):
    url = f"/api/v1/tickets/{secret.number}/reporter"
    desk = bearer(tokens["verifikator"])
    assert client.get(url, headers=desk).status_code == 404
    assert client.get(url, headers={**desk, "X-Reporter-Secret": "salah"}).status_code == 404
    response = client.get(url, headers={**desk, "X-Reporter-Secret": secret.secret})
    assert response.status_code == 200
    assert response.get_json()["reporter_contact"] == "sri@example.org"


def test_an_unlinked_upload_is_for_staff_only(client, tokens, session_factory):
    ticket = Driven(client, tokens, photos=[jpeg()])
    ticket.to_handling()
    after = ticket.upload_after()  # not on record until a form names it
    assert client.get(f"/foto/{after}").status_code == 404
    assert client.get(f"{ticket.private}/foto/{after}").status_code == 404
    assert client.get(f"/foto/{after}", headers=bearer(tokens["petugas_dpupr"])).status_code == 200
    assert client.get(f"/foto/{after}", headers=bearer(tokens["petugas_dlh"])).status_code == 404
    listed = [p["id"] for p in ticket.public()["photos"]]
    assert after not in listed


# -- the rule itself ------------------------------------------------------------------------


def row(session_factory, number: str) -> Ticket:
    with session_factory() as session:
        ticket = session.scalars(select(Ticket).where(Ticket.number == number)).one()
        session.expunge(ticket)
        return ticket


# who, sees_ticket, sees_name, sees_contact, staff
NONE = ("none", False, False, False, False)
PUBLIC = ("public", True, False, False, False)
REPORTER = ("reporter", True, True, True, False)
DESK = ("desk", True, True, True, True)


def test_access_follows_the_documented_table(client, tokens, actors, session_factory):
    confidential = Driven(client, tokens, confidential=True)
    anonymous = Driven(client, tokens, anonymous=True)
    both = Driven(client, tokens, confidential=True, anonymous=True)
    for ticket in (confidential, anonymous, both):
        ticket.to_handling()  # routed to dpupr
    expected = {
        # viewer: (confidential, anonymous, confidential and anonymous)
        None: (NONE, PUBLIC, NONE),
        "reporter": (REPORTER, REPORTER, REPORTER),
        "verifikator": (DESK, DESK, DESK),
        "petugas_dpupr": (
            ("opd", True, True, True, True),
            ("opd", True, False, False, True),
            ("opd", True, False, False, True),
        ),
        "kepala_dpupr": (
            ("opd", True, True, True, True),
            ("opd", True, False, False, True),
            ("opd", True, False, False, True),
        ),
        "pengawas": (
            ("oversight", True, True, True, True),
            ("oversight", True, False, False, True),
            ("oversight", True, False, False, True),
        ),
        "petugas_dlh": (NONE, PUBLIC, NONE),
    }
    tickets = [row(session_factory, t.number) for t in (confidential, anonymous, both)]
    for viewer, rows in expected.items():
        for ticket, want in zip(tickets, rows, strict=True):
            if viewer == "reporter":
                seen = access(ticket, reporter=True)
            else:
                seen = access(ticket, actor=actors[viewer] if viewer else None)
            got = (seen.who, seen.sees_ticket, seen.sees_name, seen.sees_contact, seen.staff)
            assert got == want, (viewer, ticket.confidential, ticket.anonymous)
            if not seen.sees_ticket:
                assert not seen.audiences
            elif seen.who == "public":
                assert seen.audiences == {"public"}
            else:
                assert {"public", "reporter"} <= seen.audiences
