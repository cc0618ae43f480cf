"""Photo bytes, served only to who may see the ticket (engine.visibility): an unguessable URL
is not the protection. The reporter's private link has its own photo URLs (web.reporter)."""

from __future__ import annotations

from flask import Response
from flask import abort

from engine.models import Attachment
from engine.models import Ticket
from engine.visibility import access
from web.auth import current_actor
from web.public import blp
from web.session import db
from web.uploads import media


@blp.get("/foto/<int:attachment_id>")
def photo(attachment_id: int) -> Response:
    return _serve(attachment_id, thumb=False)


@blp.get("/foto/<int:attachment_id>/kecil")
def photo_thumb(attachment_id: int) -> Response:
    return _serve(attachment_id, thumb=True)


def _serve(attachment_id: int, *, thumb: bool) -> Response:
    session = db()
    found = session.get(Attachment, attachment_id)
    if found is None:
        abort(404)
    ticket = session.get(Ticket, found.ticket_id)
    assert ticket is not None
    seen = access(ticket, actor=current_actor())
    if not seen.sees_photo(found.purpose, on_record=found.linked_at is not None):
        abort(404)
    return send_photo(found, thumb=thumb, public=not ticket.confidential)


def send_photo(found: Attachment, *, thumb: bool, public: bool) -> Response:
    """The stored bytes with their type; cacheable by anyone only for a public ticket's photo."""
    try:
        data = media().get(found.thumb_sha256 if thumb else found.sha256)
    except FileNotFoundError:
        abort(404)
    response = Response(data, mimetype="image/jpeg" if thumb else found.mime)
    response.headers["Cache-Control"] = (
        "public, max-age=86400, immutable" if public else "private, no-store"
    )
    response.headers["Content-Disposition"] = "inline"
    return response
