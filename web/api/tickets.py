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
from werkzeug.exceptions import BadRequest

from engine import attachments
from engine import commands
from engine.attachments import MAX_PER_REPORT
from engine.attachments import StoredImage
from engine.errors import Forbidden
from engine.errors import InvalidInput
from engine.identity import VIA_API
from engine.identity import Actor
from engine.media import process_image
from engine.ticket_view import TicketView
from engine.ticket_view import ticket_view
from engine.ticket_view import viewer_access
from web import inputs
from web.api.schemas import AttachmentCreatedSchema
from web.api.schemas import ReporterViewSchema
from web.api.schemas import TicketCreatedSchema
from web.api.schemas import TicketCreateSchema
from web.api.schemas import TicketPublicSchema
from web.auth import current_actor
from web.auth import require_actor
from web.extensions import limiter
from web.security import submit_limit
from web.session import db
from web.uploads import media

blp = Blueprint("tickets", __name__, description="Report and track complaints")
SECRET_HEADER = "X-Reporter-Secret"  # noqa: S105 (a header name)

_CREATE_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/TicketCreate"}},
        "multipart/form-data": {
            "schema": {
                "type": "object",
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


def _lang() -> str:
    return request.args.get("lang") or (request.accept_languages.best_match(["id", "en"]) or "id")


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
        body: dict[str, Any] = TicketCreateSchema().load(data)
    except ValidationError as exc:
        messages = exc.messages if isinstance(exc.messages, Mapping) else {"_body": exc.messages}
        raise InvalidInput("the request has invalid fields", fields=messages) from None
    if request.mimetype == "multipart/form-data":
        photos = _photos("photos", MAX_PER_REPORT)
    return body, photos


@blp.route("")
class Tickets(MethodView):
    multipart = True  # photos (web.errors lets multipart through to this view only)
    decorators = [limiter.limit(submit_limit, methods=["POST"])]

    @blp.doc(requestBody=_CREATE_BODY)
    @blp.response(201, TicketCreatedSchema)
    def post(self) -> dict[str, Any]:
        """Report a complaint; public, no token needed. Answers the reporter's secret once.

        Send JSON, or multipart with the ticket as JSON text in a ``ticket`` part and up to
        five ``photos``. Keep ``reporter_secret``: with the ``X-Reporter-Secret`` header it
        opens the reporter's view and lets the reporter answer (only its hash is stored).
        """
        body, photos = _create_body()
        actor = current_actor() or Actor.public(VIA_API)
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
        )
        session = db()
        result = commands.submit_ticket(
            session, data=data, actor=actor, now=datetime.now(UTC), photos=photos
        )
        session.commit()
        number = result.ticket.number
        return {
            "number": number,
            "status": result.ticket.status,
            "url": url_for("tickets.Ticket", number=number),
            "reporter_secret": result.reporter_secret,
            "private_url": url_for(
                "reporter.ticket", number=number, secret=result.reporter_secret, _external=True
            ),
        }


@blp.route("/<string:number>")
class Ticket(MethodView):
    @blp.response(200, TicketPublicSchema)
    def get(self, number: str) -> dict[str, Any]:
        """A ticket's view with its photos and timeline: the public's (404 if confidential), or
        what the caller's token or session entitles them to (engine.visibility)."""
        view = ticket_view(db(), number, actor=current_actor(), lang=_lang())
        return {**ticket_fields(view), **ticket_extras(view)}


@blp.route("/<string:number>/reporter")
class ReporterView(MethodView):
    @blp.doc(
        parameters=[
            {
                "in": "header",
                "name": SECRET_HEADER,
                "required": True,
                "schema": {"type": "string"},
                "description": "the reporter_secret answered when the ticket was created",
            }
        ]
    )
    @blp.response(200, ReporterViewSchema)
    def get(self, number: str) -> dict[str, Any]:
        """The reporter's view: the conversation, what the ticket waits for, their contact.

        404 for a wrong secret, as for a ticket that does not exist.
        """
        secret = request.headers.get(SECRET_HEADER, "")
        view = ticket_view(db(), number, secret=secret, lang=_lang())
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

    @blp.doc(
        security=[{"bearer": []}],
        requestBody={
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
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
    @blp.response(201, AttachmentCreatedSchema)
    def post(self, number: str) -> dict[str, Any]:
        """Upload a photo for a form to name (the after-photo); staff entitled to the ticket.

        The photo is on record once a completed task names its id.
        """
        actor = require_actor()
        session = db()
        ticket, seen = viewer_access(session, number, actor=actor)
        if not seen.acts:
            raise Forbidden("only the desk and the ticket's OPD may add its photos")
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
        return {"id": row.id, "url": url_for("public.photo", attachment_id=row.id)}


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
                "label": e.label,
                "text": e.text,
                "photo_id": e.attachment_id,
            }
            for e in view.entries
        ],
    }
