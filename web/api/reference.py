"""What a partner app needs to build its screens: categories, kecamatan and statuses, with
labels in Indonesian and English. Public; each answer has an ETag (304 for If-None-Match)."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema
from marshmallow import fields

from engine import reference
from engine.settings import Settings
from web.api.http import CONDITIONAL_DOC
from web.api.http import conditional
from web.api.http import request_lang
from web.session import db

blp = Blueprint("reference", __name__, description="Categories, kecamatan and statuses")


class LabelsSchema(Schema):
    id = fields.String(required=True, metadata={"description": "Bahasa Indonesia"})
    en = fields.String(required=True, metadata={"description": "English"})


class CategorySchema(Schema):
    code = fields.String(required=True, metadata={"description": "send it as `category`"})
    name = fields.String(required=True, metadata={"description": "in ?lang= (id or en)"})
    labels = fields.Nested(LabelsSchema, required=True)
    infrastructure = fields.Boolean(required=True)


class KecamatanSchema(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True, metadata={"description": "send it as `location.kecamatan`"})


class StatusSchema(Schema):
    code = fields.String(required=True, metadata={"description": "a ticket's `status`"})
    label = fields.String(required=True, metadata={"description": "in ?lang= (id or en)"})
    labels = fields.Nested(LabelsSchema, required=True)
    colour = fields.String(allow_none=True, metadata={"description": "red | yellow | green"})
    phase = fields.String(allow_none=True, metadata={"description": "the public phase"})
    open = fields.Boolean(required=True, metadata={"description": "false once it is closed"})


def _pick(labels: dict[str, str]) -> str:
    return labels["en"] if request_lang() == "en" else labels["id"]


@blp.route("/categories")
class Categories(MethodView):
    @blp.doc(**CONDITIONAL_DOC)
    @conditional
    @blp.response(200, CategorySchema(many=True))
    def get(self) -> list[dict[str, Any]]:
        """The categories a report may name, with their names in both languages."""
        answer = []
        for c in reference.category_labels(db()):
            labels = {"id": c.name_id, "en": c.name_en}
            answer.append(
                {
                    "code": c.code,
                    "name": _pick(labels),
                    "labels": labels,
                    "infrastructure": c.infrastructure,
                }
            )
        return answer


@blp.route("/kecamatan")
class KecamatanList(MethodView):
    @blp.doc(**CONDITIONAL_DOC)
    @conditional
    @blp.response(200, KecamatanSchema(many=True))
    def get(self) -> list[dict[str, Any]]:
        """The city's kecamatan (districts), by name; names are the same in both languages."""
        return [{"code": code, "name": name} for code, name in reference.kecamatan_rows(db())]


@blp.route("/statuses")
class Statuses(MethodView):
    @blp.doc(**CONDITIONAL_DOC)
    @conditional
    @blp.response(200, StatusSchema(many=True))
    def get(self) -> list[dict[str, Any]]:
        """Every status of the running lifecycle (workflows/statuses.json) with its labels,
        colour and phase, in the lifecycle's order."""
        settings: Settings = current_app.config["LAKSA_SETTINGS"]
        answer = []
        for s in reference.status_labels(db(), settings.process_key):
            labels = {"id": s.label_id, "en": s.label_en}
            answer.append(
                {
                    "code": s.code,
                    "label": _pick(labels),
                    "labels": labels,
                    "colour": s.colour,
                    "phase": s.phase,
                    "open": s.open,
                }
            )
        return answer
