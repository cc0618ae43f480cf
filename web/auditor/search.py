"""``/audit``: find tickets by number, status, OPD, category, kecamatan, dates, escalation."""

from __future__ import annotations

from flask import render_template
from flask import request

from engine import audit_search
from engine import definitions
from engine import reference
from engine.errors import NotDeployed
from web import i18n
from web.auditor import blp
from web.auditor.filters import as_args
from web.auditor.filters import from_request
from web.auth import require_actor
from web.session import db

PROCESS = "complaint"


def status_names(lang: str) -> dict[str, str]:
    """The statuses of the latest deployed lifecycle, labelled in ``lang``."""
    session = db()
    try:
        bundle = definitions.bundle_for(session, definitions.latest_definition(session, PROCESS))
    except NotDeployed:
        return {}
    return {code: bundle.status_label(code, lang) for code in bundle.statuses}


@blp.get("")
def search() -> str:
    actor = require_actor()
    session = db()
    filters, errors = from_request()
    after = request.args.get("setelah", "")
    rows, more = audit_search.page(
        session,
        actor,
        filters,
        after=int(after) if after.isdigit() and len(after) < 19 else None,
        limit=audit_search.PAGE_SIZE,
    )
    return render_template(
        "auditor/search.html",
        rows=rows,
        more=more,
        total=audit_search.count(session, actor, filters),
        filters=filters,
        args=as_args(filters),
        errors=errors,
        statuses=status_names(i18n.current()),
        categories=reference.category_names(session),
        opds=reference.opd_names(session),
        kecamatan=reference.kecamatan(session),
        escalations=audit_search.ESCALATION_CHOICES,
    )
