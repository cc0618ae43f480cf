"""Process definitions for designers' tools: the deployed versions, their files, and deploying
BPMN, DMN, forms and statuses as multipart uploads (role designer or admin)."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask import request
from flask import url_for
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema
from marshmallow import fields

from engine import definition_catalog
from engine.definition_files import MAX_BUNDLE_BYTES
from engine.definition_files import MAX_FILE_BYTES
from engine.definition_files import NAME_RULE
from engine.definitions import NOTE_LIMIT
from engine.designer import require_designer
from engine.errors import InvalidInput
from engine.inputs import at_least
from web.api.schemas import LOCATION_DOC
from web.auth import authenticated
from web.auth import require_actor
from web.definition_io import UnsupportedMediaType
from web.definition_io import deploy
from web.definition_io import file_download
from web.definition_io import refused
from web.definition_io import uploaded_files
from web.session import db

blp = Blueprint("definitions", __name__, description="Process definitions: versions, files, deploy")
FILES_FIELD = "files"


class DefinitionProblemSchema(Schema):
    file = fields.String(allow_none=True, metadata={"description": "e.g. complaint.bpmn"})
    line = fields.Integer(allow_none=True)
    element_id = fields.String(allow_none=True)
    message = fields.String(required=True)


class DefinitionErrorSchema(Schema):
    code = fields.String(required=True, metadata={"description": "e.g. definition_refused"})
    message = fields.String(required=True)
    fields_ = fields.Dict(
        data_key="fields",
        keys=fields.String(),
        values=fields.List(fields.String()),
        metadata={"description": "per file (or field): what is wrong"},
    )


class DefinitionRefusedSchema(Schema):
    error = fields.Nested(DefinitionErrorSchema, required=True)
    problems = fields.List(
        fields.Nested(DefinitionProblemSchema),
        required=True,
        metadata={"description": "every problem found (empty for a refusal of the request)"},
    )


class DefinitionVersionSchema(Schema):
    definition_id = fields.Integer(required=True)
    key = fields.String(required=True, metadata={"description": "the process id"})
    version = fields.Integer(required=True)
    bundle_id = fields.Integer(required=True, metadata={"description": "the files it came with"})
    content_hash = fields.String(required=True, metadata={"description": "SHA-256 of the files"})
    deployed_at = fields.DateTime(required=True)
    deployed_by = fields.String(required=True, metadata={"description": "e.g. user:desainer"})
    note = fields.String(allow_none=True)
    open_tickets = fields.Integer(required=True, metadata={"description": "still running"})
    all_tickets = fields.Integer(required=True)
    files_url = fields.String(required=True)


class DefinitionDeployedSchema(Schema):
    bundle_id = fields.Integer(required=True)
    created = fields.Boolean(
        required=True, metadata={"description": "false: identical content, no new version"}
    )
    versions = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    files_url = fields.String(required=True)


class DefinitionFileSchema(Schema):
    name = fields.String(required=True, metadata={"description": "e.g. forms/verify.schema.json"})
    size = fields.Integer(required=True, metadata={"description": "bytes (UTF-8)"})
    url = fields.String(required=True)


class DefinitionBundleSchema(Schema):
    bundle_id = fields.Integer(required=True)
    content_hash = fields.String(required=True)
    deployed_at = fields.DateTime(required=True)
    deployed_by = fields.String(required=True)
    note = fields.String(allow_none=True)
    versions = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    files = fields.List(fields.Nested(DefinitionFileSchema), required=True)


_DEPLOY_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": [FILES_FIELD, "note"],
                "properties": {
                    FILES_FIELD: {
                        "type": "array",
                        "minItems": 1,
                        "items": {"type": "string", "format": "binary"},
                        "description": (
                            f"{NAME_RULE}, each under its own file name (a form may be sent "
                            f"as <name>.schema.json); UTF-8, {MAX_FILE_BYTES} bytes each, "
                            f"{MAX_BUNDLE_BYTES} together. Files not sent are kept from the "
                            "latest deployed bundle."
                        ),
                    },
                    "note": {
                        "type": "string",
                        "maxLength": NOTE_LIMIT,
                        "pattern": at_least(1),
                        "description": "why: shown beside the version",
                    },
                },
            }
        }
    },
}


def _designer() -> None:
    require_designer(require_actor())


def _files_url(bundle_id: int) -> str:
    return url_for("definitions.BundleFiles", bundle_id=bundle_id)


@blp.route("")
class Definitions(MethodView):
    multipart = True  # the files (web.errors lets multipart through to this view only)

    @authenticated
    @blp.response(200, DefinitionVersionSchema(many=True))
    @blp.doc(security=[{"bearer": []}])
    def get(self) -> list[dict[str, Any]]:
        """Every deployed version, by process, newest first, with its ticket counts."""
        _designer()
        return [
            {**vars(row), "files_url": _files_url(row.bundle_id)}
            for row in definition_catalog.versions(db())
        ]

    @authenticated
    @blp.doc(requestBody=_DEPLOY_BODY, security=[{"bearer": []}])
    @blp.response(
        201,
        DefinitionDeployedSchema,
        description="deployed (200 when the content exists)",
        headers=LOCATION_DOC,
    )
    @blp.alt_response(
        422,
        schema=DefinitionRefusedSchema,
        description="refused: every problem (file, line, element)",
    )
    def post(self) -> Response | tuple[Response, int] | tuple[dict[str, Any], int, Any]:
        """Check and deploy definition files with a note, as the caller.

        Running tickets stay on their version; new tickets take this one at once. Identical
        content is not a new version (200, ``created: false``).
        """
        actor = require_actor()
        require_designer(actor)
        try:
            if request.mimetype != "multipart/form-data":
                raise UnsupportedMediaType(
                    "send the files as multipart/form-data",
                    fields={FILES_FIELD: [NAME_RULE]},
                )
            files = uploaded_files(FILES_FIELD)
            if not files:
                raise InvalidInput(
                    "no files sent", fields={FILES_FIELD: [f"one or more: {NAME_RULE}"]}
                )
            result = deploy(files, request.form.get("note"), actor)
        except InvalidInput as exc:
            return refused(exc)
        url = _files_url(result.bundle_id)
        body = {
            "bundle_id": result.bundle_id,
            "created": result.created,
            "versions": dict(result.versions),
            "files_url": url,
        }
        return body, 201 if result.created else 200, {"Location": url}


@blp.route("/<int:bundle_id>/files")
class BundleFiles(MethodView):
    @authenticated
    @blp.response(200, DefinitionBundleSchema)
    @blp.doc(security=[{"bearer": []}])
    def get(self, bundle_id: int) -> dict[str, Any]:
        """A deployed bundle: who, when, why, its versions and its files."""
        _designer()
        found = definition_catalog.bundle_files(db(), bundle_id)
        return {
            "bundle_id": found.id,
            "content_hash": found.content_hash,
            "deployed_at": found.deployed_at,
            "deployed_by": found.deployed_by,
            "note": found.note,
            "versions": dict(found.versions),
            "files": [
                {
                    "name": name,
                    "size": len(found.files[name].encode()),
                    "url": url_for("definitions.BundleFile", bundle_id=found.id, name=name),
                }
                for name in sorted(found.files)
            ],
        }


@blp.route("/<int:bundle_id>/files/<path:name>")
class BundleFile(MethodView):
    @authenticated
    @blp.doc(
        security=[{"bearer": []}],
        responses={
            "200": {
                "description": "the file as deployed (a download)",
                "content": {
                    "application/xml": {"schema": {"type": "string"}},
                    "application/json": {"schema": {"type": "object"}},
                },
            }
        },
    )
    def get(self, bundle_id: int, name: str) -> Response:
        """One file of a deployed bundle, exactly as deployed."""
        _designer()
        return file_download(definition_catalog.bundle_files(db(), bundle_id), name)
