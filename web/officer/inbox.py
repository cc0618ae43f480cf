"""The inbox: my groups' open tasks, overdue first, with filters, counts and a cursor."""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
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


@dataclass(frozen=True, slots=True)
class Line:
    """One inbox row as the page prints it, its texts worked out in Python in one pass.

    Left to the template, a page of 25 rows made some 200 calls from Jinja (a macro, its
    filters, gettext), a third of the page's time.
    """

    id: int
    ticket: str
    ticket_title: str
    late: bool
    tone: str  # the deadline's colour: red, yellow, green, grey
    due_iso: str
    due_title: str
    due_words: str
    task_title: str
    category: str
    kecamatan: str | None
    age: str
    escalation: str
    confidential: bool
    claimed: str


def lines(
    rows: Sequence[tasks.Row],
    titles: Mapping[int, str],
    categories: Mapping[str, str],
    now: datetime,
) -> list[Line]:
    gettext = i18n.gettext
    return [
        Line(
            id=r.id,
            ticket=r.ticket,
            ticket_title=r.ticket_title,
            late=r.due_at is not None and r.due_at < now,
            tone=i18n.deadline_tone(r.due_at, now),
            due_iso=i18n.iso(r.due_at),
            due_title=i18n.date_time(r.due_at),
            due_words=i18n.deadline_words(r.due_at, now),
            task_title=titles.get(r.id, r.title),
            category=categories.get(r.category, r.category),
            kecamatan=r.kecamatan,
            age=gettext("masuk %(age)s", age=i18n.age_words(r.received_at, now)),
            escalation=gettext("eskalasi %(n)d", n=r.escalation_level)
            if r.escalation_level
            else "",
            confidential=r.confidential,
            claimed=gettext("dikerjakan %(who)s", who=r.claimed_by.removeprefix("user:"))
            if r.claimed_by
            else "",
        )
        for r in rows
    ]


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
    categories = reference.category_names(session)
    titles = tasks.titles(session, rows, i18n.current())
    return render_template(
        "officer/inbox.html",
        rows=lines(rows, titles, categories, now),
        more=more,
        counts=counts,
        filters=filters,
        categories=categories,
        opds=opds,
        # One url_for for the page, not one a row: "/petugas/tugas/" + the task's id.
        task_path=url_for("officer.task", task_id=0).removesuffix("0"),
    )
