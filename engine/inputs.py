"""What every command takes from people: text without the blanks around it, and form and
message data of a bounded size (the process state keeps it, and every load reads it back)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from engine.errors import InvalidInput
from engine.errors import TooLarge

MAX_ID = 2**31  # ids are INTEGER columns: 32 bits on PostgreSQL; the same rule on SQLite
# Form data and message payloads, as JSON text; the longest form field is 4,000 characters.
MAX_DATA_BYTES = 64 * 1024


def _runs(chars: list[str]) -> list[list[str]]:
    """Characters in runs of consecutive code points (for a regular expression's ranges)."""
    runs: list[list[str]] = []
    for char in chars:
        if runs and ord(char) == ord(runs[-1][-1]) + 1:
            runs[-1].append(char)
        else:
            runs.append([char])
    return runs


# Zero-width characters read as nothing: "\u200b\u200b\u200b" is not a title either.
_INVISIBLE = "\u180e\u200b\u200c\u200d\u2060\ufeff"
BLANKS = "".join(chr(c) for c in range(0x3001) if chr(c).isspace()) + _INVISIBLE  # U+3000 last
# The same characters for a regular expression, spelled out: `\s` means other characters in
# ECMAScript (the JSON Schema pattern dialect) than in Python.
BLANK_CHARS = "".join(
    f"\\u{ord(run[0]):04x}" + (f"-\\u{ord(run[-1]):04x}" if len(run) > 1 else "")
    for run in _runs(sorted(BLANKS))
)
BLANK_RE = f"[{BLANK_CHARS}]"
VISIBLE_RE = f"[^{BLANK_CHARS}]"


def clean(text: str) -> str:
    """``text`` without the blanks (spaces, line breaks, zero-width characters) around it."""
    return text.strip(BLANKS)


def at_least(length: int) -> str:
    """A pattern that text matches when, cleaned, it still has ``length`` characters or more."""
    if length <= 1:
        return VISIBLE_RE
    return rf"{VISIBLE_RE}[\s\S]{{{length - 2},}}{VISIBLE_RE}"  # [\s\S]: any character


def cleaned(data: Mapping[str, Any]) -> dict[str, Any]:
    """Form or message data with every text value cleaned; limits apply to what is left."""
    return {k: clean(v) if isinstance(v, str) else v for k, v in data.items()}


def check_size(data: Mapping[str, Any], *, field: str = "data") -> None:
    """Refuse data larger than MAX_DATA_BYTES as JSON text (413), before it reaches a process."""
    try:
        size = len(json.dumps(data, ensure_ascii=False, default=str).encode("utf-8"))
    except (RecursionError, UnicodeEncodeError, ValueError):
        raise InvalidInput("the data cannot be stored", fields={field: ["not storable"]}) from None
    if size > MAX_DATA_BYTES:
        raise TooLarge(
            f"the {field} is larger than the limit of {MAX_DATA_BYTES} bytes",
            fields={field: [f"at most {MAX_DATA_BYTES} bytes as JSON"]},
        )
