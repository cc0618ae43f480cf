"""The designer's pages: the deployed definitions and their versions, a bundle's files, and
deploying without JavaScript (upload, see the problems or the diff, confirm with a note)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_babel import gettext
from werkzeug.wrappers import Response

from engine import definition_catalog
from engine import definitions
from engine import designer
from engine.definition_catalog import VersionRow
from engine.definition_files import bundle_name
from engine.errors import InvalidInput
from engine.errors import NotFound
from engine.errors import TooLarge
from web.auth import require_actor
from web.definition_io import deploy as deploy_files
from web.definition_io import file_download
from web.definition_io import uploaded_files
from web.definition_io import zip_download
from web.designer import blp
from web.session import db

UPLOAD_FIELD = "berkas"
KEPT_NAME, KEPT_TEXT = "nama", "isi"  # the checked files, carried to the confirm step


@blp.get("")
def index() -> str:
    rows = definition_catalog.versions(db())
    by_key: dict[str, list[VersionRow]] = {}
    for row in rows:
        by_key.setdefault(row.key, []).append(row)
    return render_template(
        "designer/index.html",
        by_key=by_key,
        latest=definition_catalog.latest_bundle_id(db()),
    )


@blp.get("/versi/<int:bundle_id>")
def bundle(bundle_id: int) -> str:
    found = definition_catalog.bundle_files(db(), bundle_id)
    return render_template(
        "designer/bundle.html",
        bundle=found,
        latest=definition_catalog.latest_bundle_id(db()),
        sizes={name: len(text.encode()) for name, text in found.files.items()},
    )


@blp.get("/versi/<int:bundle_id>/berkas/<path:name>")
def file(bundle_id: int, name: str) -> str:
    found = definition_catalog.bundle_files(db(), bundle_id)
    if name not in found.files:
        raise NotFound(f"no file {name!r} in bundle {bundle_id}")
    return render_template("designer/file.html", bundle=found, name=name, text=found.files[name])


@blp.get("/versi/<int:bundle_id>/unduh/<path:name>")
def download(bundle_id: int, name: str) -> Response:
    return file_download(definition_catalog.bundle_files(db(), bundle_id), name)


@blp.get("/versi/<int:bundle_id>.zip")
def download_zip(bundle_id: int) -> Response:
    return zip_download(definition_catalog.bundle_files(db(), bundle_id))


@blp.get("/unggah")
def upload() -> str:
    return _upload_page()


@blp.post("/unggah")
def upload_check() -> tuple[str, int] | str:
    try:
        sent = uploaded_files(UPLOAD_FIELD)
        if not sent:
            raise InvalidInput("no files", fields={UPLOAD_FIELD: []})
        checked = designer.check_files(db(), sent)
    except InvalidInput as exc:
        return _refused(exc)
    return _upload_page(checked=checked, sent=_bundle_names(sent))


@blp.post("/unggah/terapkan")
def upload_deploy() -> Response | tuple[str, int] | str:
    names = request.form.getlist(KEPT_NAME)
    texts = request.form.getlist(KEPT_TEXT)
    sent = dict(zip(names, texts, strict=False))
    note = request.form.get("catatan", "")
    base = request.form.get("dasar", type=int)
    try:
        if not sent or len(names) != len(texts):
            raise InvalidInput("no files", fields={UPLOAD_FIELD: []})
        checked = designer.check_files(db(), sent)
        note_error = _note_error(note)
        stale = base != checked.base_bundle_id
        if not checked.ok or note_error or stale:
            page = _upload_page(
                checked=checked,
                sent=_bundle_names(sent),
                note=note,
                note_error=note_error,
                stale=stale,
            )
            return page, 409 if stale else 422
        result = deploy_files(sent, note, require_actor())
    except InvalidInput as exc:
        return _refused(exc)
    versions = ", ".join(f"{k} v{v}" for k, v in sorted(result.versions.items()))
    if result.created:
        flash(gettext("Definisi dipasang: %(v)s.", v=versions))
    else:
        flash(
            gettext(
                "Isinya sama dengan versi yang sudah ada (%(v)s): tidak ada versi baru.", v=versions
            )
        )
    return redirect(url_for("designer.bundle", bundle_id=result.bundle_id))


def _note_error(note: str) -> str | None:
    try:
        designer.clean_note(note)
    except InvalidInput:
        if not note.strip():
            return str(gettext("Tulis catatan: apa yang diubah dan mengapa."))
        return str(gettext("Paling banyak %(n)d karakter.", n=definitions.NOTE_LIMIT))
    return None


def _bundle_names(sent: Mapping[str, str]) -> dict[str, str]:
    return {bundle_name(name): text for name, text in sent.items()}


def _upload_page(**context: Any) -> str:
    return render_template(
        "designer/upload.html",
        latest=definition_catalog.latest_bundle_id(db()),
        field=UPLOAD_FIELD,
        **context,
    )


def _refused(exc: InvalidInput) -> tuple[str, int]:
    status = 413 if isinstance(exc, TooLarge) else 422
    problems = getattr(exc, "problems", [])
    return _upload_page(refusal=exc, problems=problems), status
