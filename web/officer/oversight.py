"""The OPD head's page (their OPD: overdue first, escalations, review tasks) and the
supervisor's overdue list across OPDs. Both read projections only."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime

from flask import render_template
from flask import request

from engine import inbox as tasks
from engine import queries
from engine import reference
from web import i18n
from web.auth import require_actor
from web.officer import blp
from web.session import db


@blp.get("/petugas/pengawasan")
def oversight() -> str:
    """Overdue and escalated tickets of the OPDs the viewer oversees, most overdue first.

    A supervisor (or auditor, admin) sees every OPD and may narrow to one; an OPD head sees
    their own OPDs, with their review tasks.
    """
    actor = require_actor()
    session = db()
    now = datetime.now(UTC)
    scope = queries.oversight_scope(actor)  # Forbidden for other roles: a 403 page
    opds = reference.opd_names(session)
    chosen = request.args.get("opd") or None
    if chosen not in opds or (scope is not None and chosen not in scope):
        chosen = None
    rows = queries.overdue(
        session, now=now, scope=scope, opd=chosen, lang=i18n.current(), limit=200
    )
    reviews, _ = tasks.page(
        session, {g for g in actor.groups if g.endswith("_head")} or {"-"}, now=now
    )
    stats = queries.stats(session, scope=scope, opd=chosen)
    return render_template(
        "officer/oversight.html",
        rows=rows,
        reviews=reviews,
        titles=tasks.titles(session, reviews, i18n.current()),
        stats=stats,
        opds={k: v for k, v in opds.items() if scope is None or k in scope},
        chosen=chosen,
        head=scope is not None,
        now=now,
    )
