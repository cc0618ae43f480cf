"""The process clock: every command runs at an explicit ``now`` so tests can move time."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC
from datetime import datetime

_current: ContextVar[datetime | None] = ContextVar("laksa_now", default=None)


def now() -> datetime:
    """The command's time if one is running, else the wall clock (aware UTC)."""
    value = _current.get()
    return value if value is not None else datetime.now(UTC)


@contextmanager
def frozen_at(moment: datetime) -> Iterator[datetime]:
    """Run a block with the process clock fixed at ``moment``."""
    if moment.tzinfo is None:
        raise ValueError("the process clock needs an aware datetime")
    token = _current.set(moment.astimezone(UTC))
    try:
        yield moment
    finally:
        _current.reset(token)
