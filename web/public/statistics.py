"""``/statistik``: the city's numbers, as a page (with charts), CSV and JSON; one source.

Rows with fewer than ``RANK_MINIMUM`` tickets are shown but not ranked: a category with two
reports, both on time, does not top a league of hundreds (FixMyStreet #1957).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

from flask import Response
from flask import jsonify
from flask import render_template
from flask_babel import gettext

from engine import reference
from engine import tally
from web.public import blp
from web.session import db

RANK_MINIMUM = 5
DIMENSIONS = ("category", "opd", "kecamatan", "month")


@dataclass(frozen=True)
class Row:
    key: str
    label: str
    figures: tally.Figures
    rank: int | None  # by on-time share, then resolved share; None: too few to rank


def _labels(dimension: str) -> dict[str, str]:
    session = db()
    if dimension == "category":
        return reference.category_names(session)
    if dimension == "opd":
        return reference.opd_names(session)
    return {}


def rows(stats: tally.CityStats, dimension: str) -> list[Row]:
    """A dimension's rows: ranked ones first (best first), then the rest by name."""
    labels = _labels(dimension)
    unnamed = gettext("Belum didisposisikan") if dimension == "opd" else gettext("Tidak diisi")
    entries = [
        (key, labels.get(key, key) if key else unnamed, figures)
        for key, figures in stats.by.get(dimension, {}).items()
    ]
    if dimension == "month":
        return [Row(k, label, f, None) for k, label, f in sorted(entries, reverse=True)]
    rankable = sorted(
        (e for e in entries if e[2].received >= RANK_MINIMUM and e[0]),
        key=lambda e: (-(e[2].on_time_share or 0), -(e[2].resolved_share or 0), e[1]),
    )
    ranked_keys = {e[0] for e in rankable}
    rest = sorted((e for e in entries if e[0] not in ranked_keys), key=lambda e: e[1])
    return [Row(k, label, f, i + 1) for i, (k, label, f) in enumerate(rankable)] + [
        Row(k, label, f, None) for k, label, f in rest
    ]


def _figures_json(f: tally.Figures) -> dict[str, Any]:
    return {
        "received": f.received,
        "fixed": f.fixed,
        "other_closures": dict(sorted(f.other_closures.items())),
        "closed": f.closed,
        "in_process": f.in_process,
        "waiting_follow_up": f.waiting_follow_up,
        "closed_on_time": f.closed_on_time,
        "open_overdue": f.open_overdue,
        "resolved_share": None if f.resolved_share is None else round(f.resolved_share, 4),
        "on_time_share": None if f.on_time_share is None else round(f.on_time_share, 4),
        "median_first_response_hours": f.median_first_response_hours,
        "median_resolution_hours": f.median_resolution_hours,
    }


@blp.get("/statistik")
def statistics() -> str:
    stats = tally.read(db())
    return render_template(
        "public/statistics.html",
        totals=stats.totals,
        tables={d: rows(stats, d) for d in DIMENSIONS},
        rank_minimum=RANK_MINIMUM,
    )


@blp.get("/statistik.json")
def statistics_json() -> Response:
    stats = tally.read(db())
    return jsonify(
        {
            "totals": _figures_json(stats.totals),
            "by": {
                d: [
                    {"key": r.key, "label": r.label, "rank": r.rank, **_figures_json(r.figures)}
                    for r in rows(stats, d)
                ]
                for d in DIMENSIONS
            },
            "rank_minimum": RANK_MINIMUM,
        }
    )


@blp.get("/statistik.csv")
def statistics_csv() -> Response:
    stats = tally.read(db())
    out = io.StringIO()
    writer = csv.writer(out)
    columns = [c for c in _figures_json(stats.totals) if c != "other_closures"]
    writer.writerow(["dimension", "key", "label", "rank", *columns])
    writer.writerow(["all", "", "", "", *_csv_values(stats.totals, columns)])
    for dimension in DIMENSIONS:
        for r in rows(stats, dimension):
            writer.writerow(
                [dimension, r.key, r.label, r.rank or "", *_csv_values(r.figures, columns)]
            )
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": "attachment; filename=statistik-laksa.csv"},
    )


def _csv_values(f: tally.Figures, columns: list[str]) -> list[Any]:
    data = _figures_json(f)
    return ["" if data[c] is None else data[c] for c in columns]
