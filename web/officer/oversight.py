"""Oversight, the overdue list: open tasks past their deadline, by OPD, most overdue first.

Supervisors (and auditors, admins) see every OPD and may narrow to one; an OPD head sees their
own OPDs, with their review tasks. Read from the task projection's index and the kept counts
(engine.oversight); the CSV holds the same rows as the pages.
"""

from __future__ import annotations

from collections.abc import Iterator
from collections.abc import Sequence
from datetime import UTC
from datetime import datetime

from flask import Response
from flask import render_template
from flask import request
from flask import url_for
from flask_babel import gettext
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import inbox as tasks
from engine import oversight as watch
from engine import queries
from engine import reference
from engine.calendar import JAKARTA
from engine.models import Group
from web import csvfile
from web import i18n
from web.auth import require_actor
from web.officer import blp
from web.session import db

PAGE = 25  # as the inbox: a page renders 25 deadlines
CSV_LIMIT = 20_000  # rows in one download; the list is most overdue first


class BadFilter(Exception):
    """A filter the page cannot apply: the page says why (400), never a 500."""


def scope_and_opd(session: Session) -> tuple[frozenset[str] | None, str | None, dict[str, str]]:
    """The viewer's OPDs (None: all), the OPD asked for with ``?opd=``, and the OPDs' names.

    Forbidden (403) for roles that oversee nothing and for an OPD outside the viewer's scope.
    """
    scope = queries.oversight_scope(require_actor())
    names = reference.opd_names(session)
    chosen = request.args.get("opd") or None
    if chosen is not None and chosen not in names:
        raise BadFilter(gettext("OPD yang dipilih tidak dikenal."))
    watch.narrow(scope, chosen)  # Forbidden outside the scope
    return scope, chosen, names


def group_names(session: Session) -> dict[str, str]:
    return dict(session.execute(select(Group.code, Group.name)).all())


def opd_label(code: str | None, names: dict[str, str]) -> str:
    if not code:
        return str(gettext("Belum didisposisikan"))
    return names.get(code, code)


def bad_filter(template: str, message: str, **context: object) -> tuple[str, int]:
    return render_template(template, error=message, **context), 400


@blp.get("/petugas/pengawasan")
def oversight() -> str | tuple[str, int]:
    """Open tasks past their deadline, most overdue first, by cursor; counts per OPD."""
    session = db()
    actor = require_actor()
    now = datetime.now(UTC)
    try:
        scope, chosen, names = scope_and_opd(session)
    except BadFilter as exc:
        return bad_filter("officer/oversight.html", str(exc), **_empty(now))
    all_groups = watch.task_groups(session, scope)
    groups = watch.task_groups(session, watch.narrow(scope, chosen))
    rows, more = watch.overdue_page(
        session, groups, now=now, after=request.args.get("setelah"), limit=PAGE
    )
    per_opd: dict[str, int] = {}
    for code, n in watch.overdue_counts(session, all_groups, now=now).items():
        key = code if code in names else ""  # the desk's and the supervisors' groups
        per_opd[key] = per_opd.get(key, 0) + n
    reviews, _ = tasks.page(
        session, {g for g in actor.groups if g.endswith("_head")} or {"-"}, now=now
    )
    table = watch.opd_table(session, scope, known=names)
    return render_template(
        "officer/oversight.html",
        rows=rows,
        more=more,
        first_page=not request.args.get("setelah"),
        titles=tasks.titles(session, [*rows, *reviews], i18n.current()),
        reviews=reviews,
        per_opd=sorted(per_opd.items(), key=lambda kv: (-kv[1], opd_label(kv[0], names))),
        total_overdue=sum(per_opd.values()),
        figures=table.total,
        opds={k: v for k, v in names.items() if scope is None or k in scope},
        names=names,
        groups=group_names(session),
        chosen=chosen,
        head=scope is not None,
        now=now,
        error=None,
    )


def _empty(now: datetime) -> dict[str, object]:
    return {
        "rows": [],
        "more": None,
        "first_page": True,
        "titles": {},
        "reviews": [],
        "per_opd": [],
        "total_overdue": 0,
        "figures": None,
        "opds": {},
        "names": {},
        "groups": {},
        "chosen": None,
        "head": False,
        "now": now,
    }


@blp.get("/petugas/pengawasan.csv")
def oversight_csv() -> Response | tuple[str, int]:
    """The overdue list with the page's filter, every row (up to ``CSV_LIMIT``)."""
    session = db()
    now = datetime.now(UTC)
    try:
        scope, chosen, names = scope_and_opd(session)
    except BadFilter as exc:
        return bad_filter("officer/oversight.html", str(exc), **_empty(now))
    groups = watch.task_groups(session, watch.narrow(scope, chosen))
    group_label = group_names(session)
    header = [
        "ticket",
        "ticket_title",
        "task",
        "candidate_group",
        "candidate_group_name",
        "opd",
        "opd_name",
        "category",
        "kecamatan",
        "received_at",
        "age_days",
        "due_at",
        "overdue_days",
        "escalation_level",
        "task_url",
    ]

    def lines() -> Iterator[Sequence[object]]:
        for r, title in _all_overdue(session, groups, now):
            opd = watch.opd_of_group(r.candidate_group)
            yield [
                r.ticket,
                r.ticket_title,
                title,
                r.candidate_group,
                group_label.get(r.candidate_group, r.candidate_group),
                opd if opd in names else "",
                names.get(opd, ""),
                r.category,
                r.kecamatan or "",
                i18n.iso(r.received_at),
                days_between(r.received_at, now),
                i18n.iso(r.due_at),
                max(1, days_between(r.due_at, now)) if r.due_at else "",  # as the page says
                r.escalation_level,
                url_for("officer.task", task_id=r.id, _external=True),
            ]

    suffix = f"-{chosen}" if chosen else ""
    return csvfile.download(f"terlambat{suffix}.csv", header, lines())


def _all_overdue(
    session: Session, groups: Sequence[str], now: datetime
) -> Iterator[tuple[tasks.Row, str]]:
    after = None
    sent = 0
    while sent < CSV_LIMIT:
        rows, after = watch.overdue_page(session, groups, now=now, after=after, limit=500)
        titles = tasks.titles(session, rows, i18n.current())
        for r in rows:
            yield r, titles.get(r.id, r.title)
        sent += len(rows)
        if after is None:
            return


def days_between(since: datetime | None, now: datetime) -> int:
    """Whole calendar days (Jakarta) from ``since`` to ``now``, as the page counts them."""
    if since is None:
        return 0
    return (now.astimezone(JAKARTA).date() - since.astimezone(JAKARTA).date()).days
