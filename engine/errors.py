"""Domain errors the engine raises; web/errors.py maps each to one HTTP status."""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence


class LaksaError(Exception):
    code = "error"

    def __init__(self, message: str, *, fields: Mapping[str, Sequence[str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields = dict(fields or {})


class InvalidInput(LaksaError):
    """Well-formed input that breaks a rule (422)."""

    code = "invalid_input"


class TooLarge(InvalidInput):
    """An upload over its size limit (413)."""

    code = "too_large"


class NotFound(LaksaError):
    code = "not_found"


class Forbidden(LaksaError):
    code = "forbidden"


class Conflict(LaksaError):
    """A concurrent or stale writer, or a task that is no longer ready (409)."""

    code = "conflict"


class NotDeployed(LaksaError):
    """No definition is deployed for the process a command needs."""

    code = "not_deployed"


class WorkflowFailed(LaksaError):
    """A BPMN script or expression failed; the command was rolled back."""

    code = "workflow_failed"

    def __init__(self, message: str, *, element_id: str | None = None) -> None:
        super().__init__(message)
        self.element_id = element_id
