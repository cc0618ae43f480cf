"""``/galeri``: before/after pairs of tickets closed as fixed, newest first, by cursor."""

from __future__ import annotations

from flask import render_template
from flask import request
from flask_babel import gettext

from engine import gallery as pairs
from engine import reference
from web.public import blp
from web.public.forms import FilterForm
from web.public.forms import options
from web.session import db

PAGE = 12


@blp.get("/galeri")
def gallery() -> str:
    session = db()
    categories = reference.category_names(session)
    form = FilterForm(request.args)
    everything = gettext("Semua")
    form.kategori.choices = options(
        [("", everything), *sorted(categories.items(), key=lambda kv: kv[1])]
    )
    form.kecamatan.choices = options(
        [("", everything), *((k, k) for k in reference.kecamatan(session))]
    )
    category = request.args.get("kategori") or None
    kecamatan = request.args.get("kecamatan") or None
    found, more = pairs.page(
        session,
        category=category if category in categories else None,
        kecamatan=kecamatan,
        after=request.args.get("setelah"),
        limit=PAGE,
    )
    return render_template(
        "public/gallery.html",
        pairs=found,
        more=more,
        form=form,
        categories=categories,
        first_page=not request.args.get("setelah"),
    )
