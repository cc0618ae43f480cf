"""``/audit/tiket/<number>``: one ticket's trail; the reporter's data shown only on request
(a POST), each such read written to the ticket's audit chain."""

from __future__ import annotations

import json
from datetime import UTC
from datetime import datetime
from typing import Any

from flask import render_template
from flask import request
from flask import url_for

from engine import audit_trail
from engine import reference
from engine.audit_trail import Reporter
from web import i18n
from web.auditor import blp
from web.auth import require_actor
from web.session import db

REASON_MAX = 200


def as_text(value: Any) -> str:
    """A value of an event's data as a person reads it (Jinja escapes it on the page)."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _page(number: str, reporter: Reporter | None = None, revealed: bool = False) -> str:
    trail = audit_trail.trail(db(), number, actor=require_actor(), lang=i18n.current())
    diagram: dict[str, Any] = {"bpmn": trail.bpmn, "markers": trail.markers}
    return render_template(
        "auditor/ticket.html",
        t=trail,
        reporter=reporter,
        revealed=revealed,
        diagram=diagram,
        reason_max=REASON_MAX,
        as_text=as_text,
        categories=reference.category_names(db()),
        opds=reference.opd_names(db()),
        now=datetime.now(UTC),
    )


@blp.get("/tiket/<number>")
def ticket(number: str) -> str:
    return _page(number)


@blp.post("/tiket/<number>/pelapor")
def reveal_reporter(number: str) -> str:
    """Show the reporter's name and contact, and record who read them, where and why."""
    session = db()
    reason = (request.form.get("alasan") or "").strip()[:REASON_MAX]
    reporter = audit_trail.read_reporter(
        session,
        number,
        actor=require_actor(),
        page=url_for("auditor.ticket", number=number.strip().upper()),
        reason=reason,
        now=datetime.now(UTC),
    )
    session.commit()
    return _page(number, reporter, revealed=True)
