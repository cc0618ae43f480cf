"""Definition files in and out of HTTP, for the designer's pages and the API alike: a JSON
body or multipart uploads read within their limits, a refusal answered with every problem,
a deployed file or a whole bundle sent as a download."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Mapping
from datetime import UTC
from datetime import datetime
from typing import Any

from flask import Response
from flask import jsonify
from flask import request
from sqlalchemy.exc import IntegrityError

from engine import designer
from engine.definition_catalog import BundleFiles
from engine.definition_files import MAX_TOTAL_BYTES
from engine.definitions import DeployResult
from engine.errors import Conflict
from engine.errors import InvalidInput
from engine.errors import NotFound
from engine.errors import TooLarge
from engine.identity import Actor
from web.session import db

# A bundle's files as JSON text (XML's quotes escaped) or as multipart, and the fields around.
MAX_BODY_BYTES = 2 * MAX_TOTAL_BYTES
_TYPES = {".bpmn": "application/xml", ".dmn": "application/xml", ".json": "application/json"}


class UnsupportedMediaType(InvalidInput):
    code = "unsupported_media_type"


def limit_body() -> None:
    """Refuse a body over MAX_BODY_BYTES before reading it (413)."""
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise TooLarge(f"the request body is larger than the limit of {MAX_BODY_BYTES} bytes")
    request.max_content_length = MAX_BODY_BYTES  # a body without a length stops there too


def json_object() -> dict[str, Any]:
    """The request's JSON object (415 if not JSON, 400 if not an object)."""
    limit_body()
    if not request.is_json:
        raise UnsupportedMediaType("send the body as application/json")
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise InvalidInput(
            "the request body is not a JSON object", fields={"_body": ["a JSON object"]}
        )
    return data


def files_of(data: Mapping[str, Any]) -> dict[str, str]:
    """``data["files"]``: an object of file name to file text."""
    files = data.get("files")
    if not isinstance(files, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in files.items()
    ):
        raise InvalidInput(
            "'files' must be an object of file name to file text",
            fields={"files": ['an object of file name to text, e.g. {"complaint.bpmn": "..."}']},
        )
    return files


def uploaded_files(field: str) -> dict[str, str]:
    """The files of a multipart ``field`` by their names, as UTF-8 text."""
    limit_body()
    found: dict[str, str] = {}
    for upload in request.files.getlist(field):
        if not upload or not upload.filename:
            continue
        data = upload.stream.read(MAX_TOTAL_BYTES + 1)
        if len(data) > MAX_TOTAL_BYTES:
            raise TooLarge(f"file {upload.filename!r} is too large")
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise InvalidInput(
                f"file {upload.filename!r} is not UTF-8 text",
                fields={upload.filename: ["UTF-8 text (BPMN, DMN or JSON)"]},
            ) from None
        if upload.filename in found:
            raise InvalidInput(
                f"file {upload.filename!r} is sent twice", fields={upload.filename: ["sent twice"]}
            )
        found[upload.filename] = text
    return found


def refused(exc: InvalidInput) -> tuple[Response, int]:
    """422 (413, 415) with the error body and every problem of the definition."""
    status = (
        413 if isinstance(exc, TooLarge) else 415 if isinstance(exc, UnsupportedMediaType) else 422
    )
    error: dict[str, Any] = {"code": exc.code, "message": exc.message}
    if exc.fields:
        error["fields"] = exc.fields
    problems = [p.as_json() for p in getattr(exc, "problems", [])]
    return jsonify({"error": error, "problems": problems}), status


def deploy(files: Mapping[str, str], note: Any, actor: Actor) -> DeployResult:
    """Deploy in one transaction; a deploy racing another of the same process is a 409."""
    session = db()
    try:
        result = designer.deploy_files(
            session, files, note=note, actor=actor, now=datetime.now(UTC)
        )
        session.commit()
    except IntegrityError:
        session.rollback()
        raise Conflict(
            "another deploy was stored at the same time; check and deploy again"
        ) from None
    return result


def file_download(bundle: BundleFiles, name: str, *, filename: str | None = None) -> Response:
    """One file of a bundle as a download (never rendered by the browser)."""
    text = bundle.files.get(name)
    if text is None:
        raise NotFound(f"no file {name!r} in bundle {bundle.id}")
    suffix = "." + name.rsplit(".", 1)[-1]
    response = Response(text, mimetype=_TYPES.get(suffix, "text/plain"))
    return _attachment(response, filename or name.rsplit("/", 1)[-1])


def zip_download(bundle: BundleFiles) -> Response:
    """The whole bundle as a zip of the workflows folder it came from."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(bundle.files):
            archive.writestr(name, bundle.files[name])
    response = Response(buffer.getvalue(), mimetype="application/zip")
    return _attachment(response, f"definisi-{bundle.id}-{bundle.content_hash[:12]}.zip")


def _attachment(response: Response, filename: str) -> Response:
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", filename)
    response.headers["Content-Disposition"] = f'attachment; filename="{safe}"'
    # Deployed XML is the designers' own, but a browser must never run what it holds.
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
