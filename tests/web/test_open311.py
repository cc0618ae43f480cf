"""Open311 GeoReport v2 over HTTP (web/open311): JSON and XML of the same data, filing with an
api_key (form-encoded or multipart with a photo), the specification's errors, nothing of the
reporter in any answer, confidential tickets nowhere, the submit rate limit."""

from __future__ import annotations

import re
from typing import Any
from xml.etree import ElementTree as ET

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from engine import partners
from engine.models import Attachment
from engine.models import AuditEvent
from engine.models import Partner
from engine.models import ProcessInstance
from engine.models import Ticket
from tests.conftest import NOW
from tests.web.pages import gif
from tests.web.pages import jpeg
from tests.web.pages import multipart
from tests.web.pages import ticket_row

V2 = "/open311/v2"
EMAIL, PHONE, NAME = "siti.rahma@example.org", "0812 3456 7890", "Siti Rahmawati"
FORM = {
    "service_code": "jalan_rusak",
    "lat": "-6.1781",
    "long": "106.6297",
    "address_string": "Jl. Jenderal Sudirman 1",
    "description": "Lubang besar <dalam> & berbahaya di depan pasar",
    "email": EMAIL,
    "first_name": "Siti",
    "last_name": "Rahmawati",
    "attribute[kecamatan]": "tangerang",
}
JAKARTA_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+07:00$")


def partner_key(
    factory: sessionmaker[Session], scopes: tuple[str, ...] = (partners.SUBMIT,)
) -> str:
    with factory.begin() as session:
        if session.scalar(select(Partner.id).where(Partner.code == "fixmystreet")) is None:
            partners.create_partner(session, code="fixmystreet", name="FixMyStreet", now=NOW)
        _, key = partners.create_key(session, partner_code="fixmystreet", scopes=scopes, now=NOW)
    return key


@pytest.fixture
def api_key(session_factory: sessionmaker[Session]) -> str:
    """A partner's key that may file (the submit scope)."""
    return partner_key(session_factory)


def file(client: FlaskClient, api_key: str | None, fmt: str = "json", **changes: Any) -> Any:
    form = {k: v for k, v in {**FORM, "api_key": api_key, **changes}.items() if v is not None}
    return client.post(f"{V2}/requests.{fmt}", data=form)


def filed(client: FlaskClient, api_key: str, **changes: Any) -> str:
    response = file(client, api_key, **changes)
    assert response.status_code == 201, response.get_data(as_text=True)
    number: str = response.get_json()[0]["service_request_id"]
    return number


def xml_items(response: Any, root: str) -> list[dict[str, str | None]]:
    """The items of an XML answer as {field: text}, sub-elements left out."""
    tree = ET.fromstring(response.get_data())
    assert tree.tag == root
    return [{child.tag: child.text for child in item if len(child) == 0} for item in tree]


def errors_of(response: Any, fmt: str) -> list[dict[str, Any]]:
    if fmt == "json":
        assert response.mimetype == "application/json"
        body: list[dict[str, Any]] = response.get_json()
        return body
    assert response.mimetype == "text/xml"
    return [
        {k: int(v) if k == "code" else v for k, v in e.items()}
        for e in xml_items(response, "errors")
    ]


def test_filing_form_encoded_answers_the_id_and_makes_the_ticket(client, api_key, session_factory):
    response = file(client, api_key)
    assert response.status_code == 201
    [created] = response.get_json()
    number = created["service_request_id"]
    assert response.headers["Location"].endswith(f"{V2}/requests/{number}.json")
    ticket = ticket_row(session_factory, number)
    assert (ticket.category, ticket.title) == ("jalan_rusak", FORM["description"][:200])
    assert (ticket.reporter_name, ticket.reporter_contact) == (NAME, EMAIL)
    assert (ticket.kecamatan, ticket.location) == ("Tangerang", FORM["address_string"])
    assert (ticket.latitude, ticket.longitude) == (-6.1781, 106.6297)
    assert ticket.reporter_user_id is None
    with session_factory() as session:
        partner = session.scalars(select(Partner).where(Partner.code == "fixmystreet")).one()
    assert ticket.partner_id == partner.id
    with session_factory() as session:
        first = session.scalars(
            select(AuditEvent)
            .join(ProcessInstance, ProcessInstance.id == AuditEvent.instance_id)
            .where(ProcessInstance.ticket_id == ticket.id)
            .order_by(AuditEvent.seq)
        ).first()
    assert first is not None
    assert (first.actor, first.via.split(":")[0]) == ("partner:fixmystreet", "partner_key")


def test_filing_as_xml_answers_xml(client, api_key):
    response = file(client, api_key, fmt="xml")
    assert response.status_code == 201
    [created] = xml_items(response, "service_requests")
    assert created["service_request_id"].startswith("LK-")


def test_filing_multipart_with_a_photo_makes_it_the_media_url(client, api_key, session_factory):
    body = {**FORM, "api_key": api_key, "media": (jpeg(), "lubang.jpg")}
    response = client.post(f"{V2}/requests.json", **multipart(body))
    assert response.status_code == 201, response.get_json()
    number = response.get_json()[0]["service_request_id"]
    with session_factory() as session:
        [photo] = session.scalars(
            select(Attachment).join(Ticket).where(Ticket.number == number)
        ).all()
    assert (photo.purpose, photo.linked_at is not None) == ("report", True)
    [found] = client.get(f"{V2}/requests/{number}.json").get_json()
    assert found["media_url"] == f"http://localhost/foto/{photo.id}"
    assert client.get(f"/foto/{photo.id}").mimetype == "image/jpeg"


def test_a_picture_that_is_not_one_is_refused_in_the_specifications_format(client, api_key):
    body = {**FORM, "api_key": api_key, "media": (gif(), "x.gif")}
    response = client.post(f"{V2}/requests.xml", **multipart(body))
    assert response.status_code == 400
    assert "media" in " ".join(e["description"] for e in errors_of(response, "xml"))


def test_media_url_is_kept_with_the_description_not_fetched(client, api_key, session_factory):
    number = filed(client, api_key, media_url="http://10.0.0.1/foto.jpg")
    ticket = ticket_row(session_factory, number)
    assert ticket.description.endswith("Foto: http://10.0.0.1/foto.jpg")
    with session_factory() as session:
        assert (
            session.scalars(select(Attachment).where(Attachment.ticket_id == ticket.id)).all() == []
        )


@pytest.mark.parametrize("fmt", ["json", "xml"])
@pytest.mark.parametrize("key", [None, "", "not-a-key"])
def test_filing_without_a_valid_api_key_is_403(client, session_factory, fmt, key):
    response = file(client, key, fmt=fmt)  # None: no api_key at all
    assert response.status_code == 403
    [error] = errors_of(response, fmt)
    assert error["code"] == 403
    assert "api_key" in error["description"]
    with session_factory() as session:
        assert session.scalars(select(Ticket)).all() == []


def test_a_key_that_may_not_submit_a_revoked_key_or_a_users_token_is_403(
    client, session_factory, tokens
):
    reader = partner_key(session_factory, scopes=(partners.READ, partners.FOLLOW))
    with session_factory.begin() as session:
        row, revoked = partners.create_key(
            session, partner_code="fixmystreet", scopes=[partners.SUBMIT], now=NOW
        )
        partners.revoke_key(session, key_id=row.id, now=NOW)
    for key, says in (
        (reader, "submit"),
        (revoked, "not valid"),
        (tokens["verifikator"], "not valid"),
    ):
        response = file(client, key)
        assert response.status_code == 403, key
        assert says in errors_of(response, "json")[0]["description"]
    with session_factory() as session:
        assert session.scalars(select(Ticket)).all() == []


@pytest.mark.parametrize(
    ("changes", "status", "named"),
    [
        ({"service_code": None}, 400, "service_code"),
        ({"service_code": "nope"}, 404, "service_code"),
        ({"lat": None, "long": None, "address_string": None}, 400, "address_string"),
        ({"email": "bukan"}, 400, "email"),
        ({"attribute[kecamatan]": "Atlantis"}, 400, "kecamatan"),
    ],
)
@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_wrong_request_gets_the_specifications_error(
    client, api_key, changes, status, named, fmt
):
    response = file(client, api_key, fmt=fmt, **changes)
    assert response.status_code == status
    found = errors_of(response, fmt)
    assert {e["code"] for e in found} == {status}
    assert any(named in e["description"] for e in found)


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/services/nope.json", 404),
        ("/requests/LK-00000000.json", 404),
        ("/tokens/LK-00000000.json", 404),
        ("/requests.json?start_date=2026-01-01&end_date=2026-06-01", 400),
        ("/requests.json?status=fixed", 400),
        ("/servicerequestupdates.json?start_date=tomorrow", 400),
        ("/nothing-here.json", 404),
        ("/services.html", 404),
    ],
)
@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_reads_refused_get_the_specifications_error(client, path, status, fmt):
    response = client.get(V2 + path.replace(".json", f".{fmt}"))
    assert response.status_code == status
    assert {e["code"] for e in errors_of(response, "xml" if path.endswith(".html") else fmt)} == {
        status
    }


def test_a_wrong_method_gets_the_specifications_error(client):
    response = client.put(f"{V2}/requests.json")
    assert response.status_code == 405
    assert errors_of(response, "json")[0]["code"] == 405


def test_json_and_xml_carry_the_same_request(client, api_key):
    number = filed(client, api_key)
    [as_json] = client.get(f"{V2}/requests/{number}.json").get_json()
    [as_xml] = xml_items(client.get(f"{V2}/requests/{number}.xml"), "service_requests")
    assert set(as_xml) == {k for k, v in as_json.items() if v is not None}
    for field, value in as_json.items():
        if value is not None:
            assert as_xml[field] == str(value), field
    assert as_json["description"] == FORM["description"]  # escaped in XML, whole again here
    for field in ("requested_datetime", "updated_datetime", "expected_datetime"):
        assert JAKARTA_TIME.match(as_json[field]), as_json[field]
    assert (as_json["status"], as_json["status_notes"]) == ("open", "Verifikasi")


def test_a_character_xml_cannot_hold_does_not_break_the_xml_answer(client, api_key):
    number = filed(client, api_key, description="Lubang\x0bbesar\x1b di jalan")
    [as_xml] = xml_items(client.get(f"{V2}/requests/{number}.xml"), "service_requests")
    assert as_xml["description"] == "Lubang\ufffdbesar\ufffd di jalan"
    [as_json] = client.get(f"{V2}/requests/{number}.json").get_json()
    assert as_json["description"] == "Lubang\x0bbesar\x1b di jalan"


def test_no_answer_names_or_reaches_the_reporter(client, api_key):
    number = filed(client, api_key)
    filed(client, api_key, email=None, phone=PHONE)
    paths = [
        "/requests.json",
        "/requests.xml",
        f"/requests/{number}.json",
        f"/requests/{number}.xml",
        f"/tokens/{number}.json",
        "/servicerequestupdates.json",
        "/servicerequestupdates.xml",
    ]
    for path in paths:
        response = client.get(V2 + path)
        assert response.status_code == 200, path
        text = response.get_data(as_text=True)
        for private in (EMAIL, PHONE, "Siti", "Rahmawati"):
            assert private not in text, (path, private)


def test_a_confidential_request_is_filed_and_then_appears_nowhere(client, api_key):
    number = filed(client, api_key, **{"attribute[confidential]": "true"})
    assert client.get(f"{V2}/requests/{number}.json").status_code == 404
    assert client.get(f"{V2}/tokens/{number}.xml").status_code == 404
    for path in (
        "/requests.json",
        f"/requests.json?service_request_id={number}",
        "/servicerequestupdates.json",
    ):
        assert number not in client.get(V2 + path).get_data(as_text=True), path


def test_a_token_is_the_requests_id(client, api_key):
    number = filed(client, api_key)
    assert client.get(f"{V2}/tokens/{number}.json").get_json() == [
        {"service_request_id": number, "token": number}
    ]


def test_discovery_names_this_endpoint_and_both_formats(client):
    body = client.get(f"{V2}/discovery.json").get_json()
    [endpoint] = body["endpoints"]
    assert endpoint["url"] == f"http://localhost{V2}"
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["formats"] == ["text/xml", "application/json"]
    tree = ET.fromstring(client.get(f"{V2}/discovery.xml").get_data())
    formats = [f.text for f in tree.iter("format")]
    assert formats == ["text/xml", "application/json"]


def test_the_service_definition_in_xml_holds_each_value_with_key_and_name(client):
    tree = ET.fromstring(client.get(f"{V2}/services/sampah.xml").get_data())
    assert tree.tag == "service_definition"
    assert tree.findtext("service_code") == "sampah"
    values = tree.findall("./attributes/attribute/values/value")
    assert values
    assert all(v.findtext("key") and v.findtext("name") for v in values)


def test_the_third_filing_in_a_minute_is_429_in_the_specifications_format(limited, api_key):
    client = limited.test_client()
    for _ in range(2):
        assert file(client, api_key).status_code == 201
    response = file(client, api_key, fmt="xml")
    assert response.status_code == 429
    assert errors_of(response, "xml")[0]["code"] == 429
    assert client.get(f"{V2}/requests.json").status_code == 200  # reads are not limited
