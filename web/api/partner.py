"""A partner system's own view: who its key is, its tickets (filters, cursor pages), one ticket
by the partner's ``external_id``. For partner keys only (``Authorization: Bearer lp_...``)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC
from typing import Any

from flask import url_for
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE
from marshmallow import Schema
from marshmallow import fields
from marshmallow import validate

from engine import partner_tickets
from engine import partners
from engine.errors import Forbidden
from engine.identity import Actor
from engine.models import Partner
from web.auth import authenticated
from web.auth import require_actor
from web.auth import require_scope
from web.session import db

blp = Blueprint("partner", __name__, description="A partner system's own tickets")


class PartnerSchema(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    scopes = fields.List(fields.String(), required=True)


class PartnerTicketsQuerySchema(Schema):
    class Meta:
        unknown = RAISE

    status = fields.String(validate=validate.Length(min=1, max=40))
    external_id = fields.String(validate=validate.Length(min=1, max=100))
    since = fields.AwareDateTime(
        default_timezone=UTC,
        metadata={"description": "only tickets changed at or after this time (ISO 8601)"},
    )
    cursor = fields.String(
        validate=validate.Length(max=80), metadata={"description": "next_cursor of a page"}
    )
    limit = fields.Integer(
        load_default=50, validate=validate.Range(min=1, max=partner_tickets.MAX_LIMIT)
    )


class PartnerTicketSchema(Schema):
    number = fields.String(required=True)
    external_id = fields.String(allow_none=True)
    kind = fields.String(required=True)
    category = fields.String(required=True)
    title = fields.String(required=True)
    status = fields.String(required=True)
    opd = fields.String(allow_none=True)
    due_at = fields.DateTime(allow_none=True)
    escalation_level = fields.Integer(required=True)
    outcome = fields.String(allow_none=True)
    confidential = fields.Boolean(required=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)
    closed_at = fields.DateTime(allow_none=True)
    url = fields.String(
        required=True, metadata={"description": "the ticket as its reporter sees it"}
    )


class PartnerTicketPageSchema(Schema):
    tickets = fields.List(fields.Nested(PartnerTicketSchema), required=True)
    next_cursor = fields.String(
        allow_none=True, metadata={"description": "give it as cursor for the next page"}
    )


def _partner_actor(scope: str | None = None) -> Actor:
    """The request's partner actor, holding ``scope``; 401 without a key, 403 for users."""
    actor = require_actor()
    if actor.partner_id is None:
        raise Forbidden("for partner keys only (Authorization: Bearer lp_...)")
    if scope is not None:
        require_scope(scope)
    return actor


def _item(ticket: partner_tickets.PartnerTicket) -> dict[str, Any]:
    return {**asdict(ticket), "url": url_for("tickets.Ticket", number=ticket.number)}


@blp.route("")
class Me(MethodView):
    @blp.response(200, PartnerSchema)
    def get(self) -> dict[str, Any]:
        """The partner the key belongs to and the key's scopes (any scope)."""
        actor = _partner_actor()
        partner = db().get(Partner, actor.partner_id)
        assert partner is not None  # the key was just checked against it
        return {
            "code": partner.code,
            "name": partner.name,
            "scopes": [s for s in partners.SCOPES if s in actor.scopes],
        }


@blp.route("/tickets")
class Tickets(MethodView):
    @authenticated
    @blp.arguments(PartnerTicketsQuerySchema, location="query")
    @blp.response(200, PartnerTicketPageSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """The partner's own tickets, least recently changed first; ``next_cursor`` pages on
        (needs the ``read`` scope). Keep the last ``updated_at`` as ``since`` to poll."""
        actor = _partner_actor(partners.READ)
        assert actor.partner_id is not None
        found, more = partner_tickets.list_tickets(
            db(),
            partner_id=actor.partner_id,
            status=args.get("status"),
            external_id=args.get("external_id"),
            since=args.get("since"),
            cursor=args.get("cursor"),
            limit=args["limit"],
        )
        return {"tickets": [_item(t) for t in found], "next_cursor": more}


@blp.route("/tickets/<string:external_id>")
class TicketByExternalId(MethodView):
    @blp.response(200, PartnerTicketSchema)
    def get(self, external_id: str) -> dict[str, Any]:
        """The partner's ticket with this ``external_id`` (needs ``read``); 404 if none."""
        actor = _partner_actor(partners.READ)
        assert actor.partner_id is not None
        return _item(
            partner_tickets.by_external_id(
                db(), partner_id=actor.partner_id, external_id=external_id
            )
        )
