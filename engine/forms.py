"""Form data of user tasks, checked on the server against the task's JSON Schema, and the
same schema read as a form to show (``form_of``): the page and the API render what the
server validates, so a schema change needs no Python change.

LAKSA's keywords beside JSON Schema (all optional):

- ``x-laksa-title`` / ``x-laksa-description``: ``{"id": ..., "en": ...}``, on the form and on
  each property: labels and hints in each language (``title``/``description`` otherwise);
- ``x-laksa-options``: on an enum property, ``{value: {"title": {...}, "description": {...}}}``;
- ``x-laksa-audience`` (engine.timeline), ``x-laksa-attachment`` (engine.attachments),
  ``x-laksa-ticket``: the value names another ticket (checked to exist).

A property that appears in the ``then`` of an ``allOf`` item whose ``if`` tests one enum
property (``const`` or ``enum``) applies only under those values: the page shows it then, and
the ``then``'s ``required`` makes it required then.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema import FormatChecker

from engine import inputs
from engine.errors import InvalidInput


def validated(schema: dict[str, Any] | None, data: Mapping[str, Any]) -> dict[str, Any]:
    """Check form data against the task's JSON Schema; only declared fields get through.

    Text is checked without the blanks around it: three spaces are not a question.
    """
    data = inputs.cleaned(data)
    if schema is None:
        if data:
            raise InvalidInput(
                "this task takes no form data", fields={k: ["unexpected field"] for k in data}
            )
        return {}
    validator = _validator(schema)
    declared = set((schema.get("properties") or {}).keys())
    errors: dict[str, list[str]] = {}
    for key in data:
        if key not in declared:
            errors[key] = ["unexpected field"]
    for error in validator.iter_errors(dict(data)):
        if error.validator == "additionalProperties" and not error.absolute_path:
            continue  # reported per field above
        for path in _fields_of(error):
            errors.setdefault(path, []).append(error.message)
    if errors:
        raise FormInvalid("the form has errors", fields=errors, problems=problems(schema, data))
    return dict(data)


def _validator(schema: dict[str, Any]) -> Draft202012Validator:
    """A schema's validator, built once per schema object (a deployed bundle's forms are kept
    for the process's life, engine.definitions)."""
    held = _validators.get(id(schema))
    if held is None or held[0] is not schema:
        held = (schema, Draft202012Validator(schema, format_checker=FormatChecker()))
        if len(_validators) >= 256:
            _validators.clear()
        _validators[id(schema)] = held
    return held[1]


_validators: dict[int, tuple[dict[str, Any], Draft202012Validator]] = {}


@dataclass(frozen=True)
class Problem:
    """One field's error in terms a page can say in any language."""

    field: str
    kind: str  # required | type | enum | minLength | maxLength | minimum | maximum | pattern | ...
    limit: Any = None  # the schema's value for the broken keyword


class FormInvalid(InvalidInput):
    def __init__(self, message: str, *, fields: Mapping[str, Any], problems: list[Problem]) -> None:
        super().__init__(message, fields=fields)
        self.problems = problems


def problems(schema: Mapping[str, Any], data: Mapping[str, Any]) -> list[Problem]:
    """The errors of ``data`` against ``schema``, one per field, first error first."""
    validator = Draft202012Validator(dict(schema), format_checker=FormatChecker())
    declared = set((schema.get("properties") or {}).keys())
    found: dict[str, Problem] = {}
    for key in data:
        if key not in declared:
            found[key] = Problem(key, "unexpected")
    for error in sorted(validator.iter_errors(dict(data)), key=lambda e: e.path):
        if error.validator == "additionalProperties" and not error.absolute_path:
            continue
        for name in _fields_of(error):
            found.setdefault(name, Problem(name, str(error.validator), error.validator_value))
    return list(found.values())


def _fields_of(error: Any) -> list[str]:
    """The fields an error is about: its path, or every property a ``required`` misses."""
    path = ".".join(str(p) for p in error.absolute_path)
    if path:
        return [path]
    if error.validator == "required" and isinstance(error.instance, dict):
        missing = [k for k in error.validator_value if k not in error.instance]
        if missing:
            return missing
    return ["_form"]


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


# -- the schema read as a form -------------------------------------------------------------

DESCRIPTION_KEY = "x-laksa-description"
OPTIONS_KEY = "x-laksa-options"
TICKET_KEY = "x-laksa-ticket"
LONG_TEXT = 200  # a string allowed longer than this is a text area


def text_in(spec: Mapping[str, Any], key: str, fallback: str, lang: str) -> str | None:
    """``spec[key][lang]`` (an x-laksa text), else ``spec[fallback]``."""
    texts = spec.get(key)
    if isinstance(texts, Mapping) and isinstance(texts.get(lang), str):
        return str(texts[lang])
    value = spec.get(fallback)
    return str(value) if value is not None else None


@dataclass(frozen=True)
class Option:
    value: str
    title: str
    description: str | None


@dataclass(frozen=True)
class FormField:
    name: str
    widget: str  # choice | text | textarea | integer | boolean | photo | ticket
    title: str
    description: str | None
    required: bool  # always
    options: list[Option] = field(default_factory=list)
    # {property: values}: the field applies (and is required, if ``required_when``) only then
    shown_when: dict[str, list[str]] = field(default_factory=dict)
    required_when: dict[str, list[str]] = field(default_factory=dict)
    min_length: int | None = None
    max_length: int | None = None
    minimum: int | None = None
    maximum: int | None = None
    pattern: str | None = None
    attachment: str | None = None  # the photo's purpose, for a photo field


@dataclass(frozen=True)
class Form:
    name: str
    title: str
    description: str | None
    fields: list[FormField]


def form_of(name: str, schema: Mapping[str, Any], lang: str) -> Form:
    """The task's form as fields to show, from its JSON Schema, in ``lang``."""
    required = set(schema.get("required") or ())
    conditions = _conditions(schema)
    fields_ = []
    for prop, spec in (schema.get("properties") or {}).items():
        if not isinstance(spec, Mapping):
            continue
        shown, needed, tightened = conditions.get(prop, ({}, {}, {}))
        limits = {**spec, **tightened}
        fields_.append(
            FormField(
                name=prop,
                widget=_widget(spec),
                title=text_in(spec, TITLE_KEY, "title", lang) or prop,
                description=text_in(spec, DESCRIPTION_KEY, "description", lang),
                required=prop in required,
                options=_options(spec, lang),
                shown_when=shown,
                required_when=needed,
                min_length=limits.get("minLength"),
                max_length=limits.get("maxLength"),
                minimum=limits.get("minimum"),
                maximum=limits.get("maximum"),
                pattern=limits.get("pattern"),
                attachment=spec.get("x-laksa-attachment"),
            )
        )
    return Form(
        name,
        text_in(schema, TITLE_KEY, "title", lang) or name,
        text_in(schema, DESCRIPTION_KEY, "description", lang),
        fields_,
    )


def _widget(spec: Mapping[str, Any]) -> str:
    if spec.get("x-laksa-attachment"):
        return "photo"
    if spec.get(TICKET_KEY):
        return "ticket"
    if "enum" in spec:
        return "choice"
    kind = spec.get("type")
    if kind == "integer":
        return "integer"
    if kind == "boolean":
        return "boolean"
    if kind == "string" and (spec.get("maxLength") or 0) > LONG_TEXT:
        return "textarea"
    return "text"


def _options(spec: Mapping[str, Any], lang: str) -> list[Option]:
    labels = spec.get(OPTIONS_KEY) or {}
    options = []
    for value in spec.get("enum") or ():
        label = labels.get(value) if isinstance(labels, Mapping) else None
        label = label if isinstance(label, Mapping) else {}
        options.append(
            Option(
                str(value),
                text_in(label, "title", "_", lang) or str(value),
                text_in(label, "description", "_", lang),
            )
        )
    return options


def _conditions(
    schema: Mapping[str, Any],
) -> dict[str, tuple[dict[str, list[str]], dict[str, list[str]], dict[str, Any]]]:
    """Per property: when it is shown, when required, and the limits its ``then`` adds."""
    found: dict[str, tuple[dict[str, list[str]], dict[str, list[str]], dict[str, Any]]] = {}
    for item in schema.get("allOf") or ():
        test = ((item.get("if") or {}).get("properties") or {}) if isinstance(item, dict) else {}
        then = item.get("then") or {} if isinstance(item, dict) else {}
        if len(test) != 1:
            continue
        ((prop, spec),) = test.items()
        values = [spec["const"]] if "const" in spec else list(spec.get("enum") or ())
        names = set(then.get("required") or ()) | set((then.get("properties") or {}).keys())
        for name in names:
            shown, needed, limits = found.setdefault(name, ({}, {}, {}))
            shown.setdefault(prop, []).extend(str(v) for v in values)
            if name in (then.get("required") or ()):
                needed.setdefault(prop, []).extend(str(v) for v in values)
            extra = (then.get("properties") or {}).get(name)
            if isinstance(extra, Mapping):
                limits.update(extra)
    return found
