"""``/jejak-audit``: the published audit anchors, as a page and as JSON for anyone to archive.

An anchor is the day's digest over every ticket's audit chain (``engine.anchors``). Publishing
them is what makes a rewritten past visible: once a copy of an anchor is kept outside LAKSA,
changing any ticket's history before it no longer gives the same root.
"""

from __future__ import annotations

from typing import Any

from babel import dates
from flask import Response
from flask import jsonify
from flask import render_template
from flask import request

from engine import anchors
from engine.models import AuditAnchor
from web import i18n
from web.public import blp
from web.session import db

PAGE = 30


def _cursor() -> int | None:
    """The ``sebelum`` cursor; anything but a positive whole number is the first page."""
    value = request.args.get("sebelum", "")
    return int(value) if value.isdigit() and 0 < int(value) < 2**31 else None


@blp.get("/jejak-audit")
def audit_anchors() -> str:
    session = db()
    before = _cursor()
    found, more = anchors.page(session, before=before, limit=PAGE)
    language = i18n.current()
    return render_template(
        "public/audit_anchors.html",
        anchors=found,
        days={a.id: dates.format_date(a.day, "EEEE, d MMMM y", locale=language) for a in found},
        more=more,
        first_page=before is None,
        total=anchors.count(session),
        genesis=anchors.GENESIS,
    )


def _json(a: AuditAnchor) -> dict[str, Any]:
    return {
        "day": a.day.isoformat(),
        "created_at": a.created_at.isoformat(),
        "last_event_id": a.last_event_id,
        "chains": a.chains,
        "root": a.root,
        "prev_hash": a.prev_hash,
        "hash": a.hash,
    }


@blp.get("/jejak-audit.json")
def audit_anchors_json() -> Response:
    """Every anchor, newest first, with what is needed to recompute each hash."""
    return jsonify(
        {
            "anchors": [_json(a) for a in anchors.published(db())],
            "hash": "sha256(prev_hash + json([day, created_at, last_event_id, chains, root]))",
            "json": "sort_keys, separators (',', ':'), UTF-8",
            "root": (
                "Merkle root over sha256(0x00 + '<instance>:<seq>:<event hash>') in instance "
                "order; node = sha256(0x01 + left + right); an odd last node goes up unchanged"
            ),
            "genesis": anchors.GENESIS,
        }
    )
