"""The modeler's JSON endpoints: the latest bundle, check (problems and diff), deploy, and a
form schema previewed by the code of the officers' task page.

Session-authenticated, CSRF token in the ``X-CSRFToken`` header. A refusal is 422 (413 too
large, 415 not JSON) with ``{"error": {"code", "message", "fields"}, "problems": [...]}``.
"""

from __future__ import annotations

from flask import Response
from flask import jsonify
from flask import render_template

from engine import definition_catalog
from engine import designer
from engine.errors import Conflict
from engine.errors import InvalidInput
from engine.errors import NotFound
from web import i18n
from web.auth import require_actor
from web.definition_io import deploy as deploy_files
from web.definition_io import files_of
from web.definition_io import json_object
from web.definition_io import refused
from web.designer import blp
from web.officer import taskform
from web.session import db

Answer = Response | tuple[Response, int]


@blp.get("/api/bundle/latest")
def latest_bundle() -> Response:
    """The latest deployed bundle: {"bundle_id", "files": {name: text}}."""
    bundle = definition_catalog.latest_files(db())
    if bundle is None:
        raise NotFound("no definition is deployed yet")
    return jsonify({"bundle_id": bundle.id, "files": dict(bundle.files)})


@blp.post("/api/check")
def check() -> Answer:
    """{"files"} -> {"ok", "problems", "diff", "base_bundle_id"}; deploys nothing."""
    try:
        checked = designer.check_files(db(), files_of(json_object()))
    except InvalidInput as exc:
        return refused(exc)
    return jsonify({**checked.as_json(), "base_bundle_id": checked.base_bundle_id})


@blp.post("/api/deploy")
def deploy() -> Answer:
    """{"files", "note", "base_bundle_id"?} -> 201 {"bundle_id", "versions", "created"}.

    With ``base_bundle_id`` (the bundle the designer's diff was made against), a bundle
    deployed by someone else in between is a 409: check again first.
    """
    actor = require_actor()
    try:
        data = json_object()
        files = files_of(data)
        base = data.get("base_bundle_id")
        if base is not None and (isinstance(base, bool) or not isinstance(base, int)):
            raise InvalidInput("'base_bundle_id' must be an integer", fields={"base_bundle_id": []})
        if base is not None and base != definition_catalog.latest_bundle_id(db()):
            raise Conflict("another version was deployed since this diff was made; check again")
        result = deploy_files(files, data.get("note"), actor)
    except InvalidInput as exc:
        return refused(exc)
    body = {
        "bundle_id": result.bundle_id,
        "versions": dict(result.versions),
        "created": result.created,
    }
    return jsonify(body), 201


@blp.post("/api/preview-form")
def preview_form() -> Answer:
    """{"schema"} -> {"html"}: the form as the officers' task page renders it."""
    try:
        data = json_object()
        form = designer.preview_form(data.get("schema"), lang=i18n.current())
    except InvalidInput as exc:
        return refused(exc)
    html = render_template("designer/_preview.html", form=form, posted=taskform.Posted(), kept={})
    return jsonify({"html": html})
