"""The report form: report with photos and a place; "already reported nearby?"; the receipt.

One handler takes every step of the form, so nothing typed is lost between them: a mistake
shows the form again with what was typed and the photos already checked (as signed tokens);
with coordinates, open tickets of the same category within 100 m are offered first, and
following one files nothing new.
"""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from typing import Any

from flask import current_app
from flask import make_response
from flask import redirect
from flask import render_template
from flask import request
from flask import session as cookie
from flask import url_for
from flask_babel import gettext
from werkzeug.wrappers import Response

from engine import commands
from engine import reference
from engine import reporter
from engine.attachments import MAX_PER_REPORT
from engine.attachments import StoredImage
from engine.errors import Conflict
from engine.errors import InvalidInput
from engine.errors import NotFound
from engine.identity import VIA_WEB_FORM
from engine.identity import Actor
from web import uploads
from web.extensions import limiter
from web.public import blp
from web.public.forms import ReportForm
from web.public.forms import options
from web.security import submit_limit
from web.session import db

KEPT = "kept"  # form field of the signed tokens of photos already checked
RECEIPT = "receipt"  # session key: the number and secret of the report just filed


def _form(formdata: Any = None) -> ReportForm:
    session = db()
    form = ReportForm(formdata=formdata)
    form.category.choices = options(
        [("", gettext("— Pilih kategori —")), *reference.categories(session).items()]
    )
    form.kecamatan.choices = options(
        [("", gettext("— Pilih kecamatan —")), *((k, k) for k in reference.kecamatan(session))]
    )
    return form


def _page(form: ReportForm, kept: list[StoredImage], **extra: Any) -> str:
    return render_template(
        "public/report.html",
        form=form,
        kept=[(uploads.token(i), i) for i in kept],
        max_photos=MAX_PER_REPORT,
        tiles=current_app.config.get("LAKSA_TILE_URL"),
        attribution=current_app.config.get("LAKSA_TILE_ATTRIBUTION"),
        **extra,
    )


@blp.get("/lapor")
def report() -> str:
    return _page(_form(), [])


@blp.post("/lapor")
@limiter.limit(submit_limit)
def report_post() -> Response | str:
    form = _form(request.form)
    received = uploads.receive("photos", kept_field=KEPT, limit=MAX_PER_REPORT)
    valid = form.validate()
    if received.errors:
        form.photos.errors = [*form.photos.errors, *received.errors]
    follow = request.form.get("follow")
    if follow:
        return _follow(form, received.stored, follow)
    if not valid or received.errors:
        return _page(form, received.stored)
    if form.latitude.data is not None and not form.confirm_new.data:
        nearby = reporter.nearby(
            db(),
            category=form.category.data or "",
            latitude=form.latitude.data,
            longitude=form.longitude.data or 0.0,
        )
        if nearby:
            return _nearby_page(form, received.stored, nearby)
    return _submit(form, received.stored)


def _submit(form: ReportForm, photos: list[StoredImage]) -> Response | str:
    session = db()
    anonymous = bool(form.anonymous.data)
    data = commands.TicketInput(
        kind=form.kind.data or "complaint",
        category=form.category.data or "",
        title=(form.title.data or "").strip(),
        description=(form.description.data or "").strip(),
        location=(form.address.data or "").strip() or None,
        latitude=form.latitude.data,
        longitude=form.longitude.data,
        kecamatan=form.kecamatan.data or None,
        reporter_name=(form.name.data or "").strip() or None,
        reporter_contact=(form.contact.data or "").strip() or None,
        anonymous=anonymous,
        confidential=bool(form.confidential.data),
    )
    try:
        result = commands.submit_ticket(
            session,
            data=data,
            actor=Actor.public(VIA_WEB_FORM),
            now=datetime.now(UTC),
            photos=photos,
        )
        session.commit()
    except InvalidInput as exc:
        session.rollback()
        for name, messages in exc.fields.items():
            field = getattr(form, name, None)
            if field is not None:
                field.errors = [
                    *field.errors,
                    *(gettext("Pilihan tidak dikenal.") for _ in messages),
                ]
        return _page(form, photos)
    cookie[RECEIPT] = {"number": result.ticket.number, "secret": result.reporter_secret}
    return redirect(url_for("public.submitted"))


def _nearby_page(form: ReportForm, photos: list[StoredImage], nearby: Any) -> str:
    return render_template(
        "public/report_nearby.html",
        form=form,
        kept=[(uploads.token(i), i) for i in photos],
        nearby=nearby,
    )


def _follow(form: ReportForm, photos: list[StoredImage], number: str) -> Response | str:
    session = db()
    contact = (form.contact.data or "").strip()
    if not contact or not reporter.valid_contact(contact):
        form.contact.errors = [
            gettext("Untuk mengikuti laporan, tulis e-mail atau nomor HP yang benar.")
        ]
        nearby = []
        if form.latitude.data is not None:
            nearby = reporter.nearby(
                session,
                category=form.category.data or "",
                latitude=form.latitude.data,
                longitude=form.longitude.data or 0.0,
            )
        return _nearby_page(form, photos, nearby)
    try:
        reporter.follow(session, number=number, contact=contact, now=datetime.now(UTC))
        session.commit()
    except (NotFound, Conflict):
        session.rollback()
        return _page(form, photos, notice=gettext("Laporan itu tidak dapat diikuti lagi."))
    return render_template("public/followed.html", number=number.upper(), contact=contact)


@blp.get("/lapor/terkirim")
def submitted() -> Response | str:
    """The receipt: the number and the private link, shown after the report is filed."""
    receipt = cookie.pop(RECEIPT, None)  # shown once: a shared phone shows it to no one else
    if not receipt:
        return redirect(url_for("public.report"))
    link = url_for(
        "reporter.ticket", number=receipt["number"], secret=receipt["secret"], _external=True
    )
    response = make_response(
        render_template("public/submitted.html", number=receipt["number"], link=link)
    )
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
