"""Helpers of the page tests: CSRF tokens, real photos, the report form, and tickets driven
through the API by the verifier desk and the OPD."""

from __future__ import annotations

import functools
import html
import io
import json
import re
import struct
import zlib
from collections.abc import Sequence
from typing import Any

from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker
from werkzeug.datastructures import FileStorage
from werkzeug.datastructures import MultiDict
from werkzeug.test import encode_multipart

from engine.models import Attachment
from engine.models import Follower
from engine.models import ProcessInstance
from engine.models import Rating
from engine.models import Ticket
from tests.web.test_api import ROAD
from tests.web.test_api import bearer
from tests.web.test_api import snapshot
from tests.web.test_api import task_of

_CSRF = re.compile(r'name="csrf_token"[^>]*\bvalue="([^"]+)"')
_KEPT = re.compile(r'name="kept"[^>]*\bvalue="([^"]+)"')

# What a resident types into /lapor for a valid report (a browser sends the checked radio).
FORM: dict[str, Any] = {
    "kind": "complaint",
    "category": "jalan_rusak",
    "title": "Jalan berlubang di depan pasar",
    "description": "Lubang sedalam 20 cm, motor sering jatuh",
    "address": "Jl. Merdeka 10",
    "kecamatan": "Cipondoh",
    "name": "Budi",
    "contact": "budi@example.org",
}

# A point in Cipondoh and small offsets from it (a degree of latitude is about 111 km).
LAT, LON = -6.1900, 106.6900
METRE = 1 / 111_320


# -- forms ----------------------------------------------------------------------------------


def csrf(client: FlaskClient, path: str) -> str:
    """The CSRF token of the form on ``path``, as a browser would read it."""
    response = client.get(path)
    assert response.status_code == 200, response.status_code
    match = _CSRF.search(response.get_data(as_text=True))
    assert match, f"no csrf_token on {path}"
    return html.unescape(match.group(1))


def multipart(data: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments of ``client.post`` sending ``data`` as multipart/form-data.

    A value is a string, a file ``(bytes, filename)``, or a list of them. The body is encoded
    here, in memory: the test client would spool a large one to a temporary file it never
    closes (a ResourceWarning, an error under this suite's filterwarnings).
    """
    values: MultiDict[str, Any] = MultiDict()
    for key, value in data.items():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, tuple):
                content, filename = item
                item = FileStorage(io.BytesIO(content), filename=filename)
            values.add(key, item)
    boundary, body = encode_multipart(values)
    return {"data": body, "content_type": f"multipart/form-data; boundary={boundary}"}


def post_form(
    client: FlaskClient,
    path: str,
    data: dict[str, Any],
    *,
    token_from: str | None = None,
    **kwargs: Any,
) -> Any:
    """POST a page form as multipart with the CSRF token read from ``token_from`` (or ``path``)."""
    body = {"csrf_token": csrf(client, token_from or path), **data}
    return client.post(path, **multipart(body), **kwargs)


def post_report(
    client: FlaskClient, photos: Sequence[tuple[bytes, str]] = (), **fields: Any
) -> Any:
    """POST /lapor with the valid form overridden by ``fields`` (None drops a field)."""
    data = {k: v for k, v in {**FORM, **fields}.items() if v is not None}
    if photos:
        data["photos"] = list(photos)
    return post_form(client, "/lapor", data)


def text(response: Any) -> str:
    return str(response.get_data(as_text=True))


def field_error(page: str, field: str) -> str | None:
    """The error message shown beside ``field`` (the element ``id="<field>-error"``)."""
    match = re.search(rf'id="{re.escape(field)}-error"[^>]*>(.*?)</p>', page, re.DOTALL)
    return html.unescape(re.sub(r"<[^>]+>", " ", match.group(1))).strip() if match else None


def kept_tokens(page: str) -> list[str]:
    return [html.unescape(t) for t in _KEPT.findall(page)]


def input_value(page: str, name: str) -> str | None:
    match = re.search(rf'<input[^>]*\bname="{re.escape(name)}"[^>]*\bvalue="([^"]*)"', page)
    return html.unescape(match.group(1)) if match else None


def textarea_value(page: str, name: str) -> str | None:
    match = re.search(
        rf'<textarea[^>]*\bname="{re.escape(name)}"[^>]*>(.*?)</textarea>', page, re.S
    )
    return html.unescape(match.group(1)).strip() if match else None


def links(page: str) -> list[str]:
    """Every ``href`` and ``src`` of a page, unescaped."""
    return [html.unescape(u) for u in re.findall(r'\b(?:href|src)="([^"]*)"', page)]


# -- photos ---------------------------------------------------------------------------------


def jpeg(colour: tuple[int, int, int] = (120, 110, 90), size: tuple[int, int] = (64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "JPEG")
    return out.getvalue()


def png(colour: tuple[int, int, int] = (90, 90, 90), size: tuple[int, int] = (40, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "PNG")
    return out.getvalue()


def gif() -> bytes:
    out = io.BytesIO()
    Image.new("P", (16, 16)).save(out, "GIF")
    return out.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


@functools.cache
def huge_png(width: int = 50_000, height: int = 50_000) -> bytes:
    """A valid 1-bit PNG of width x height white pixels, compressed to about 300 KB.

    Written row by row so that building it never holds the decoded picture in memory.
    """
    row = b"\x00" * (1 + (width + 7) // 8)
    packer = zlib.compressobj(9)
    rows = row * 1000
    data = b"".join(packer.compress(rows) for _ in range(height // 1000)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    signature = b"\x89PNG\r\n\x1a\n"
    return signature + _chunk(b"IHDR", header) + _chunk(b"IDAT", data) + _chunk(b"IEND", b"")


# -- the database ---------------------------------------------------------------------------


def written(factory: sessionmaker[Session]) -> tuple[Any, ...]:
    """snapshot() of test_api plus what the pages may write besides: photos and followers."""
    with factory() as session:
        photos = session.scalar(select(func.count()).select_from(Attachment)) or 0
        followers = session.scalar(select(func.count()).select_from(Follower)) or 0
        ratings = session.scalar(select(func.count()).select_from(Rating)) or 0
    return (*snapshot(factory), photos, followers, ratings)


def ticket_row(factory: sessionmaker[Session], number: str) -> Ticket:
    with factory() as session:
        ticket = session.scalars(select(Ticket).where(Ticket.number == number)).one()
        session.expunge(ticket)
        return ticket


def version_of(factory: sessionmaker[Session], number: str) -> int:
    with factory() as session:
        version: int = session.scalars(
            select(ProcessInstance.version)
            .join(Ticket, Ticket.id == ProcessInstance.ticket_id)
            .where(Ticket.number == number)
        ).one()
        return version


def attachments_of(factory: sessionmaker[Session], number: str) -> list[Attachment]:
    with factory() as session:
        rows = list(
            session.scalars(
                select(Attachment)
                .join(Ticket, Ticket.id == Attachment.ticket_id)
                .where(Ticket.number == number)
                .order_by(Attachment.id)
            )
        )
        for row in rows:
            session.expunge(row)
        return rows


# -- a ticket driven through the API --------------------------------------------------------


class Driven:
    """A ticket filed through the API and moved along by the desk and the OPD (dpupr)."""

    opd_user = "petugas_dpupr"

    def __init__(
        self,
        client: FlaskClient,
        tokens: dict[str, str],
        *,
        photos: Sequence[bytes] = (),
        **fields: Any,
    ) -> None:
        self.client, self.tokens = client, tokens
        body = {**ROAD, **fields}
        if photos:
            files = [(p, f"foto{i}.jpg") for i, p in enumerate(photos)]
            response = client.post(
                "/api/v1/tickets", **multipart({"ticket": json.dumps(body), "photos": files})
            )
        else:
            response = client.post("/api/v1/tickets", json=body)
        assert response.status_code == 201, response.get_json()
        created = response.get_json()
        self.number: str = created["number"]
        self.secret: str = created["reporter_secret"]
        self.private = f"/laporan/{self.number}/k/{self.secret}"

    @classmethod
    def existing(
        cls, client: FlaskClient, tokens: dict[str, str], number: str, private: str
    ) -> Driven:
        """A ticket filed elsewhere (the report form), known by its number and private path."""
        ticket = cls.__new__(cls)
        ticket.client, ticket.tokens, ticket.number = client, tokens, number
        ticket.private, ticket.secret = private, private.rsplit("/", 1)[1]
        return ticket

    def complete(self, user: str, data: dict[str, Any]) -> dict[str, Any]:
        task = task_of(self.client, self.tokens[user], self.number)
        response = self.client.post(
            f"/api/v1/tasks/{task['id']}/complete",
            json={"data": data, "version": task["version"]},
            headers=bearer(self.tokens[user]),
        )
        assert response.status_code == 200, response.get_json()
        body: dict[str, Any] = response.get_json()
        return body

    def to_handling(self) -> None:
        self.complete("verifikator", {"decision": "route"})
        self.complete(self.opd_user, {"decision": "accept", "complexity": "simple"})

    def ask(self, question: str) -> None:
        self.complete(self.opd_user, {"decision": "need_info", "question": question})

    def upload_after(self, photo: bytes | None = None) -> int:
        response = self.client.post(
            f"/api/v1/tickets/{self.number}/attachments",
            **multipart({"purpose": "after", "photo": (photo or jpeg((40, 140, 40)), "a.jpg")}),
            headers=bearer(self.tokens[self.opd_user]),
        )
        assert response.status_code == 201, response.get_json()
        return int(response.get_json()["id"])

    def resolve(self, resolution: str = "Lubang sudah ditambal", photo: bytes | None = None) -> int:
        after = self.upload_after(photo)
        self.complete(
            self.opd_user, {"decision": "resolve", "resolution": resolution, "after_photo": after}
        )
        return after

    def message(self, message: str, data: dict[str, Any] | None = None) -> Any:
        body: dict[str, Any] = {"message": message, **({"data": data} if data else {})}
        return self.client.post(
            f"/api/v1/tickets/{self.number}/messages",
            json=body,
            headers={"X-Reporter-Secret": self.secret},
        )

    def confirm(self) -> None:
        response = self.message("reporter_confirms")
        assert response.status_code == 200, response.get_json()

    def to_fixed(self) -> int:
        """Route, accept, resolve with an after-photo, confirm: closed as fixed."""
        self.to_handling()
        after = self.resolve()
        self.confirm()
        return after

    def public(self) -> dict[str, Any]:
        response = self.client.get(f"/api/v1/tickets/{self.number}")
        assert response.status_code == 200, response.get_json()
        body: dict[str, Any] = response.get_json()
        return body

    def reporter_view(self) -> dict[str, Any]:
        response = self.client.get(
            f"/api/v1/tickets/{self.number}/reporter", headers={"X-Reporter-Secret": self.secret}
        )
        assert response.status_code == 200, response.get_json()
        body: dict[str, Any] = response.get_json()
        return body
