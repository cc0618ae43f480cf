"""Exports: one ticket's audit rows, and a search, as CSV and JSON (streamed).

CSV cells that a spreadsheet would read as a formula (starting with = + - @, a tab or a
carriage return) are prefixed with an apostrophe.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from flask import Response
from flask import stream_with_context

from engine import audit_search
from engine import audit_trail
from web.auditor import blp
from web.auditor.filters import from_request
from web.auth import require_actor
from web.session import db

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> str:
    """A value as a CSV cell that no spreadsheet runs as a formula."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.isoformat()
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def _csv_lines(columns: Sequence[str], rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([safe_cell(row.get(c)) for c in columns])
        yield out.getvalue()
        out.seek(0)
        out.truncate()
    yield out.getvalue()


def _json_default(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def _attachment(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}"'}


def _trail_of(number: str) -> tuple[str, list[audit_trail.Event], Any]:
    actor = require_actor()
    trail = audit_trail.trail(db(), number, actor=actor)
    return trail.number, list(trail.events), trail.problem


@blp.get("/tiket/<number>.csv")
def ticket_csv(number: str) -> Response:
    canonical, events, _ = _trail_of(number)
    body = "".join(_csv_lines(audit_trail.EXPORT_COLUMNS, (e.export_row() for e in events)))
    return Response(body, mimetype="text/csv", headers=_attachment(f"audit-{canonical}.csv"))


@blp.get("/tiket/<number>.json")
def ticket_json(number: str) -> Response:
    canonical, events, problem = _trail_of(number)
    body = {
        "ticket": canonical,
        "chain": {
            "intact": problem is None,
            "problem": None if problem is None else {"seq": problem.seq, "reason": problem.reason},
        },
        "events": [e.export_row() for e in events],
    }
    return Response(
        json.dumps(body, ensure_ascii=False, indent=1),
        mimetype="application/json",
        headers=_attachment(f"audit-{canonical}.json"),
    )


@blp.get("/ekspor.csv")
def search_csv() -> Response:
    actor, (filters, _) = require_actor(), from_request()
    rows = (f.as_dict() for f in audit_search.stream(db(), actor, filters))
    return Response(
        stream_with_context(_csv_lines(audit_search.COLUMNS, rows)),
        mimetype="text/csv",
        headers=_attachment("laporan.csv"),
    )


@blp.get("/ekspor.json")
def search_json() -> Response:
    actor, (filters, _) = require_actor(), from_request()

    def chunks() -> Iterator[str]:
        yield "["
        for i, found in enumerate(audit_search.stream(db(), actor, filters)):
            prefix = "," if i else ""
            yield (
                prefix
                + "\n"
                + json.dumps(found.as_dict(), default=_json_default, ensure_ascii=False)
            )
        yield "\n]\n"

    return Response(
        stream_with_context(chunks()),
        mimetype="application/json",
        headers=_attachment("laporan.json"),
    )
