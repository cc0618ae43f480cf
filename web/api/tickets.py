"""Tickets: citizens and partner apps report and track; the reporter's view by secret; photos."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC
from datetime import datetime
from typing import Any

from flask import request
from flask import url_for
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import ValidationError
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import BadRequest

from engine import attachments
from engine import commands
from engine import partners
from engine.attachments import MAX_PER_REPORT
from engine.attachments import StoredImage
from engine.errors import Conflict
from engine.errors import Forbidden
from engine.errors import InvalidInput
from engine.identity import VIA_API
from engine.identity import Actor
from engine.media import process_image
from engine.ticket_view import TicketView
from engine.ticket_view import ticket_view
from engine.ticket_view import viewer_access
from web import inputs
from web.api.http import CONDITIONAL_DOC
from web.api.http import conditional
from web.api.http import request_lang
from web.api.idempotency import DOC_PARAMETER as IDEMPOTENCY_DOC
from web.api.idempotency import idempotent
from web.api.schemas import LOCATION_DOC
from web.api.schemas import AttachmentCreatedSchema
from web.api.schemas import ReporterViewSchema
from web.api.schemas import TicketCreatedSchema
from web.api.schemas import TicketCreateSchema
from web.api.schemas import TicketPublicSchema
from web.api.schemas import TimelineSchema
from web.auth import authenticated
from web.auth import current_actor
from web.auth import require_actor
from web.auth import require_scope
from web.extensions import limiter
from web.extensions import partner_request
from web.security import submit_limit
from web.session import db
from web.uploads import media

blp = Blueprint("tickets", __name__, description="Report and track complaints")
SECRET_HEADER = "X-Reporter-Secret"  # noqa: S105 (a header name)
SECRET_PARAMETER: dict[str, Any] = {
    "in": "header",
    "name": SECRET_HEADER,
    "required": True,
    "schema": {"type": "string"},
    "description": "the reporter_secret answered when the ticket was created",
}

# Built once: a schema instance builds its fields (and its nested schemas) when made, and
# loading keeps no state on it.
_TICKET_CREATE = TicketCreateSchema()

_CREATE_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/TicketCreate"}},
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "additionalProperties": False,
                "required": ["ticket"],
                "properties": {
                    "ticket": {
                        "allOf": [{"$ref": "#/components/schemas/TicketCreate"}],
                        "description": "the ticket as JSON text (the application/json body)",
                    },
                    "photos": {
                        "type": "array",
                        "maxItems": MAX_PER_REPORT,
                        "items": {"type": "string", "format": "binary"},
                        "description": "JPEG, PNG or WebP, 10 MB each; re-encoded without EXIF",
                    },
                },
            },
            "encoding": {"ticket": {"contentType": "application/json"}},
        },
    },
}


def _only_parts(*known: str) -> None:
    """Refuse a multipart part this endpoint does not read: a misspelt name ("photo" for
    "photos") would otherwise be dropped without a word."""
    unknown = sorted({*request.form, *request.files} - set(known))
    if unknown:
        raise InvalidInput(
            "the multipart body has parts this endpoint does not take",
            fields={
                name or "_part": [f"unknown part; send only {', '.join(known)}"] for name in unknown
            },
        )


def _photos(field: str, limit: int) -> list[StoredImage]:
    if request.form.getlist(field):  # a part with that name but no file name
        raise InvalidInput("photos must be files", fields={field: ["send each photo as a file"]})
    files = [f for f in request.files.getlist(field) if f and f.filename]
    if len(files) > limit:
        raise InvalidInput("too many photos", fields={field: [f"at most {limit} photos"]})
    return [attachments.store(media(), process_image(f.stream.read(), field=field)) for f in files]


def _create_body() -> tuple[dict[str, Any], list[StoredImage]]:
    """The ticket from a JSON body, or from the ``ticket`` part of a multipart one with photos."""
    photos: list[StoredImage] = []
    if request.mimetype == "multipart/form-data":
        _only_parts("ticket", "photos")
        raw = request.form.get("ticket")
        if raw is None:
            raise InvalidInput(
                "the multipart body needs a 'ticket' part",
                fields={"ticket": ["the ticket as JSON text"]},
            )
        try:
            data = inputs.loads(raw)
        except ValueError:
            raise InvalidInput(
                "the 'ticket' part is not valid JSON", fields={"ticket": ["not valid JSON"]}
            ) from None
    else:
        data = request.get_json(silent=True)
        if data is None:
            raise BadRequest("the request body is not valid JSON")
    try:
        body: dict[str, Any] = _TICKET_CREATE.load(data)
    except ValidationError as exc:
        messages = exc.messages if isinstance(exc.messages, Mapping) else {"_body": exc.messages}
        raise InvalidInput("the request has invalid fields", fields=messages) from None
    if request.mimetype == "multipart/form-data":
        photos = _photos("photos", MAX_PER_REPORT)
    return body, photos


@blp.route("")
class Tickets(MethodView):
    multipart = True  # photos (web.errors lets multipart through to this view only)
    # Partner keys have their own limit per key (web.extensions), not the public's per address.
    decorators = [limiter.limit(submit_limit, methods=["POST"], exempt_when=partner_request)]

    @blp.doc(requestBody=_CREATE_BODY, parameters=[IDEMPOTENCY_DOC])
    @blp.response(201, TicketCreatedSchema, headers=LOCATION_DOC)
    @idempotent(TicketCreatedSchema, 201)
    def post(self) -> tuple[dict[str, Any], dict[str, str]]:
        """Report a complaint; public, no token needed. Answers the reporter's secret once.

        Send JSON, or multipart with the ticket as JSON text in a ``ticket`` part and up to
        five ``photos``. Keep ``reporter_secret``: with the ``X-Reporter-Secret`` header it
        opens the reporter's view and lets the reporter answer (only its hash is stored).
        With ``Idempotency-Key``, a retry answers the first answer and files nothing new.
        """
        body, photos = _create_body()
        actor = require_scope(partners.SUBMIT) or Actor.public(VIA_API)
        location = body.get("location") or {}
        reporter = body.get("reporter") or {}
        data = commands.TicketInput(
            kind=body["kind"],
            category=body["category"],
            title=body["title"].strip(),
            description=body["description"].strip(),
            location=location.get("address"),
            latitude=location.get("latitude"),
            longitude=location.get("longitude"),
            kecamatan=location.get("kecamatan"),
            reporter_name=reporter.get("name"),
            reporter_contact=reporter.get("contact"),
            anonymous=body["anonymous"],
            confidential=body["confidential"],
            external_id=body["external_id"],
        )
        session = db()
        try:
            result = commands.submit_ticket(
                session, data=data, actor=actor, now=datetime.now(UTC), photos=photos
            )
            session.flush()  # the unique external_id per partner is checked here
        except IntegrityError:
            if actor.partner_id is None or data.external_id is None:
                raise
            # A concurrent submission took the same reference between check and insert.
            session.rollback()
            raise Conflict(
                f"external_id '{data.external_id}' is taken already",
                fields={"external_id": ["already taken"]},
            ) from None
        number = result.ticket.number
        url = url_for("tickets.Ticket", number=number)
        answer = {
            "number": number,
            "status": result.ticket.status,
            "url": url,
            "reporter_secret": result.reporter_secret,
            "private_url": url_for(
                "reporter.ticket", number=number, secret=result.reporter_secret, _external=True
            ),
        }
        return answer, {"Location": url}


@blp.route("/<string:number>")
class Ticket(MethodView):
    @blp.doc(**CONDITIONAL_DOC)
    @conditional
    @blp.response(200, TicketPublicSchema)
    def get(self, number: str) -> dict[str, Any]:
        """A ticket's view with its photos and timeline: the public's (404 if confidential), or
        what the caller's token or session entitles them to (engine.visibility)."""
        view = ticket_view(db(), number, actor=current_actor(), lang=request_lang())
        return {**ticket_fields(view), **ticket_extras(view)}


@blp.route("/<string:number>/timeline")
class Timeline(MethodView):
    @blp.doc(
        parameters=[{**SECRET_PARAMETER, "required": False}, *CONDITIONAL_DOC["parameters"]],
        responses=CONDITIONAL_DOC["responses"],
    )
    @conditional
    @blp.response(200, TimelineSchema)
    def get(self, number: str) -> dict[str, Any]:
        """A ticket's timeline, oldest first: the public entries (status changes with their
        labels and colours, shared notes); with the reporter's secret or an entitled token,
        the conversation too. 404 if the ticket is confidential (or the secret is wrong)."""
        secret = request.headers.get(SECRET_HEADER)
        view = ticket_view(
            db(),
            number,
            actor=None if secret is not None else current_actor(),
            secret=secret,
            lang=request_lang(),
        )
        return {"number": view.number, "timeline": ticket_extras(view)["timeline"]}


@blp.route("/<string:number>/reporter")
class ReporterView(MethodView):
    @blp.doc(
        parameters=[SECRET_PARAMETER, *CONDITIONAL_DOC["parameters"]],
        responses=CONDITIONAL_DOC["responses"],
    )
    @conditional
    @blp.response(200, ReporterViewSchema)
    def get(self, number: str) -> dict[str, Any]:
        """The reporter's view: the conversation, what the ticket waits for, their contact.

        404 for a wrong secret, as for a ticket that does not exist.
        """
        secret = request.headers.get(SECRET_HEADER, "")
        view = ticket_view(db(), number, secret=secret, lang=request_lang())
        return {
            **ticket_fields(view),
            **ticket_extras(view, secret=secret),
            "reporter_name": view.reporter_name,
            "reporter_contact": view.reporter_contact,
            "anonymous": view.anonymous,
            "confidential": view.confidential,
            "awaiting": sorted(view.awaiting),
            "rating": view.rating,
        }


@blp.route("/<string:number>/attachments")
class Attachments(MethodView):
    multipart = True

    @authenticated
    @blp.doc(
        security=[{"bearer": []}],
        requestBody={
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["photo", "purpose"],
                        "properties": {
                            "photo": {"type": "string", "format": "binary"},
                            "purpose": {"type": "string", "enum": ["after"]},
                        },
                    }
                }
            },
        },
    )
    @blp.response(201, AttachmentCreatedSchema, headers=LOCATION_DOC)
    def post(self, number: str) -> tuple[dict[str, Any], int, dict[str, str]]:
        """Upload a photo for a form to name (the after-photo); staff entitled to the ticket.

        The photo is on record once a completed task names its id.
        """
        actor = require_actor()
        session = db()
        ticket, seen = viewer_access(session, number, actor=actor)
        if not seen.acts:
            raise Forbidden("only the desk and the ticket's OPD may add its photos")
        _only_parts("purpose", "photo")
        purpose = request.form.get("purpose", "")
        if purpose != "after":
            raise InvalidInput("unknown purpose", fields={"purpose": ["one of: after"]})
        if not request.files.get("photo"):
            raise InvalidInput("no photo", fields={"photo": ["a JPEG, PNG or WebP file"]})
        photos = _photos("photo", 1)
        (row,) = attachments.add(
            session,
            ticket_id=ticket.id,
            purpose=purpose,
            uploader=actor.name,
            images=photos,
            now=datetime.now(UTC),
            linked=False,
        )
        session.commit()
        url = url_for("public.photo", attachment_id=row.id)
        return {"id": row.id, "url": url}, 201, {"Location": url}


_FIELDS = (
    "number",
    "kind",
    "category",
    "title",
    "description",
    "location",
    "kecamatan",
    "status",
    "status_label",
    "status_colour",
    "opd",
    "due_at",
    "escalation_level",
    "outcome",
    "created_at",
    "updated_at",
    "closed_at",
)


def ticket_fields(view: TicketView) -> dict[str, Any]:
    return {name: getattr(view, name) for name in _FIELDS}


def _photo_url(photo_id: int, *, thumb: bool, view: TicketView, secret: str | None) -> str:
    """The public photo URL, or the reporter's own (a confidential ticket's photos)."""
    if secret is not None:
        endpoint = "reporter.photo_thumb" if thumb else "reporter.photo"
        return url_for(
            endpoint, number=view.number, secret=secret, attachment_id=photo_id, _external=True
        )
    endpoint = "public.photo_thumb" if thumb else "public.photo"
    return url_for(endpoint, attachment_id=photo_id, _external=True)


def ticket_extras(view: TicketView, *, secret: str | None = None) -> dict[str, Any]:
    """Photos (on record) and timeline entries, as the viewer of ``view`` may see them."""
    return {
        "photos": [
            {
                "id": p.id,
                "purpose": p.purpose,
                "width": p.width,
                "height": p.height,
                "url": _photo_url(p.id, thumb=False, view=view, secret=secret),
                "thumbnail_url": _photo_url(p.id, thumb=True, view=view, secret=secret),
            }
            for p in view.photos
            if p.on_record
        ],
        "timeline": [
            {
                "at": e.at,
                "kind": e.kind,
                "audience": e.audience,
                "author": e.author,
                "status": e.status,
                "status_label": e.status_label,
                "status_colour": e.status_colour,
                "label": e.label,
                "text": e.text,
                "photo_id": e.attachment_id,
            }
            for e in view.entries
        ],
    }
