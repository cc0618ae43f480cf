"""The reporter's side of a ticket: reply to a question, confirm or dispute a resolution.

Each call correlates a BPMN message of workflows/complaint.bpmn (``reporter_reply``,
``reporter_confirms``, ``reporter_disputes``) with the ticket's waiting process; a ticket not
waiting for that message answers 409.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC
from datetime import datetime
from typing import Any
from typing import TypeVar
from typing import cast

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE
from marshmallow import Schema
from marshmallow import fields
from marshmallow import validate

from engine import commands
from engine import partners
from engine import reporter
from engine.errors import Forbidden
from engine.errors import NotFound
from engine.identity import VIA_PRIVATE_LINK
from engine.identity import Actor
from engine.models import Ticket
from engine.ticket_view import find
from web.api.schemas import Flag
from web.api.schemas import Text
from web.api.tickets import SECRET_HEADER
from web.auth import require_actor
from web.auth import require_scope
from web.session import db

F = TypeVar("F", bound=Callable[..., Any])
MESSAGES = ("reporter_reply", "reporter_confirms", "reporter_disputes")
RELAY_GROUPS = frozenset({"verifier"})  # the desk may relay a reply given by phone or SMS
RELAY_ROLES = frozenset({"admin"})

blp = Blueprint("replies", __name__, description="The reporter's replies, confirmations, disputes")


class MessageDataSchema(Schema):
    """What the reporter's pages send: a reply's text, a dispute's reason (as bounded here)."""

    class Meta:
        unknown = RAISE

    text = Text(
        validate=validate.Length(min=2, max=4000),
        metadata={"description": "the reply (reporter_reply)", "example": "Depan masjid"},
    )
    reason = Text(
        validate=validate.Length(min=3, max=4000),
        metadata={"description": "why it is not fixed (reporter_disputes)"},
    )
    confirmed = Flag(metadata={"description": "reporter_confirms"})


class MessageSchema(Schema):
    class Meta:
        unknown = RAISE

    message = fields.String(required=True, validate=validate.OneOf(MESSAGES))
    data = fields.Nested(
        MessageDataSchema,
        load_default=dict,
        metadata={"description": "the payload, stored in the process"},
    )


class MessageDeliveredSchema(Schema):
    ticket = fields.String()
    status = fields.String()
    version = fields.Integer()


def reporter_or_authenticated(view: F) -> F:
    """The reporter's secret, or who is calling, before the body is read (401, not 422)."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        _reporter_or_actor()
        return view(*args, **kwargs)

    wrapper.authenticate = _reporter_or_actor  # type: ignore[attr-defined]  # (web.errors)
    return cast(F, wrapper)


def _reporter_or_actor() -> None:
    if request.headers.get(SECRET_HEADER) is None:
        require_actor()


@blp.route("/<string:number>/messages")
class TicketMessages(MethodView):
    @reporter_or_authenticated
    @blp.arguments(MessageSchema)
    @blp.response(200, MessageDeliveredSchema)
    @blp.doc(
        security=[{"bearer": []}, {}],
        parameters=[
            {
                "in": "header",
                "name": SECRET_HEADER,
                "required": False,
                "schema": {"type": "string"},
                "description": "the reporter's secret (instead of a token)",
            }
        ],
    )
    def post(self, body: dict[str, Any], number: str) -> dict[str, Any]:
        """Send the reporter's reply, confirmation or dispute to the ticket's process.

        Allowed for the reporter: the holder of the reporter's secret (``X-Reporter-Secret``,
        no account needed) or the account that filed the ticket; and for the verifier desk
        relaying what a reporter said by phone or SMS.
        """
        session = db()
        secret = request.headers.get(SECRET_HEADER)
        if secret is not None:
            ticket = reporter.ticket_for_reporter(session, number, secret)
            actor = Actor(name="reporter:secret", role="citizen", via=VIA_PRIVATE_LINK)
        else:
            actor = require_actor()
            require_scope(partners.FOLLOW)
            ticket = find(session, number)
            if not _may_speak_for_reporter(actor, ticket):
                if ticket.confidential:
                    raise NotFound(f"no ticket {number}")
                raise Forbidden(
                    "only the reporter or the verifier desk may answer for the reporter"
                )
        result = commands.correlate_message(
            session,
            ticket_number=ticket.number,
            message=body["message"],
            payload=body["data"],
            actor=actor,
            now=datetime.now(UTC),
        )
        session.commit()
        return {
            "ticket": result.ticket.number,
            "status": result.ticket.status,
            "version": result.instance.version,
        }


def _may_speak_for_reporter(actor: Actor, ticket: Ticket) -> bool:
    if ticket.reporter_user_id is not None and actor.user_id == ticket.reporter_user_id:
        return True
    if actor.partner_id is not None:  # a partner key answers for its own tickets' reporters
        return ticket.partner_id == actor.partner_id
    return bool(actor.groups & RELAY_GROUPS) or actor.role in RELAY_ROLES
