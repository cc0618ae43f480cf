"""Ticket numbers: random, so confidential tickets cannot be enumerated, and read back from any
text a person or a program types (any case, with or without the "LK-")."""

from __future__ import annotations

import re
import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U
_TYPED = re.compile(r"^\s*(?:LK-?)?([0-9A-Z]{8})\s*$", re.IGNORECASE)


def new_ticket_number() -> str:
    """A ticket number nobody can guess or enumerate (confidential tickets stay private)."""
    return "LK-" + "".join(secrets.choice(ALPHABET) for _ in range(8))


def canonical(text: str) -> str | None:
    """``LK-XXXXXXXX`` for a typed number, or None when it cannot be one.

    Everything else (a NUL byte, a path, a long string) is refused here, before any query.
    """
    match = _TYPED.match(text) if len(text) <= 40 else None
    if match is None:
        return None
    return "LK-" + match.group(1).upper()
