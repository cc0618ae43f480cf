"""A ticket's public page (404 for confidential tickets; no name of an anonymous reporter)."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime

from flask import render_template

from engine.ticket_view import ticket_view
from web import i18n
from web.public import blp
from web.session import db


@blp.get("/laporan/<number>")
def ticket(number: str) -> str:
    view = ticket_view(db(), number, lang=i18n.current())
    return render_template("public/ticket.html", t=view, now=datetime.now(UTC), private=None)
