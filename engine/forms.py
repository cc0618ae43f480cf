"""Form data of user tasks, checked on the server against the task's JSON Schema."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema import FormatChecker

from engine.errors import InvalidInput


def validated(schema: dict[str, Any] | None, data: Mapping[str, Any]) -> dict[str, Any]:
    """Check form data against the task's JSON Schema; only declared fields get through."""
    if schema is None:
        if data:
            raise InvalidInput(
                "this task takes no form data", fields={k: ["unexpected field"] for k in data}
            )
        return {}
    validator = Draft202012Validator(schema, format_checker=FormatChecker())
    declared = set((schema.get("properties") or {}).keys())
    errors: dict[str, list[str]] = {}
    for key in data:
        if key not in declared:
            errors[key] = ["unexpected field"]
    for error in validator.iter_errors(dict(data)):
        if error.validator == "additionalProperties" and not error.absolute_path:
            continue  # reported per field above
        path = ".".join(str(p) for p in error.absolute_path) or _required_field(error) or "_form"
        errors.setdefault(path, []).append(error.message)
    if errors:
        raise InvalidInput("the form has errors", fields=errors)
    return dict(data)


def _required_field(error: Any) -> str | None:
    if error.validator == "required" and isinstance(error.instance, dict):
        missing = [k for k in error.validator_value if k not in error.instance]
        return missing[0] if missing else None
    return None


TITLE_KEY = "x-laksa-title"  # {"id": "...", "en": "..."}: a field's label in each language


def field_title(schema: Mapping[str, Any] | None, name: str, lang: str) -> str:
    """A field's label in ``lang``: its ``x-laksa-title``, else its ``title``, else its name."""
    spec = ((schema or {}).get("properties") or {}).get(name)
    if not isinstance(spec, Mapping):
        return name
    titles = spec.get(TITLE_KEY)
    if isinstance(titles, Mapping) and isinstance(titles.get(lang), str):
        return str(titles[lang])
    return str(spec.get("title") or name)
