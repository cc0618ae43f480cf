"""What a process designer does with definitions from outside the repository (the designer's
pages, the modeler, the API): check files against the running bundle and deploy them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from sqlalchemy.orm import Session

from engine import definition_catalog
from engine import definitions
from engine import forms
from engine.definition_diff import FileDiff
from engine.definition_diff import diff_bundles
from engine.definition_files import Problem
from engine.definition_files import accepted
from engine.definition_files import problems_of
from engine.definition_files import well_formed
from engine.definition_files import with_latest
from engine.definitions import DeployResult
from engine.errors import Forbidden
from engine.errors import InvalidInput
from engine.identity import Actor
from engine.runtime import DefinitionError

ROLES = frozenset({"designer", "admin"})


class DefinitionRefused(InvalidInput):
    """Files that cannot be deployed; ``problems`` names every one found (422)."""

    code = "definition_refused"

    def __init__(self, problems: list[Problem]) -> None:
        fields: dict[str, list[str]] = {}
        for p in problems:
            where = f"line {p.line}: " if p.line else ""
            element = f"element '{p.element_id}': " if p.element_id else ""
            fields.setdefault(p.file or "files", []).append(f"{where}{element}{p.message}")
        noun = "problem" if len(problems) == 1 else "problems"
        super().__init__(f"not deployed: {len(problems)} {noun} in the definition", fields=fields)
        self.problems = problems


@dataclass(frozen=True)
class Checked:
    """A bundle checked but not deployed: its problems and what it changes."""

    files: Mapping[str, str]  # the whole bundle: what was sent, the rest from the base
    base_bundle_id: int | None  # the bundle compared against (the latest deployed)
    problems: list[Problem]
    diff: Mapping[str, FileDiff]

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "problems": [p.as_json() for p in self.problems],
            "diff": {name: d.as_json() for name, d in self.diff.items()},
        }


def require_designer(actor: Actor) -> None:
    if actor.role not in ROLES:
        raise Forbidden("for process designers only")


def bundle_to_check(session: Session, sent: Mapping[str, str]) -> tuple[dict[str, str], Any]:
    """The whole bundle the sent files make with the latest deployed one, and that one.

    Raises InvalidInput or TooLarge for names and sizes, DefinitionRefused for files that are
    not safe, well-formed XML.
    """
    files = accepted(sent)
    if not files:
        raise InvalidInput("no files sent", fields={"files": ["send at least one file"]})
    base = definition_catalog.latest_files(session)
    whole = with_latest(base.files if base else {}, files)
    malformed = well_formed(whole)
    if malformed:
        raise DefinitionRefused(malformed)
    return whole, base


def check_files(session: Session, sent: Mapping[str, str]) -> Checked:
    """Every deploy check on the sent files (completed from the latest bundle), and the diff."""
    files, base = bundle_to_check(session, sent)
    try:
        definitions.check(session, files)
        problems: list[Problem] = []
    except DefinitionError as exc:
        problems = problems_of(exc)
    diff = diff_bundles(base.files if base else {}, files)
    return Checked(files, base.id if base else None, problems, diff)


def clean_note(note: Any) -> str:
    """A deploy note: required, at most NOTE_LIMIT characters."""
    if not isinstance(note, str) or not note.strip():
        raise InvalidInput("a deploy note is required", fields={"note": ["say why, in a sentence"]})
    cleaned = note.strip()
    if len(cleaned) > definitions.NOTE_LIMIT:
        limit = definitions.NOTE_LIMIT
        raise InvalidInput(
            f"the note is longer than {limit} characters",
            fields={"note": [f"at most {limit} characters"]},
        )
    return cleaned


def deploy_files(
    session: Session, sent: Mapping[str, str], *, note: Any, actor: Actor, now: datetime
) -> DeployResult:
    """Check and deploy the sent files (completed from the latest bundle) with a note."""
    require_designer(actor)
    cleaned = clean_note(note)
    files, _ = bundle_to_check(session, sent)
    try:
        return definitions.deploy(session, files, actor=actor.name, now=now, note=cleaned)
    except DefinitionError as exc:
        raise DefinitionRefused(problems_of(exc)) from None


def preview_form(schema: Any, *, lang: str, name: str = "preview.schema.json") -> forms.Form:
    """A form schema as the officers' task page would show it; DefinitionRefused if the
    schema is not a JSON Schema the engine can render."""
    if not isinstance(schema, dict):
        raise InvalidInput("'schema' must be a JSON object", fields={"schema": ["a JSON Schema"]})
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        path = "/".join(str(p) for p in exc.path) or None
        raise DefinitionRefused(
            [Problem(name, None, path, f"not a JSON Schema: {exc.message}")]
        ) from None
    try:
        return forms.form_of(name, schema, lang)
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise DefinitionRefused([Problem(name, None, None, f"cannot be shown: {exc}")]) from None
