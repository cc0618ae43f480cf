"""CSV downloads whose cells a spreadsheet never runs as a formula."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from collections.abc import Sequence

from flask import Response

# A text cell starting with one of these is a formula to Excel, LibreOffice and Sheets
# (OWASP "CSV injection"); a leading apostrophe makes it text again.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")


def safe(value: object) -> object:
    """A cell as written: text that would start a formula gets a leading apostrophe."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def download(filename: str, header: Sequence[str], rows: Iterable[Sequence[object]]) -> Response:
    """A CSV attachment (UTF-8 with a BOM, so spreadsheets read Indonesian names right)."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(header)
    for row in rows:
        writer.writerow([safe(cell) for cell in row])
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f"attachment; filename={filename}",
            "Cache-Control": "private, no-store",
        },
    )
