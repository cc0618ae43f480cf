"""A ticket as entitled staff see it (contact where the rules allow, every timeline entry)."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime

from flask import render_template

from engine.ticket_view import ticket_view
from web import i18n
from web.auth import require_actor
from web.officer import blp
from web.session import db


@blp.get("/petugas/laporan/<number>")
def ticket(number: str) -> str:
    view = ticket_view(db(), number, actor=require_actor(), lang=i18n.current())
    return render_template("officer/ticket.html", t=view, now=datetime.now(UTC), private=None)
