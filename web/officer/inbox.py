"""The inbox: my groups' open tasks, overdue first, with filters, counts and a cursor."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime

from flask import render_template
from flask import request
from flask import url_for

from engine import inbox as tasks
from engine import reference
from web import i18n
from web.auth import require_actor
from web.officer import blp
from web.session import db

HEAD_ROLES = frozenset({"opd_head", "supervisor", "admin"})


@blp.get("/petugas")
def inbox() -> str:
    actor = require_actor()
    session = db()
    now = datetime.now(UTC)
    args = request.args
    may_filter_opd = actor.role in HEAD_ROLES
    opds = reference.opd_names(session) if may_filter_opd else {}
    filters = tasks.Filters(
        overdue=args.get("filter") == "overdue",
        due_today=args.get("filter") == "today",
        category=args.get("kategori") or None,
        kecamatan=args.get("kecamatan") or None,
        opd=args.get("opd") if args.get("opd") in opds else None,
        number=args.get("nomor") or None,
    )
    rows, more = tasks.page(
        session, actor.groups, now=now, filters=filters, after=args.get("setelah")
    )
    counts = tasks.counts(session, actor.groups, now=now, opd=filters.opd)
    return render_template(
        "officer/inbox.html",
        rows=rows,
        titles=tasks.titles(session, rows, i18n.current()),
        more=more,
        counts=counts,
        filters=filters,
        categories=reference.category_names(session),
        opds=opds,
        now=now,
        # One url_for for the page, not one a row: "/petugas/tugas/" + the task's id.
        task_path=url_for("officer.task", task_id=0).removesuffix("0"),
    )
