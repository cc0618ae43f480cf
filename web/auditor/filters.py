"""The search filters as the page's query string carries them, checked (bad input is ignored
with a message, never a 500)."""

from __future__ import annotations

from datetime import date

from flask import request
from flask_babel import gettext

from engine.audit_search import ESCALATION_CHOICES
from engine.audit_search import Filters

# Query-string names (Indonesian, as the page's other links).
NAMES = {
    "number": "nomor",
    "status": "status",
    "opd": "opd",
    "category": "kategori",
    "kecamatan": "kecamatan",
    "created_from": "dari",
    "created_to": "sampai",
    "escalation": "eskalasi",
}


def _day(name: str, errors: list[str]) -> date | None:
    value = (request.args.get(name) or "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        errors.append(gettext("Tanggal tidak dikenal: %(v)s (tulis TTTT-BB-HH).", v=value[:40]))
        return None


def from_request() -> tuple[Filters, list[str]]:
    args, errors = request.args, []
    escalation = args.get("eskalasi") or None
    if escalation is not None and escalation not in ESCALATION_CHOICES:
        errors.append(gettext("Tingkat eskalasi tidak dikenal."))
        escalation = None
    filters = Filters(
        number=(args.get("nomor") or "").strip()[:40] or None,
        status=args.get("status") or None,
        opd=args.get("opd") or None,
        category=args.get("kategori") or None,
        kecamatan=args.get("kecamatan") or None,
        created_from=_day("dari", errors),
        created_to=_day("sampai", errors),
        escalation=escalation,
    )
    return filters, errors


def as_args(filters: Filters) -> dict[str, str]:
    """The filters back as query arguments (links to pages and exports)."""
    out = {}
    for field, name in NAMES.items():
        value = getattr(filters, field)
        if value not in (None, ""):
            out[name] = value.isoformat() if isinstance(value, date) else str(value)
    return out
