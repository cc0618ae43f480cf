"""Tickets: citizens and partner apps report and track."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from typing import Any

from flask import request
from flask import url_for
from flask.views import MethodView
from flask_smorest import Blueprint

from engine import commands
from engine import queries
from engine.identity import Actor
from web.api.schemas import TicketCreatedSchema
from web.api.schemas import TicketCreateSchema
from web.api.schemas import TicketPublicSchema
from web.app import db
from web.auth import current_actor

blp = Blueprint("tickets", __name__, description="Report and track complaints")


@blp.route("")
class Tickets(MethodView):
    @blp.arguments(TicketCreateSchema)
    @blp.response(201, TicketCreatedSchema)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Report a complaint; public, no token needed."""
        actor = current_actor() or Actor.public()
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
            reporter_name=None if body["anonymous"] else reporter.get("name"),
            reporter_contact=reporter.get("contact"),
            anonymous=body["anonymous"],
            confidential=body["confidential"],
        )
        session = db()
        result = commands.submit_ticket(session, data=data, actor=actor, now=datetime.now(UTC))
        session.commit()
        number = result.ticket.number
        return {
            "number": number,
            "status": result.ticket.status,
            "url": url_for("tickets.Ticket", number=number),
        }


@blp.route("/<string:number>")
class Ticket(MethodView):
    @blp.response(200, TicketPublicSchema)
    def get(self, number: str) -> dict[str, Any]:
        """A ticket's public view (404 for confidential tickets)."""
        lang = request.args.get("lang") or (
            request.accept_languages.best_match(["id", "en"]) or "id"
        )
        return queries.public_ticket(db(), number, lang)
