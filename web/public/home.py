"""The home page, the language switch and "track by number"."""

from __future__ import annotations

import re

from flask import make_response
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_babel import gettext
from werkzeug.wrappers import Response

from engine import gallery
from engine import tally
from web import i18n
from web.public import blp
from web.public.forms import TrackForm
from web.session import db

_NUMBER = re.compile(r"^\s*(LK-?)?([0-9A-Za-z]{8})\s*$", re.IGNORECASE)


@blp.get("/")
def home() -> str:
    session = db()
    stats = tally.read(session)
    pairs, _ = gallery.page(session, limit=3)
    return render_template(
        "public/home.html", totals=stats.totals, pairs=pairs, track=TrackForm(formdata=None)
    )


@blp.get("/lacak")
def track() -> Response | str:
    """Find a ticket by its number (written with or without "LK-", any case)."""
    form = TrackForm(request.args)
    if form.validate():
        match = _NUMBER.match(form.nomor.data or "")
        if match:
            return redirect(url_for("public.ticket", number="LK-" + match.group(2).upper()))
        form.nomor.errors = [gettext("Nomor laporan berbentuk LK- diikuti 8 huruf atau angka.")]
    return render_template("public/track.html", form=form)


@blp.get("/bahasa/<lang>")
def language(lang: str) -> Response:
    """Switch the pages' language; the choice is kept in a cookie for a year."""
    response = make_response(redirect(i18n.safe_next(request.args.get("next"))))
    if lang in i18n.LANGUAGES:
        response.set_cookie(i18n.COOKIE, lang, max_age=365 * 24 * 3600, samesite="Lax")
    return response
