"""Open311 GeoReport v2's domain side (engine.georeport, engine.georeport_updates,
engine.georeport_intake) on SQLite and PostgreSQL: services from the category table, tickets
as service requests the public may see, the public timeline as updates, a partner's form read
into a ticket."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from engine import attachments
from engine import georeport
from engine import georeport_intake
from engine import georeport_updates
from engine.errors import InvalidInput
from engine.errors import NotFound
from engine.identity import Actor
from engine.models import Category
from engine.models import Kecamatan
from engine.models import Ticket
from tests.conftest import NOW
from tests.factories import ROAD
from tests.factories import complete
from tests.factories import fake_image
from tests.factories import submit

VERIFIER = Actor("user:ani", "verifier", frozenset({"verifier"}))
DPUPR = Actor("user:dedi", "officer", frozenset({"dpupr"}))
SECRET = replace(ROAD, title="Pungutan liar", description="Rahasia", confidential=True)
LATER = NOW + timedelta(hours=2)


@pytest.fixture
def factory(backend_factory: sessionmaker[Session]) -> sessionmaker[Session]:
    return backend_factory


def requests(factory: sessionmaker[Session], **params: str) -> list[georeport.ServiceRequest]:
    with factory() as session:
        return georeport.find_requests(session, georeport.parse_query(params, now=LATER))


def updates(factory: sessionmaker[Session], **params: str) -> list[georeport.RequestUpdate]:
    with factory() as session:
        return georeport_updates.find_updates(session, params, now=LATER)


def numbers(found: list[Any]) -> list[str]:
    return [r.service_request_id for r in found]


# -- services --------------------------------------------------------------------------------


def test_services_are_the_active_categories_by_name(factory):
    with factory() as session:
        active = session.execute(
            select(Category.code, Category.name).where(Category.active).order_by(Category.name)
        ).all()
        found = georeport.services(session)
    assert active, "the demo city has categories"
    assert [(s.service_code, s.service_name) for s in found] == [tuple(r) for r in active]
    assert all(s.metadata and s.type == "realtime" for s in found)


def test_a_service_definition_lists_attributes_whose_values_have_key_and_name(factory):
    with factory() as session:
        attributes = georeport.service_definition(session, "jalan_rusak")
        city = sorted(session.scalars(select(Kecamatan.name)))
    by_code = {a.code: a for a in attributes}
    assert set(by_code) == {"title", "kind", "kecamatan", "anonymous", "confidential"}
    assert [a.order for a in attributes] == sorted(a.order for a in attributes)
    assert sorted(name for _, name in by_code["kecamatan"].values) == city
    for attribute in attributes:
        if attribute.datatype == "singlevaluelist":
            assert attribute.values
            assert all(key and name for key, name in attribute.values)


def test_an_unknown_or_retired_service_has_no_definition(factory):
    with factory.begin() as session:
        session.get(Category, "drainase").active = False  # type: ignore[union-attr]
    with factory() as session, pytest.raises(NotFound):
        georeport.service_definition(session, "nope")
    with factory() as session, pytest.raises(NotFound):
        georeport.service_definition(session, "drainase")


# -- service requests ------------------------------------------------------------------------


def test_a_request_carries_the_tickets_public_fields(factory):
    data = replace(ROAD, location="Jl. Sudirman 1", latitude=-6.17, longitude=106.63)
    number = submit(factory, data)
    complete(factory, VERIFIER, number, {"decision": "route"}, now=NOW + timedelta(minutes=5))
    with factory() as session:
        found = georeport.request_by_id(session, number.lower())
        ticket = session.scalars(select(Ticket).where(Ticket.number == number)).one()
    assert found.service_request_id == number
    assert (found.status, found.status_notes) == ("open", "Didisposisikan")
    assert (found.service_code, found.service_name) == ("jalan_rusak", "Jalan rusak")
    assert found.description == ROAD.description
    assert found.agency_responsible == "Dinas Pekerjaan Umum dan Penataan Ruang"
    assert found.requested_datetime == NOW == ticket.created_at
    assert found.updated_datetime == ticket.updated_at == NOW + timedelta(minutes=5)
    assert found.expected_datetime == ticket.due_at is not None
    assert (found.address, found.lat, found.long) == ("Jl. Sudirman 1", -6.17, 106.63)
    assert found.photo_id is None


def test_confidential_tickets_appear_nowhere(factory):
    public = submit(factory)
    secret = submit(factory, SECRET)
    assert numbers(requests(factory)) == [public]
    assert numbers(requests(factory, service_request_id=f"{secret},{public}")) == [public]
    assert {u.service_request_id for u in updates(factory)} == {public}
    with factory() as session, pytest.raises(NotFound):
        georeport.request_by_id(session, secret)


def test_status_is_open_until_the_process_ends_and_the_notes_carry_the_label(factory):
    kept = submit(factory)
    rejected = submit(factory, replace(ROAD, title="Iklan"), now=NOW + timedelta(minutes=1))
    complete(factory, VERIFIER, rejected, {"decision": "reject", "reason": "Iklan, bukan laporan"})
    by_number = {r.service_request_id: r for r in requests(factory)}
    assert (by_number[kept].status, by_number[kept].status_notes) == ("open", "Verifikasi")
    assert (by_number[rejected].status, by_number[rejected].status_notes) == (
        "closed",
        "Diarsipkan",
    )
    assert numbers(requests(factory, status="open")) == [kept]
    assert numbers(requests(factory, status="closed")) == [rejected]
    assert numbers(requests(factory, status="open,closed")) == [rejected, kept]


def test_requests_filter_by_service_code_and_page_newest_first(factory):
    first = submit(factory, now=NOW)
    rubbish = submit(factory, replace(ROAD, category="sampah"), now=NOW + timedelta(minutes=1))
    last = submit(factory, now=NOW + timedelta(minutes=2))
    assert numbers(requests(factory, service_code="jalan_rusak")) == [last, first]
    assert numbers(requests(factory, service_code="sampah,drainase")) == [rubbish]
    assert numbers(requests(factory, page_size="2")) == [last, rubbish]
    assert numbers(requests(factory, page_size="2", page="2")) == [first]
    assert numbers(requests(factory, page_size="2", page="3")) == []


def test_requests_default_to_the_last_90_days_and_take_jakarta_days(factory):
    old = submit(factory, now=NOW - timedelta(days=100))
    # 23:30 on 22 November in Jakarta is still 16:30 UTC that day.
    late = submit(factory, now=datetime(2026, 11, 22, 16, 30, tzinfo=UTC))
    assert numbers(requests(factory)) == [late]
    assert numbers(requests(factory, start_date="2026-11-22", end_date="2026-11-22")) == [late]
    assert numbers(requests(factory, start_date="2026-11-23")) == []
    assert numbers(requests(factory, end_date="2026-08-20")) == [old]
    window = {"start_date": "2026-11-22T23:00:00+07:00", "end_date": "2026-11-22T16:45:00Z"}
    assert numbers(requests(factory, **window)) == [late]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"start_date": "2026-01-01", "end_date": "2026-06-01"}, "end_date"),
        ({"start_date": "2026-02-01", "end_date": "2026-01-01"}, "start_date"),
        ({"start_date": "kemarin"}, "start_date"),
        ({"end_date": "2026-13-01"}, "end_date"),
        ({"start_date": "9999-12-31"}, "start_date"),
        ({"end_date": "0001-01-01T00:00:00"}, "end_date"),
        ({"start_date": "9999-12-31T23:59:59+00:00"}, "start_date"),
        ({"page_size": "²"}, "page_size"),
        ({"status": "open,fixed"}, "status"),
        ({"page": "0"}, "page"),
        ({"page_size": "201"}, "page_size"),
        ({"service_request_id": ",".join(["LK-X"] * 101)}, "service_request_id"),
    ],
)
def test_a_wrong_filter_is_refused_naming_it(params, field):
    with pytest.raises(InvalidInput) as refused:
        georeport.parse_query(params, now=NOW)
    assert field in refused.value.fields


def test_service_request_id_overrides_the_other_filters(factory):
    old = submit(factory, now=NOW - timedelta(days=200))
    found = requests(factory, service_request_id=old, start_date="2026-13-99", status="x")
    assert numbers(found) == [old]


# -- updates ---------------------------------------------------------------------------------


def test_updates_are_the_public_timeline_with_the_status_at_the_time(factory):
    number = submit(factory)
    complete(factory, VERIFIER, number, {"decision": "route"}, now=NOW + timedelta(minutes=10))
    complete(factory, DPUPR, number, {"decision": "accept", "complexity": "simple"}, now=LATER)
    complete(
        factory, DPUPR, number, {"decision": "resolve", "resolution": "Sudah ditambal"}, now=LATER
    )
    found = updates(factory, start_date=NOW.isoformat(), end_date=LATER.isoformat())
    # the resolution is a public note; the status waits for the after-photo
    assert [(u.description, u.status, u.external_status_code) for u in found] == [
        ("Diterima", "open", "received"),
        ("Verifikasi", "open", "verification"),
        ("Didisposisikan", "open", "dispatched"),
        ("Diproses", "open", "in_progress"),
        ("Sudah ditambal", "open", "in_progress"),
    ]
    assert all(u.service_request_id == number for u in found)
    assert [int(u.update_id) for u in found] == sorted(int(u.update_id) for u in found)
    later_only = updates(
        factory, start_date=(NOW + timedelta(minutes=5)).isoformat(), end_date=LATER.isoformat()
    )
    assert "Diterima" not in [u.description for u in later_only]
    assert all(u.photo_id is None for u in found)


def test_the_resolved_update_shows_the_after_photo(factory):
    number = submit(factory)
    complete(factory, VERIFIER, number, {"decision": "route"})
    complete(factory, DPUPR, number, {"decision": "accept", "complexity": "simple"})
    complete(factory, DPUPR, number, {"decision": "resolve", "resolution": "Ditambal"})
    with factory.begin() as session:
        ticket = session.scalars(select(Ticket).where(Ticket.number == number)).one()
        [photo] = attachments.add(
            session,
            ticket_id=ticket.id,
            purpose="after",
            uploader="user:dedi",
            images=[fake_image(1)],
            now=NOW,
            linked=False,
        )
    complete(factory, DPUPR, number, {"after_photo": photo.id}, now=LATER)
    found = updates(factory, start_date=NOW.isoformat(), end_date=LATER.isoformat())
    shown = [(u.external_status_code, u.photo_id) for u in found if u.photo_id is not None]
    assert shown == [("resolved", photo.id)]


def test_an_update_after_closing_is_closed_and_reporter_only_text_is_not_an_update(factory):
    number = submit(factory)
    complete(factory, VERIFIER, number, {"decision": "reject", "reason": "Hanya untuk pelapor"})
    found = updates(factory)
    assert [(u.description, u.status) for u in found] == [
        ("Diterima", "open"),
        ("Verifikasi", "open"),
        ("Diarsipkan", "closed"),
    ]


# -- a partner's form ------------------------------------------------------------------------


FORM = {
    "service_code": "jalan_rusak",
    "lat": "-6.17",
    "long": "106.63",
    "description": "Lubang besar di depan pasar\nsudah seminggu",
    "email": "budi@example.org",
    "first_name": "Budi",
    "last_name": "Santoso",
}


def read(factory: sessionmaker[Session], **changes: str | None) -> Any:
    form = {k: v for k, v in {**FORM, **changes}.items() if v is not None}
    with factory() as session:
        return georeport_intake.read_request(session, form)


def test_a_partners_form_becomes_a_ticket_input(factory):
    data = read(factory, **{"attribute[kind]": "aspiration", "attribute[kecamatan]": "cipondoh"})
    assert (data.category, data.kind, data.kecamatan) == ("jalan_rusak", "aspiration", "cipondoh")
    assert data.title == "Lubang besar di depan pasar"  # the first line, without a title
    assert (data.latitude, data.longitude) == (-6.17, 106.63)
    assert (data.reporter_name, data.reporter_contact) == ("Budi Santoso", "budi@example.org")
    assert (data.anonymous, data.confidential) == (False, False)
    short_line = read(factory, description="Di\nJl. Sudirman ada lubang")
    assert short_line.title == "Di Jl. Sudirman ada lubang"
    titled = read(
        factory, **{"attribute[title]": "Jalan berlubang", "attribute[anonymous]": "true"}
    )
    assert (titled.title, titled.anonymous) == ("Jalan berlubang", True)


def test_a_report_without_a_contact_is_anonymous_and_media_url_joins_the_description(factory):
    data = read(
        factory,
        email=None,
        address_string="Jl. Sudirman 1",
        lat=None,
        long=None,
        media_url="https://foto.example.org/1.jpg",
    )
    assert (data.anonymous, data.reporter_contact, data.location) == (True, None, "Jl. Sudirman 1")
    assert data.description.endswith("\n\nFoto: https://foto.example.org/1.jpg")


@pytest.mark.parametrize(
    ("changes", "error", "field"),
    [
        ({"service_code": None}, InvalidInput, "service_code"),
        ({"service_code": "nope"}, NotFound, "service_code"),
        ({"lat": None, "long": None}, InvalidInput, "address_string"),
        ({"long": None}, InvalidInput, "lat"),
        ({"lat": "91"}, InvalidInput, "lat"),
        ({"long": "nan"}, InvalidInput, "long"),
        ({"description": "ok"}, InvalidInput, "description"),
        ({"email": "bukan-alamat"}, InvalidInput, "email"),
        ({"email": "a" * 200 + "@example.org"}, InvalidInput, "email"),
        ({"attribute[kecamatan]": "K" * 81}, InvalidInput, "attribute[kecamatan]"),
        ({"first_name": "B" * 121}, InvalidInput, "first_name"),
        ({"address_string": "J" * 301, "lat": None, "long": None}, InvalidInput, "address_string"),
        ({"media_url": "file:///etc/passwd"}, InvalidInput, "media_url"),
        ({"attribute[kind]": "gossip"}, InvalidInput, "attribute[kind]"),
        ({"attribute[confidential]": "mungkin"}, InvalidInput, "attribute[confidential]"),
        ({"attribute[title]": "ab"}, InvalidInput, "attribute[title]"),
    ],
)
def test_a_wrong_form_is_refused_naming_the_field(factory, changes, error, field):
    with pytest.raises(error) as refused:
        read(factory, **changes)
    assert field in refused.value.fields
