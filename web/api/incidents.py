"""Incidents at the verifier desk: what the background (the timer sweep) could not do."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC
from datetime import datetime
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE
from marshmallow import Schema
from marshmallow import fields
from marshmallow import validate

from engine import incidents
from engine import queries
from web.auth import authenticated
from web.auth import require_actor
from web.session import db

blp = Blueprint("incidents", __name__, description="Incidents for the verifier desk")


class IncidentQuerySchema(Schema):
    class Meta:
        unknown = RAISE

    include_resolved = fields.Boolean(load_default=False)
    limit = fields.Integer(load_default=500, validate=validate.Range(min=1, max=5000))


class IncidentSchema(Schema):
    id = fields.Integer(required=True)
    ticket = fields.String(allow_none=True, metadata={"description": "ticket number"})
    kind = fields.String(required=True, metadata={"description": "e.g. timer_failed"})
    element_id = fields.String(allow_none=True)
    message = fields.String(required=True)
    at = fields.DateTime(required=True)
    resolved_at = fields.DateTime(allow_none=True)
    resolved_by = fields.String(allow_none=True)


class ResolveSchema(Schema):
    class Meta:
        unknown = RAISE

    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))


class ResolvedSchema(Schema):
    incident_id = fields.Integer(required=True)
    ticket = fields.String(allow_none=True)
    resolved_at = fields.DateTime(required=True)
    resolved_by = fields.String(required=True)
    also_resolved = fields.List(
        fields.Integer(),
        required=True,
        metadata={"description": "repeats of the same failure, resolved with it"},
    )
    released_timers = fields.Integer(
        required=True, metadata={"description": "timers released for the next sweep"}
    )


@blp.route("")
class Incidents(MethodView):
    @authenticated
    @blp.arguments(IncidentQuerySchema, location="query")
    @blp.response(200, IncidentSchema(many=True))
    @blp.doc(security=[{"bearer": []}])
    def get(self, args: dict[str, Any]) -> list[dict[str, Any]]:
        """Unresolved incidents, oldest first (verifier desk and admins)."""
        incidents.require_handler(require_actor())
        rows = queries.incidents(
            db(), include_resolved=args["include_resolved"], limit=args["limit"]
        )
        return [asdict(r) for r in rows]


@blp.route("/<int:incident_id>/resolve")
class ResolveIncident(MethodView):
    @authenticated
    @blp.arguments(ResolveSchema)
    @blp.response(200, ResolvedSchema)
    @blp.doc(security=[{"bearer": []}])
    def post(self, body: dict[str, Any], incident_id: int) -> dict[str, Any]:
        """Resolve an incident; a timer incident's timers fire again at the next sweep."""
        actor = require_actor()
        session = db()
        result = incidents.resolve_incident(
            session, incident_id=incident_id, actor=actor, now=datetime.now(UTC), note=body["note"]
        )
        session.commit()
        return asdict(result)
