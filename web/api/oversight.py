"""Oversight: the supervisor's overdue list and the city's statistics, from projections only.

Supervisors, auditors and admins see every OPD; an OPD head sees the OPDs of its
``<opd>_head`` groups. Nothing here loads a workflow.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC
from datetime import datetime
from datetime import time
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE
from marshmallow import Schema
from marshmallow import fields
from marshmallow import validate

from engine import queries
from web.auth import authenticated
from web.auth import require_actor
from web.session import db

blp = Blueprint("oversight", __name__, description="Overdue tickets and statistics for supervisors")


class OverdueQuerySchema(Schema):
    class Meta:
        unknown = RAISE

    opd = fields.String(validate=validate.Length(min=1, max=40), metadata={"description": "OPD"})
    level = fields.Integer(
        validate=validate.Range(min=0, max=99),
        metadata={"description": "only tickets at this escalation level or higher"},
    )
    lang = fields.String(load_default="id", validate=validate.OneOf(["id", "en"]))
    limit = fields.Integer(load_default=500, validate=validate.Range(min=1, max=5000))


class OverdueTicketSchema(Schema):
    number = fields.String(required=True)
    category = fields.String(required=True)
    opd = fields.String(allow_none=True)
    status = fields.String(required=True)
    status_label = fields.String(required=True)
    due_at = fields.DateTime(allow_none=True)
    escalation_level = fields.Integer(required=True)
    overdue_by = fields.Integer(
        allow_none=True,
        metadata={"description": "seconds past due_at; 0 if escalated but not late now"},
    )


class StatsQuerySchema(Schema):
    class Meta:
        unknown = RAISE

    opd = fields.String(validate=validate.Length(min=1, max=40))
    since = fields.Date(metadata={"description": "received on or after this day (UTC)"})
    until = fields.Date(metadata={"description": "received before this day (UTC)"})


class CountsSchema(Schema):
    handled = fields.Integer(required=True, metadata={"description": "tickets received"})
    closed = fields.Integer(required=True)
    resolved = fields.Integer(required=True, metadata={"description": "closed as fixed"})
    other_closures = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        required=True,
        metadata={"description": "closed otherwise, by outcome (rejected, duplicate, ...)"},
    )
    in_process = fields.Integer(required=True, metadata={"description": "open, not on hold"})
    waiting_follow_up = fields.Integer(required=True)
    resolution_rate = fields.Float(
        allow_none=True, metadata={"description": "resolved / closed; null if none closed"}
    )


class OpdCountsSchema(CountsSchema):
    opd = fields.String(allow_none=True, metadata={"description": "null: not routed"})


class StatsSchema(Schema):
    totals = fields.Nested(CountsSchema, required=True)
    by_opd = fields.List(fields.Nested(OpdCountsSchema), required=True)


@blp.route("/overdue")
class Overdue(MethodView):
    @authenticated
    @blp.arguments(OverdueQuerySchema, location="query")
    @blp.response(200, OverdueTicketSchema(many=True))
    @blp.doc(security=[{"bearer": []}])
    def get(self, args: dict[str, Any]) -> list[dict[str, Any]]:
        """Open tickets that escalated or are past due, most overdue first."""
        scope = queries.oversight_scope(require_actor())
        rows = queries.overdue(
            db(),
            now=datetime.now(UTC),
            scope=scope,
            opd=args.get("opd"),
            level=args.get("level"),
            lang=args["lang"],
            limit=args["limit"],
        )
        return [asdict(r) for r in rows]


@blp.route("/stats")
class Stats(MethodView):
    @authenticated
    @blp.arguments(StatsQuerySchema, location="query")
    @blp.response(200, StatsSchema)
    @blp.doc(security=[{"bearer": []}])
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Handled, resolved (fixed) apart from other closures, in process, on hold; per OPD."""
        scope = queries.oversight_scope(require_actor())
        result = queries.stats(
            db(),
            scope=scope,
            opd=args.get("opd"),
            since=_start_of(args.get("since")),
            until=_start_of(args.get("until")),
        )
        return {
            "totals": _counts(result.totals),
            "by_opd": [{"opd": code, **_counts(c)} for code, c in result.by_opd.items()],
        }


def _counts(counts: queries.Counts) -> dict[str, Any]:
    return {**asdict(counts), "resolution_rate": counts.resolution_rate}


def _start_of(day: Any) -> datetime | None:
    return None if day is None else datetime.combine(day, time(), tzinfo=UTC)
