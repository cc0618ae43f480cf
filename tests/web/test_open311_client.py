"""Open311 as a partner sees it: a real GeoReport v2 client library from PyPI (``georeport``)
against a live LAKSA server on loopback, in JSON and in XML, on SQLite and PostgreSQL.

``georeport`` 0.3.1 speaks GeoReport v2 in both formats for reading (services, service
definitions, requests) but cannot file; ``Partner`` adds the specification's ``POST
requests`` in the library's own manner (its root address, key, format and ``requests``), so
every call here goes out over HTTP the way a partner's system would send it. (``open311`` 1.1,
the other client on PyPI, is Python 2 only: it does not import on Python 3.)
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import requests
import xmltodict
from georeport import GeoReport
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker
from werkzeug.serving import make_server

from engine import commands
from engine import partners
from engine.db import make_engine
from engine.db import make_session_factory
from engine.identity import Actor
from engine.models import Attachment
from engine.models import Category
from engine.models import Ticket
from engine.settings import Settings
from engine.ticket_view import ticket_view
from tests.conftest import NOW
from tests.conftest import WORKFLOWS
from tests.engine.conftest import prepared_database
from tests.factories import open_task
from tests.web.pages import jpeg

VERIFIER = Actor("user:verifikator", "verifier", frozenset({"verifier"}))
REPORT = {
    "service_code": "jalan_rusak",
    "lat": "-6.1781",
    "long": "106.6297",
    "address_string": "Jl. Jenderal Sudirman 1 <dekat pasar> & terminal",
    "description": "Lubang besar di depan pasar, sudah seminggu",
    "email": "siti@example.org",
    "first_name": "Siti",
    "last_name": "Rahmawati",
    "attribute[kecamatan]": "tangerang",
}


class Partner(GeoReport):  # type: ignore[misc]
    """georeport's client, and the specification's POST requests it lacks."""

    def post_service_request(self, photo: bytes | None = None, **fields: str) -> dict[str, Any]:
        data = {**fields, "api_key": self.api_key}
        if self.jurisdiction:
            data["jurisdiction_id"] = self.jurisdiction
        files = {"media": ("lubang.jpg", photo, "image/jpeg")} if photo else None
        response = requests.post(
            f"{self.root_address}/requests.{self.output_format}", data=data, files=files, timeout=30
        )
        response.raise_for_status()
        if self.output_format == "json":
            created: dict[str, Any] = response.json()[0]
            return created
        return dict(xmltodict.parse(response.content)["service_requests"]["request"])


@dataclass(frozen=True)
class Live:
    url: str
    factory: sessionmaker[Session]
    api_key: str


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def live(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Live]:
    """LAKSA on a free loopback port, on a fresh database of each backend."""
    with prepared_database(request.param, tmp_path) as url:
        yield from _serve(url, tmp_path)


def _serve(url: str, tmp_path: Path) -> Iterator[Live]:
    from web.app import create_app

    engine = make_engine(url)
    factory = make_session_factory(engine)
    with factory.begin() as session:
        partners.create_partner(session, code="kota-app", name="Aplikasi Kota", now=NOW)
        _, key = partners.create_key(
            session, partner_code="kota-app", scopes=[partners.SUBMIT], now=NOW
        )
    settings = Settings(
        home=tmp_path, database_url=url, redis_url=None, secret_key="test", workflows_dir=WORKFLOWS
    )
    app = create_app({"SETTINGS": settings, "DB_ENGINE": engine, "RATELIMIT_ENABLED": False})
    http = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    try:
        yield Live(f"http://127.0.0.1:{http.server_port}", factory, key)
    finally:
        http.shutdown()
        thread.join(5)
        engine.dispose()


def client(live: Live, fmt: str) -> Partner:
    return Partner(f"{live.url}/open311/v2", api_key=live.api_key, output_format=fmt)


def as_list(found: Any) -> list[dict[str, Any]]:
    """xmltodict gives one element as a dict, several as a list."""
    return list(found) if isinstance(found, list) else [found]


def when(text: str) -> datetime:
    assert text.endswith("+07:00"), text
    return datetime.fromisoformat(text)


def assert_request_is_the_ticket(found: dict[str, Any], live: Live, fmt: str) -> None:
    """Every field of a GeoReport request against the ticket it reports."""
    number = found["service_request_id"]
    with live.factory() as session:
        ticket = session.scalars(select(Ticket).where(Ticket.number == number)).one()
        view = ticket_view(session, number)
        photo = session.scalars(
            select(Attachment).where(Attachment.ticket_id == ticket.id).order_by(Attachment.id)
        ).first()
    number_type = str if fmt == "xml" else float
    expected = {
        "service_request_id": ticket.number,
        "status": "open" if ticket.closed_at is None else "closed",
        "status_notes": view.status_label,
        "service_name": view.category_name,
        "service_code": ticket.category,
        "description": ticket.description,
        "agency_responsible": view.opd_name,
        "service_notice": None,
        "address": ticket.location,
        "address_id": None,
        "zipcode": None,
        "lat": number_type(ticket.latitude),
        "long": number_type(ticket.longitude),
        "media_url": f"{live.url}/foto/{photo.id}" if photo else None,
    }
    for field, value in expected.items():
        assert found.get(field) == value, (fmt, field, found.get(field), value)
    for field, column in (
        ("requested_datetime", ticket.created_at),
        ("updated_datetime", ticket.updated_at),
        ("expected_datetime", ticket.due_at),
    ):
        assert column is not None
        assert when(found[field]) == column.replace(microsecond=0), (fmt, field)
    assert set(found) <= {*expected, "requested_datetime", "updated_datetime", "expected_datetime"}


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_partner_files_lists_services_and_reads_requests_through_georeport(live, fmt):
    partner = client(live, fmt)

    services = as_list(partner.get_service_list())
    with live.factory() as session:
        active = dict(
            session.execute(select(Category.code, Category.name).where(Category.active)).all()
        )
    assert {s["service_code"]: s["service_name"] for s in services} == active
    assert {str(s["metadata"]).lower() for s in services} == {"true"}

    definition = partner.get_service_definition("jalan_rusak")
    attributes = definition["attributes"]
    attributes = as_list(attributes["attribute"]) if fmt == "xml" else attributes
    kecamatan = next(a for a in attributes if a["code"] == "kecamatan")
    values = as_list(kecamatan["values"]["value"]) if fmt == "xml" else kecamatan["values"]
    assert {"key": "tangerang", "name": "Tangerang"} in [dict(v) for v in values]

    created = partner.post_service_request(photo=jpeg(), **REPORT)
    number = created["service_request_id"]
    assert number.startswith("LK-")
    with live.factory.begin() as session:  # the desk routes it: an OPD is responsible now
        commands.complete_task(
            session,
            task_id=open_task(session, number).id,
            actor=VERIFIER,
            data={"decision": "route"},
            now=datetime.now(UTC),
        )

    [listed] = as_list(partner.get_service_requests(service_code="jalan_rusak", status="open"))
    assert_request_is_the_ticket(listed, live, fmt)
    assert listed["agency_responsible"] == "Dinas Pekerjaan Umum dan Penataan Ruang"
    assert listed["status_notes"] == "Didisposisikan"
    assert listed["media_url"]
    one = partner.get_service_request(number)
    assert_request_is_the_ticket(dict(one), live, fmt)
    assert dict(one) == dict(listed)
    if fmt == "json":  # georeport reads an empty XML list as None and fails on it
        assert partner.get_service_requests(status="closed") == []

    with live.factory() as session:
        ticket = session.scalars(select(Ticket).where(Ticket.number == number)).one()
    assert (ticket.reporter_name, ticket.reporter_contact) == ("Siti Rahmawati", "siti@example.org")
    assert ticket.location == REPORT["address_string"]
