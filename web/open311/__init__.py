"""Open311 GeoReport v2 under /open311/v2, in JSON and XML (the path's ``.json`` / ``.xml``).

Reads are the public's (engine.georeport): no confidential ticket, no reporter's name or
contact. Filing (``POST requests``) needs an ``api_key``, a partner key (engine.partners) with
the ``submit`` scope; it goes through the same use case as every report
(engine.commands.submit_ticket), rate-limited per partner key. Errors
are the specification's (``[{"code", "description"}]``, ``<errors>``), never a traceback.
"""

from __future__ import annotations

import logging
from datetime import UTC
from datetime import datetime
from typing import Any

from flask import Blueprint
from flask import Response
from flask import request
from flask import url_for
from werkzeug.exceptions import HTTPException

from engine import attachments
from engine import commands
from engine import georeport
from engine import georeport_intake
from engine import georeport_updates
from engine import partners
from engine.attachments import MAX_PER_REPORT
from engine.attachments import StoredImage
from engine.errors import Forbidden
from engine.errors import InvalidInput
from engine.errors import LaksaError
from engine.errors import NotDeployed
from engine.errors import NotFound
from engine.errors import TooLarge
from engine.identity import Actor
from engine.media import MAX_BYTES
from engine.media import process_image
from web import faults
from web.extensions import limiter
from web.extensions import partner_request
from web.open311.render import JSON
from web.open311.render import answer
from web.open311.render import error_answer
from web.open311.render import format_of
from web.security import submit_limit
from web.session import db
from web.session import rollback
from web.uploads import media

log = logging.getLogger(__name__)
PREFIX = "/open311/v2"
SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
CHANGESET = datetime(2026, 12, 2, tzinfo=UTC)  # when this API last changed its shape
FMT = "<any(json, xml):fmt>"
PHOTO_FIELD = "media"  # the multipart file field of POST requests
KEY_SERVICE = "api_key: a partner key with the submit scope, from the city's LAKSA administrators"

blp = Blueprint("open311", __name__, url_prefix=PREFIX)


def _submitter() -> Actor:
    """Who files through ``POST requests``: a partner key with the ``submit`` scope, given as
    ``api_key`` (in the form, or the query as some clients send it); 403 otherwise, in the
    specification's error format."""
    key = (request.form.get("api_key") or request.args.get("api_key") or "").strip()
    if not key:
        raise Forbidden("api_key was not provided")
    actor = partners.actor_for_partner_key(db(), key, now=datetime.now(UTC))
    if actor is None:
        raise Forbidden("api_key is not valid (unknown, revoked or expired)")
    if partners.SUBMIT not in actor.scopes:
        raise Forbidden(
            f"this api_key may not file requests (it needs the '{partners.SUBMIT}' scope)"
        )
    return actor


def _photo_url(photo_id: int | None) -> str | None:
    if photo_id is None:
        return None
    return url_for("public.photo", attachment_id=photo_id, _external=True)


def _request_document(r: georeport.ServiceRequest) -> dict[str, Any]:
    return {
        "service_request_id": r.service_request_id,
        "status": r.status,
        "status_notes": r.status_notes,
        "service_name": r.service_name,
        "service_code": r.service_code,
        "description": r.description,
        "agency_responsible": r.agency_responsible,
        "service_notice": r.service_notice,
        "requested_datetime": r.requested_datetime,
        "updated_datetime": r.updated_datetime,
        "expected_datetime": r.expected_datetime,
        "address": r.address,
        "address_id": r.address_id,
        "zipcode": r.zipcode,
        "lat": r.lat,
        "long": r.long,
        "media_url": _photo_url(r.photo_id),
    }


@blp.get(f"/discovery.{FMT}")
def discovery(fmt: str) -> Response:
    base = request.host_url.rstrip("/") + PREFIX
    return answer(
        fmt,
        "discovery",
        {
            "changeset": CHANGESET,
            "contact": url_for("public.home", _external=True),
            "key_service": KEY_SERVICE,
            "endpoints": [
                {
                    "specification": SPECIFICATION,
                    "url": base,
                    "changeset": CHANGESET,
                    "type": "production",
                    "formats": ["text/xml", "application/json"],
                }
            ],
        },
    )


@blp.get(f"/services.{FMT}")
def services(fmt: str) -> Response:
    found = georeport.services(db())
    return answer(fmt, "services", [vars(s) for s in found])


@blp.get(f"/services/<service_code>.{FMT}")
def service_definition(service_code: str, fmt: str) -> Response:
    found = georeport.service_definition(db(), service_code)
    return answer(
        fmt,
        "service_definition",
        {
            "service_code": service_code,
            "attributes": [
                {
                    "variable": a.variable,
                    "code": a.code,
                    "datatype": a.datatype,
                    "required": a.required,
                    "datatype_description": a.datatype_description,
                    "order": a.order,
                    "description": a.description,
                    "values": [{"key": key, "name": name} for key, name in a.values],
                }
                for a in found
            ],
        },
    )


@blp.get(f"/requests.{FMT}")
def requests(fmt: str) -> Response:
    query = georeport.parse_query(request.args, now=datetime.now(UTC))
    found = georeport.find_requests(db(), query)
    return answer(fmt, "service_requests", [_request_document(r) for r in found])


@blp.post(f"/requests.{FMT}")
# A partner's api_key has its own limit per key (web.extensions), not the public's per address.
@limiter.limit(submit_limit, exempt_when=partner_request)
def create_request(fmt: str) -> Response:
    actor = _submitter()
    session = db()
    data = georeport_intake.read_request(session, request.form)
    photos = _photos()
    result = commands.submit_ticket(
        session, data=data, actor=actor, now=datetime.now(UTC), photos=photos
    )
    session.commit()
    number = result.ticket.number
    response = answer(
        fmt,
        "service_requests",
        [{"service_request_id": number, "service_notice": None, "account_id": None}],
        201,
    )
    response.headers["Location"] = url_for(
        ".service_request", service_request_id=number, fmt=fmt, _external=True
    )
    return response


def _photos() -> list[StoredImage]:
    files = [f for f in request.files.getlist(PHOTO_FIELD) if f and f.filename]
    if len(files) > MAX_PER_REPORT:
        raise InvalidInput(
            "too many photos", fields={PHOTO_FIELD: [f"at most {MAX_PER_REPORT} photos"]}
        )
    return [
        attachments.store(media(), process_image(f.stream.read(MAX_BYTES + 1), field=PHOTO_FIELD))
        for f in files
    ]


@blp.get(f"/requests/<service_request_id>.{FMT}")
def service_request(service_request_id: str, fmt: str) -> Response:
    found = georeport.request_by_id(db(), service_request_id)
    return answer(fmt, "service_requests", [_request_document(found)])


@blp.get(f"/tokens/<token>.{FMT}")
def token(token: str, fmt: str) -> Response:
    """Requests are created at once (``POST requests`` answers the id), so a token is the
    request's id: clients that always ask for one still get it."""
    found = georeport.request_by_id(db(), token)
    return answer(
        fmt,
        "service_requests",
        [{"service_request_id": found.service_request_id, "token": token}],
    )


@blp.get(f"/servicerequestupdates.{FMT}")
def service_request_updates(fmt: str) -> Response:
    """mySociety's extension, as FixMyStreet's update fetcher asks for it."""
    found = georeport_updates.find_updates(db(), request.args, now=datetime.now(UTC))
    items = [
        {
            "update_id": u.update_id,
            "service_request_id": u.service_request_id,
            "status": u.status,
            "updated_datetime": u.updated_datetime,
            "description": u.description,
            "media_url": _photo_url(u.photo_id),
            "external_status_code": u.external_status_code,
        }
        for u in found
    ]
    # JSON as mySociety's reference endpoint writes it; XML: <service_request_updates>
    # holding <request_update> elements.
    document = {"service_request_updates": items} if fmt == JSON else items
    return answer(fmt, "service_request_updates", document)


_STATUS = ((TooLarge, 413), (NotFound, 404), (Forbidden, 403), (NotDeployed, 503))


@blp.errorhandler(LaksaError)
def domain_error(exc: LaksaError) -> Response:
    rollback()
    status = next((s for cls, s in _STATUS if isinstance(exc, cls)), 400)
    return error_answer(format_of(request.path), status, exc.message, exc.fields or None)


@blp.errorhandler(HTTPException)
def http_error(exc: HTTPException) -> Response:
    rollback()
    return error_answer(format_of(request.path), exc.code or 500, exc.description or exc.name)


@blp.errorhandler(Exception)
def unexpected(exc: Exception) -> Response:
    fault = faults.fault_of(exc)
    if fault is not None:  # the database cannot serve now: 503, try again later
        answer = error_answer(format_of(request.path), faults.STATUS, fault.message)
        return faults.with_retry_after(answer, fault)
    rollback()
    log.exception("unhandled error")
    return error_answer(format_of(request.path), 500, "something went wrong on our side")
