"""Photos sent with a form: checked and stored at once, kept across a form shown again.

A photo that passed ``engine.media`` is in the media store; the form shown again (a mistake in
another field, the "already reported nearby?" step) carries it as a signed token, so a resident
never uploads the same photo twice and nobody can slip in a file they did not upload.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from dataclasses import dataclass

from flask import current_app
from flask import request
from flask_babel import gettext
from itsdangerous import BadSignature
from itsdangerous import URLSafeSerializer

from engine import attachments
from engine.attachments import StoredImage
from engine.media import MAX_BYTES
from engine.media import MediaStore
from engine.media import PhotoRefused
from engine.media import PhotoTooLarge
from engine.media import process_image

_SALT = "laksa-kept-upload"


@dataclass(frozen=True)
class Uploads:
    stored: list[StoredImage]
    errors: list[str]  # one sentence per refused file, in the visitor's language


def media() -> MediaStore:
    store: MediaStore = current_app.extensions["laksa_media"]
    return store


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=_SALT)


def token(image: StoredImage) -> str:
    return _serializer().dumps(asdict(image))


def from_token(value: str) -> StoredImage | None:
    try:
        data = _serializer().loads(value)
        return StoredImage(**data)
    except (BadSignature, TypeError, ValueError):
        return None


def receive(field: str, *, kept_field: str | None = None, limit: int) -> Uploads:
    """The photos of ``field`` (and those kept from before), checked and stored."""
    stored: list[StoredImage] = []
    if kept_field:
        for value in request.form.getlist(kept_field):
            image = from_token(value)
            if image is not None and image not in stored:
                stored.append(image)
    errors = []
    for upload in request.files.getlist(field):
        if not upload or not upload.filename:
            continue
        data = upload.stream.read(MAX_BYTES + 1)
        try:
            image = attachments.store(media(), process_image(data, field=field))
        except PhotoTooLarge:
            errors.append(
                gettext(
                    "%(name)s terlalu besar: paling besar %(mb)d MB per foto.",
                    name=upload.filename,
                    mb=MAX_BYTES // (1024 * 1024),
                )
            )
            continue
        except PhotoRefused as exc:
            errors.append(refusal(upload.filename, exc.reason))
            continue
        if image not in stored:
            stored.append(image)
    if len(stored) > limit:
        errors.append(gettext("Paling banyak %(n)d foto.", n=limit))
        stored = stored[:limit]
    return Uploads(stored, errors)


def refusal(name: str, reason: str) -> str:
    """Why a file was refused, in plain words."""
    if reason == "empty":
        return str(gettext("%(name)s kosong (0 byte).", name=name))
    if reason == "too_many_pixels":
        return str(gettext("%(name)s terlalu besar ukuran gambarnya.", name=name))
    if reason == "damaged":
        return str(gettext("%(name)s rusak dan tidak dapat dibaca.", name=name))
    return str(gettext("%(name)s bukan foto JPEG, PNG, atau WebP.", name=name))


def tokens(images: Sequence[StoredImage]) -> list[str]:
    return [token(i) for i in images]
