"""Oversight, in numbers: the OPD table (sortable, with a total) and the trends over a period
(by month, category and kecamatan), each as a page and as CSV, from the kept counts only."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from typing import Any

from babel import dates
from flask import Response
from flask import render_template
from flask import request
from flask_babel import gettext

from engine import oversight
from engine import reference
from engine import tally
from web import csvfile
from web import i18n
from web.officer import blp
from web.officer.oversight import BadFilter
from web.officer.oversight import opd_label
from web.officer.oversight import scope_and_opd
from web.session import db

DEFAULT_SORT = "-terlambat"  # the OPDs with the most overdue tickets first


def share(value: float | None) -> float | None:
    return None if value is None else round(value * 100, 1)


# -- the OPD table -----------------------------------------------------------------------------


@dataclass(frozen=True)
class OpdPage:
    rows: list[tuple[str, str, tally.Figures]]  # code, label, figures
    total: tally.Figures
    sort: str


def _opd_page() -> OpdPage:
    session = db()
    scope, chosen, names = scope_and_opd(session)
    sort = request.args.get("urut") or DEFAULT_SORT
    if sort.removeprefix("-") not in oversight.SORTS:
        raise BadFilter(gettext("Urutan tidak dikenal."))
    table = oversight.opd_table(session, oversight.narrow(scope, chosen), known=names)
    labels = {code: opd_label(code, names) for code in table.rows}
    ordered = oversight.sorted_rows(table.rows, labels, sort)
    return OpdPage([(code, labels[code], f) for code, f in ordered], table.total, sort)


@blp.get("/petugas/pengawasan/opd")
def oversight_opds() -> str | tuple[str, int]:
    """Per OPD: on-time %, median resolution, open and overdue; sortable; a total row."""
    try:
        result = _opd_page()
    except BadFilter as exc:
        return render_template("officer/oversight_opds.html", error=str(exc), table=None), 400
    return render_template("officer/oversight_opds.html", error=None, table=result)


OPD_COLUMNS = [
    "opd",
    "opd_name",
    "received",
    "fixed",
    "closed",
    "closed_on_time",
    "on_time_percent",
    "median_resolution_hours",
    "open",
    "open_overdue",
]


def _opd_values(code: str, label: str, f: tally.Figures) -> list[Any]:
    return [
        code,
        label,
        f.received,
        f.fixed,
        f.closed,
        f.closed_on_time,
        share(f.on_time_share),
        f.median_resolution_hours,
        f.open,
        f.open_overdue,
    ]


@blp.get("/petugas/pengawasan/opd.csv")
def oversight_opds_csv() -> Response | tuple[str, int]:
    """The OPD table in the page's order, then its total (opd ``*``)."""
    try:
        result = _opd_page()
    except BadFilter as exc:
        return render_template("officer/oversight_opds.html", error=str(exc), table=None), 400
    rows: list[Sequence[Any]] = [_opd_values(c, label, f) for c, label, f in result.rows]
    rows.append(_opd_values("*", str(gettext("Jumlah")), result.total))
    return csvfile.download("opd.csv", OPD_COLUMNS, rows)


# -- trends ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrendPage:
    first: str
    last: str
    category: str | None
    kecamatan: str | None
    chosen: str | None  # the OPD asked for
    head: bool
    trend: oversight.Trend
    categories: dict[str, str]
    kecamatan_names: list[str]
    opds: dict[str, str]
    series: str  # what the monthly rows count, in words


def month_label(month: str) -> str:
    return str(dates.format_date(oversight.first_day(month), "MMM y", locale=i18n.current()))


def _period(now: datetime) -> tuple[str, str]:
    last_default = oversight.month_of(now)
    first_text = request.args.get("dari") or oversight.shift(last_default, -11)
    last_text = request.args.get("sampai") or last_default
    first, last = oversight.parse_month(first_text), oversight.parse_month(last_text)
    if first is None or last is None:
        raise BadFilter(gettext("Tulis bulan sebagai TTTT-BB, misalnya 2026-01."))
    if first > last:
        raise BadFilter(gettext("Bulan awal harus sebelum bulan akhir."))
    if len(oversight.months_between(first, last)) > oversight.MAX_MONTHS:
        raise BadFilter(gettext("Periode paling panjang %(n)d bulan.", n=oversight.MAX_MONTHS))
    return first, last


def _trend_page() -> TrendPage:
    session = db()
    now = datetime.now(UTC)
    scope, chosen, names = scope_and_opd(session)
    first, last = _period(now)
    categories = reference.category_names(session)
    kecamatan_names = reference.kecamatan(session)
    category = request.args.get("kategori") or None
    kecamatan = request.args.get("kecamatan") or None
    if category is not None and category not in categories:
        raise BadFilter(gettext("Kategori yang dipilih tidak dikenal."))
    if kecamatan is not None and kecamatan not in kecamatan_names:
        raise BadFilter(gettext("Kecamatan yang dipilih tidak dikenal."))
    if sum(x is not None for x in (category, kecamatan, chosen)) > 1:
        raise BadFilter(gettext("Pilih satu saja: kategori, kecamatan, atau OPD."))
    head = scope is not None
    if head and (category or kecamatan):
        raise BadFilter(gettext("Kepala OPD melihat tren OPD-nya sendiri, tanpa saringan lain."))
    opds = oversight.narrow(scope, chosen)
    trend = oversight.trend(
        session,
        first=first,
        last=last,
        category=category,
        kecamatan=kecamatan,
        opds=opds,
        breakdowns=not head,
    )
    if category:
        series = gettext("Kategori %(name)s", name=categories[category])
    elif kecamatan:
        series = gettext("Kecamatan %(name)s", name=kecamatan)
    elif opds is not None:
        series = ", ".join(opd_label(o, names) for o in sorted(opds))
    else:
        series = gettext("Seluruh kota")
    return TrendPage(
        first,
        last,
        category,
        kecamatan,
        chosen,
        head,
        trend,
        categories,
        kecamatan_names,
        {k: v for k, v in names.items() if scope is None or k in scope},
        str(series),
    )


def breakdowns(result: TrendPage) -> dict[str, list[tuple[str, str, tally.Figures]]]:
    """The period by category and by kecamatan, most received first (then by name)."""
    unnamed = str(gettext("Tidak diisi"))
    tables = {
        "category": [
            (k, result.categories.get(k, k), f) for k, f in result.trend.by_category.items()
        ],
        "kecamatan": [(k, k or unnamed, f) for k, f in result.trend.by_kecamatan.items()],
    }
    return {
        name: sorted(entries, key=lambda e: (-e[2].received, e[1].casefold()))
        for name, entries in tables.items()
    }


def _chart(result: TrendPage) -> dict[str, Any]:
    """The chart's data: the same numbers as the monthly table."""
    months = result.trend.months
    return {
        "labels": [month_label(m) for m, _ in months],
        "received": [f.received for _, f in months],
        "fixed": [f.fixed for _, f in months],
        "on_time": [share(f.on_time_share) for _, f in months],
        "names": {
            "received": gettext("diterima"),
            "fixed": gettext("selesai"),
            "on_time": gettext("tepat waktu (%)"),
        },
    }


@blp.get("/petugas/pengawasan/tren")
def oversight_trends() -> str | tuple[str, int]:
    """Received, resolved and on-time % per month of a period; by category and kecamatan."""
    try:
        result = _trend_page()
    except BadFilter as exc:
        return render_template("officer/oversight_trends.html", error=str(exc), page=None), 400
    return render_template(
        "officer/oversight_trends.html",
        error=None,
        page=result,
        chart=_chart(result),
        breakdowns=breakdowns(result),
        month_label=month_label,
    )


TREND_COLUMNS = [
    "table",
    "key",
    "label",
    "received",
    "fixed",
    "closed",
    "closed_on_time",
    "open_overdue",
    "on_time_percent",
]


def _trend_values(table: str, key: str, label: str, f: tally.Figures) -> list[Any]:
    return [
        table,
        key,
        label,
        f.received,
        f.fixed,
        f.closed,
        f.closed_on_time,
        f.open_overdue,
        share(f.on_time_share),
    ]


@blp.get("/petugas/pengawasan/tren.csv")
def oversight_trends_csv() -> Response | tuple[str, int]:
    """The trend page's tables: the months (and their total), then category and kecamatan."""
    try:
        result = _trend_page()
    except BadFilter as exc:
        return render_template("officer/oversight_trends.html", error=str(exc), page=None), 400
    rows: list[Sequence[Any]] = [
        _trend_values("month", m, month_label(m), f) for m, f in result.trend.months
    ]
    rows.append(_trend_values("month", "*", str(gettext("Jumlah")), result.trend.total))
    for table, entries in breakdowns(result).items():
        rows.extend(_trend_values(table, key, label, f) for key, label, f in entries)
    return csvfile.download(f"tren-{result.first}-{result.last}.csv", TREND_COLUMNS, rows)
