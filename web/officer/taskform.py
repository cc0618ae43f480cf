"""A task's form as posted by the page: values read by the schema's own field kinds, photos
checked and kept across a form shown again, the server's errors said in the page's language."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from typing import Any

from flask import request
from flask_babel import gettext

from engine import forms
from engine.attachments import StoredImage
from web import uploads

KEPT_SUFFIX = "__kept"


@dataclass
class Posted:
    """What the officer sent: the form data for the engine, and what to show again."""

    data: dict[str, Any] = field(default_factory=dict)
    typed: dict[str, str] = field(default_factory=dict)  # raw values, to fill the form again
    photos: dict[str, StoredImage] = field(default_factory=dict)  # field -> checked photo
    errors: dict[str, list[str]] = field(default_factory=dict)


def applies(form_field: forms.FormField, values: dict[str, str]) -> bool:
    """Whether a conditional field applies to what is chosen now."""
    return all(values.get(prop) in allowed for prop, allowed in form_field.shown_when.items())


def read(form: forms.Form) -> Posted:
    posted = Posted()
    posted.typed = {f.name: request.form.get(f.name, "") for f in form.fields}
    for f in form.fields:
        if not applies(f, posted.typed):
            continue  # typed under another decision: not sent
        raw = posted.typed[f.name].strip()
        if f.widget == "photo":
            received = uploads.receive(f.name, kept_field=f.name + KEPT_SUFFIX, limit=1)
            if received.errors:
                posted.errors[f.name] = received.errors
            if received.stored:
                posted.photos[f.name] = received.stored[0]
            continue
        if f.widget == "boolean":
            posted.data[f.name] = raw in ("y", "on", "true", "1")
            continue
        if not raw:
            continue
        if f.widget == "integer":
            try:
                posted.data[f.name] = int(raw)
            except ValueError:
                posted.errors[f.name] = [gettext("Tulis angka bulat.")]
            continue
        posted.data[f.name] = raw.upper() if f.widget == "ticket" else raw
    return posted


def messages(
    form: forms.Form, problems: list[forms.Problem], typed: dict[str, str]
) -> dict[str, list[str]]:
    """The server's findings, one sentence per field, in the page's language; a field that
    does not apply to what is chosen now is not blamed (its choice is)."""
    fields = {f.name: f for f in form.fields}
    found: dict[str, list[str]] = {}
    for p in problems:
        f = fields.get(p.field)
        if f is not None and not applies(f, typed):
            continue
        found.setdefault(p.field, []).append(_say(p, f))
    return found or {"_form": [str(gettext("Isian tidak dapat diterima."))]}


def _say(problem: forms.Problem, form_field: forms.FormField | None) -> str:
    kind, limit = problem.kind, problem.limit
    if kind == "required":
        if form_field is not None and form_field.widget == "photo":
            return str(gettext("Unggah fotonya."))
        if form_field is not None and form_field.widget == "choice":
            return str(gettext("Pilih salah satu."))
        return str(gettext("Wajib diisi."))
    if kind == "minLength":
        return str(gettext("Paling sedikit %(n)d karakter.", n=int(limit)))
    if kind == "maxLength":
        return str(gettext("Paling banyak %(n)d karakter.", n=int(limit)))
    if kind == "minimum":
        return str(gettext("Paling kecil %(n)s.", n=limit))
    if kind == "maximum":
        return str(gettext("Paling besar %(n)s.", n=limit))
    if kind in ("enum", "const"):
        return str(gettext("Pilih salah satu pilihan yang ada."))
    if kind == "pattern":
        return str(gettext("Bentuknya tidak sesuai."))
    if kind == "type":
        return str(gettext("Isian tidak sesuai jenisnya."))
    if kind == "unexpected":
        return str(gettext("Isian ini tidak dikenal."))
    return str(gettext("Isian tidak dapat diterima."))


def kept(posted: Posted) -> dict[str, tuple[str, StoredImage]]:
    """Photos to carry into the form shown again, as signed tokens."""
    return {name: (uploads.token(image), image) for name, image in posted.photos.items()}
