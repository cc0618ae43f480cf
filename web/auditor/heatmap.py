"""The heatmap: per BPMN element of the lifecycle, how many tickets passed, the median and p90
time they spent there and the deadlines breached there, over a date range, optionally for one
OPD or category; drawn on the deployed diagram, as a table and as CSV (engine.heatmap)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import timedelta
from typing import Any

from flask import Response
from flask import render_template
from flask import request
from flask_babel import gettext
from flask_babel import ngettext
from sqlalchemy import select

from engine import definitions
from engine import heatmap
from engine import reference
from engine.calendar import JAKARTA
from engine.errors import Forbidden
from engine.errors import NotDeployed
from engine.models import DefinitionBundle
from web import i18n
from web.auditor import blp
from web.auth import require_actor
from web.session import db

ROLES = frozenset({"auditor", "supervisor", "designer", "admin"})
MAX_DAYS = 5 * 366  # a longer range is refused: the page answers for years, not decades
# Colour levels by median time: upper bounds in seconds (the last level has none).
LEVELS = (60, 3600, 8 * 3600, 24 * 3600, 3 * 86400, 7 * 86400)


def level_of(seconds: float | None) -> int | None:
    """The colour level (0-6) of a median time; None for an element with no stay."""
    if seconds is None:
        return None
    for i, upper in enumerate(LEVELS):
        if seconds < upper:
            return i
    return len(LEVELS)


def level_labels() -> list[str]:
    return [
        gettext("kurang dari 1 menit"),
        gettext("1 menit - 1 jam"),
        gettext("1 - 8 jam"),
        gettext("8 - 24 jam"),
        gettext("1 - 3 hari"),
        gettext("3 - 7 hari"),
        gettext("7 hari atau lebih"),
    ]


def duration(seconds: float | None) -> str:
    """A stay for people: minutes under an hour, hours under two days, else days."""
    if seconds is None:
        return i18n.NONE
    if seconds < 60:
        return str(gettext("< 1 menit"))
    if seconds < 3600:
        minutes = round(seconds / 60)
        return str(ngettext("%(n)s menit", "%(n)s menit", minutes, n=minutes))
    if seconds < 48 * 3600:
        hours = _decimal(seconds / 3600)
        return str(ngettext("%(n)s jam", "%(n)s jam", 1 if hours == "1" else 2, n=hours))
    days = _decimal(seconds / 86400)
    return str(ngettext("%(n)s hari", "%(n)s hari", 1 if days == "1" else 2, n=days))


def _decimal(value: float) -> str:
    text = f"{value:.1f}".rstrip("0").rstrip(".")
    return text.replace(".", ",") if i18n.current() == "id" else text


@dataclass(frozen=True)
class Row:
    element_id: str
    name: str
    figures: heatmap.ElementFigures
    level: int | None


class BadFilter(Exception):
    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("bad filter")
        self.errors = errors


def _filters(
    args: Any, opds: dict[str, str], categories: dict[str, str]
) -> tuple[heatmap.Filters, dict[str, str]]:
    """The filters of the query string (defaults: the year up to today); errors by field."""
    today = datetime.now(UTC).astimezone(JAKARTA).date()
    errors: dict[str, str] = {}
    values = {
        "dari": (args.get("dari") or "").strip(),
        "sampai": (args.get("sampai") or "").strip(),
        "opd": (args.get("opd") or "").strip(),
        "kategori": (args.get("kategori") or "").strip(),
    }

    def day(name: str, default: date) -> date:
        if not values[name]:
            return default
        try:
            return date.fromisoformat(values[name])
        except ValueError:
            errors[name] = gettext("Tanggal tidak valid: tulis sebagai TTTT-BB-HH.")
            return default

    end = day("sampai", today)
    start = day("dari", end - timedelta(days=364))
    if not errors and start > end:
        errors["dari"] = gettext("Tanggal awal harus sebelum tanggal akhir.")
    elif not errors and (end - start).days >= MAX_DAYS:
        errors["dari"] = gettext("Rentang paling panjang lima tahun.")
    opd = values["opd"] or None
    if opd is not None and opd not in opds and opd != "-":
        errors["opd"] = gettext("OPD tidak dikenal.")
    category = values["kategori"] or None
    if category is not None and category not in categories:
        errors["kategori"] = gettext("Kategori tidak dikenal.")
    elif category is not None and opd is not None:
        errors["kategori"] = gettext("Pilih satu OPD atau satu kategori, tidak keduanya.")
    if errors:
        raise BadFilter(errors)
    # "-": the stays before the ticket was routed to any OPD (the verifier desk's work)
    chosen_opd = "" if opd == "-" else opd
    return heatmap.Filters(start=start, end=end, opd=chosen_opd, category=category), values


def _allowed() -> None:
    if require_actor().role not in ROLES:
        raise Forbidden("the heatmap is for auditors, supervisors, designers and admins")


def _diagram(process_key: str) -> tuple[str | None, dict[str, str]]:
    """The deployed BPMN (latest version) and its element names."""
    session = db()
    try:
        ref = definitions.latest_definition(session, process_key)
    except NotDeployed:
        return None, {}
    bundle = definitions.bundle_for(session, ref)
    process = bundle.processes.get(process_key)
    names = {k: e.name or k for k, e in process.elements.items()} if process else {}
    files = session.scalar(
        select(DefinitionBundle.files).where(DefinitionBundle.id == ref.bundle_id)
    )
    xml = None
    for name, text in sorted((files or {}).items()):
        if name.endswith(".bpmn") and f'id="{process_key}"' in text:
            xml = text
            break
    return xml, names


def _rows(filters: heatmap.Filters, names: dict[str, str]) -> list[Row]:
    figures = heatmap.read(db(), filters)
    rows = [
        Row(element_id, names.get(element_id, element_id), f, level_of(f.median_seconds))
        for element_id, f in figures.items()
    ]
    rows.sort(key=lambda r: (-(r.figures.median_seconds or 0), -r.figures.passed, r.name))
    return rows


@blp.get("/heatmap")
def heatmap_page() -> tuple[str, int]:
    """The heatmap page: filters, the diagram coloured by median time, the table."""
    _allowed()
    session = db()
    opds = reference.opd_names(session)
    categories = reference.category_names(session)
    xml, names = _diagram(heatmap.PROCESS)
    try:
        filters, values = _filters(request.args, opds, categories)
    except BadFilter as exc:
        return render_template(
            "auditor/heatmap.html",
            errors=exc.errors,
            values={k: request.args.get(k, "") for k in ("dari", "sampai", "opd", "kategori")},
            opds=opds,
            categories=categories,
            rows=[],
            data=None,
            labels=level_labels(),
            csv_args={},
        ), 400
    rows = _rows(filters, names)
    data = {
        "xml": xml,
        "elements": {
            r.element_id: {
                "passed": r.figures.passed,
                "passed_text": i18n.number(r.figures.passed),
                "median": r.figures.median_seconds,
                "median_text": duration(r.figures.median_seconds),
                "p90_text": duration(r.figures.p90_seconds),
                "breaches": r.figures.breaches,
                "level": r.level,
            }
            for r in rows
        },
        "words": {
            "passed": gettext("lewat"),
            "median": gettext("median"),
            "p90": gettext("p90"),
            "breaches": gettext("terlambat"),
        },
    }
    values = {**values, "dari": filters.start.isoformat(), "sampai": filters.end.isoformat()}
    return render_template(
        "auditor/heatmap.html",
        errors={},
        values=values,
        opds=opds,
        categories=categories,
        rows=rows,
        data=data if xml else None,
        labels=level_labels(),
        duration=duration,
        csv_args={k: v for k, v in values.items() if v},
    ), 200


@blp.get("/heatmap.csv")
def heatmap_csv() -> Response:
    """The page's table as CSV, with the same filters; times in seconds."""
    _allowed()
    session = db()
    opds = reference.opd_names(session)
    categories = reference.category_names(session)
    try:
        filters, _ = _filters(request.args, opds, categories)
    except BadFilter as exc:
        message = "; ".join(f"{k}: {v}" for k, v in sorted(exc.errors.items()))
        return Response(message + "\n", status=400, mimetype="text/plain")
    _, names = _diagram(heatmap.PROCESS)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        ["element_id", "element_name", "passed", "median_seconds", "p90_seconds", "breaches"]
    )
    for r in _rows(filters, names):
        f = r.figures
        writer.writerow(
            [
                _cell(r.element_id),
                _cell(r.name),
                f.passed,
                "" if f.median_seconds is None else round(f.median_seconds),
                "" if f.p90_seconds is None else round(f.p90_seconds),
                f.breaches,
            ]
        )
    name = f"heatmap-{filters.start.isoformat()}-{filters.end.isoformat()}.csv"
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename={name}"},
    )


def _cell(text: str) -> str:
    """A text cell a spreadsheet will not run as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
