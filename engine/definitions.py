"""Deploying workflow definitions (rule 2) and the per-version cache of parsed specs."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from typing import Protocol

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import calendar
from engine import clock
from engine import sandbox
from engine.errors import NotDeployed
from engine.models import Category
from engine.models import Definition
from engine.models import DefinitionBundle
from engine.models import Group
from engine.runtime import CompiledProcess
from engine.runtime import DefinitionError
from engine.runtime import EngineError
from engine.runtime import MissingData
from engine.runtime import Runtime
from engine.runtime import time_after

FORM_PROPERTY = "formJsonSchemaFilename"
ROUTING_DECISION = "routing"  # category (and kecamatan) -> output ``opd``, a group code
_LANE_BINDING = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
# An unquoted word like P3X or PT4Q: meant as an ISO 8601 literal (valid ones are quoted by the
# runtime), not a process variable; left alone it would fail every instance at run time.
_ALMOST_ISO = re.compile(r"^(R\d*/)?PT?\d\w*$")
_SUFFIXES = (".bpmn", ".dmn", ".json")
NOTE_LIMIT = 500  # characters of a deploy note (definition_bundle.note)


@dataclass(frozen=True)
class Bundle:
    """A compiled, deployed bundle: processes plus the form schemas and status table."""

    content_hash: str
    processes: Mapping[str, CompiledProcess]
    forms: Mapping[str, dict[str, Any]]
    statuses: Mapping[str, dict[str, Any]]

    def status_label(self, status: str, lang: str = "id") -> str:
        """A status's label in ``lang``, else Indonesian, else the status code itself."""
        labels = (self.statuses.get(status) or {}).get("label")
        if not isinstance(labels, dict):
            return status
        return str(labels.get(lang) or labels.get("id") or status)


@dataclass(frozen=True)
class DeployResult:
    bundle_id: int
    created: bool
    versions: Mapping[str, int]


@lru_cache(maxsize=1)
def get_runtime() -> Runtime:
    """The process-wide runtime; its scripts see the calendar of the running command."""
    return Runtime(helpers=_script_helpers)


def _script_helpers() -> dict[str, Any]:
    """The calendar's helpers (``working_days``, ``working_deadline``) plus ``time_after``."""
    helpers = calendar.command_helpers()
    helpers["time_after"] = time_after
    return helpers


def read_files(path: Path) -> dict[str, str]:
    """Read a workflows folder (BPMN, DMN, forms/*.json, statuses.json) or one file."""
    if path.is_file():
        return {path.name: path.read_text(encoding="utf-8")}
    if not path.is_dir():
        raise DefinitionError("no such file or folder", file=str(path))
    files = {}
    for file in sorted(path.rglob("*")):
        if file.is_file() and file.suffix in _SUFFIXES and "node_modules" not in file.parts:
            files[file.relative_to(path).as_posix()] = file.read_text(encoding="utf-8")
    return files


def content_hash(files: Mapping[str, str]) -> str:
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + files[name].encode() + b"\0")
    return digest.hexdigest()


def compile_files(files: Mapping[str, str], *, known_groups: set[str] | None = None) -> Bundle:
    """Compile and check a bundle; raise DefinitionError with one line naming what is wrong."""
    if not any(name.endswith(".bpmn") for name in files):
        raise DefinitionError("no .bpmn file to deploy")
    runtime = get_runtime()
    processes = runtime.compile_bundle(files)
    forms = _forms(files)
    statuses = _statuses(files)
    for process in processes.values():
        _check_process(runtime, process, forms, statuses, known_groups, files)
    return Bundle(content_hash(files), processes, forms, statuses)


def check(session: Session, files: Mapping[str, str]) -> Bundle:
    """Every check deploy makes, against this database's groups and categories; stores
    nothing. Raises DefinitionError naming what is wrong."""
    groups = set(session.scalars(select(Group.code)))
    bundle = compile_files(files, known_groups=groups)
    _check_routing(session, files, groups)
    return bundle


def deploy(
    session: Session,
    files: Mapping[str, str],
    *,
    actor: str,
    now: datetime,
    note: str | None = None,
) -> DeployResult:
    """Store a new definition version per process unless identical content is deployed."""
    digest = content_hash(files)
    existing = session.scalar(
        select(DefinitionBundle).where(DefinitionBundle.content_hash == digest)
    )
    if existing is not None:
        rows = session.scalars(select(Definition).where(Definition.bundle_id == existing.id))
        return DeployResult(existing.id, False, {d.key: d.version for d in rows})
    bundle = check(session, files)
    row = DefinitionBundle(
        content_hash=digest, files=dict(files), deployed_at=now, deployed_by=actor, note=note
    )
    session.add(row)
    session.flush()
    versions = {}
    for key in sorted(bundle.processes):
        latest = session.scalar(select(func.max(Definition.version)).where(Definition.key == key))
        version = (latest or 0) + 1
        session.add(
            Definition(
                key=key, version=version, bundle_id=row.id, content_hash=digest, deployed_at=now
            )
        )
        versions[key] = version
    session.flush()
    return DeployResult(row.id, True, versions)


@dataclass(frozen=True)
class DefinitionRef:
    """The columns of a definition a command needs (a row, not an ORM object)."""

    id: int
    key: str
    version: int
    bundle_id: int
    content_hash: str


class _HasBundle(Protocol):
    @property
    def bundle_id(self) -> int: ...
    @property
    def content_hash(self) -> str: ...


def latest_definition(session: Session, key: str) -> DefinitionRef:
    """The latest deployed version of a process (read on every start: a deploy is live at once)."""
    row = session.execute(
        select(
            Definition.id,
            Definition.key,
            Definition.version,
            Definition.bundle_id,
            Definition.content_hash,
        )
        .where(Definition.key == key)
        .order_by(Definition.version.desc())
        .limit(1)
    ).first()
    if row is None:
        raise NotDeployed(f"no definition of process '{key}' is deployed (run `laksa deploy`)")
    return DefinitionRef(*row)


def bundle_of(session: Session, definition_id: int) -> Bundle:
    """The bundle of a definition by id; a deployed definition never changes, so the id's
    bundle is looked up once per process."""
    key = (session.connection().engine.url.render_as_string(hide_password=False), definition_id)
    ref = _refs.get(key)
    if ref is None:
        row = session.execute(
            select(
                Definition.id,
                Definition.key,
                Definition.version,
                Definition.bundle_id,
                Definition.content_hash,
            ).where(Definition.id == definition_id)
        ).first()
        if row is None:
            raise NotDeployed(f"no definition {definition_id}")
        ref = DefinitionRef(*row)
        _refs[key] = ref  # by database too: ids repeat across databases (tests, a rebuild)
    return bundle_for(session, ref)


def bundle_for(session: Session, definition: _HasBundle) -> Bundle:
    """The compiled bundle of a definition, parsed once per content hash in this process."""
    cached = _cache.get(definition.content_hash)
    if cached is not None:
        return cached
    row = session.get(DefinitionBundle, definition.bundle_id)
    if row is None:
        raise NotDeployed(f"definition bundle {definition.bundle_id} is missing")
    bundle = compile_files(row.files)
    _cache[definition.content_hash] = bundle
    return bundle


# Keyed by content hash, not row id: ids repeat across databases (tests, a rebuilt instance).
_cache: dict[str, Bundle] = {}
_refs: dict[tuple[str, int], DefinitionRef] = {}


def lane_group(lane: str | None, data: Mapping[str, Any]) -> str | None:
    """Resolve a lane name to a group code; ``{opd}`` binds the group from process data."""
    if lane is None:
        return None

    def bind(match: re.Match[str]) -> str:
        value = data.get(match.group(1))
        if not isinstance(value, str) or not value:
            raise KeyError(match.group(1))
        return value

    return _LANE_BINDING.sub(bind, lane.strip())


def _forms(files: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    forms = {}
    for name, text in files.items():
        if not name.endswith(".schema.json"):
            continue
        try:
            schema = json.loads(text)
            Draft202012Validator.check_schema(schema)
        except json.JSONDecodeError as exc:
            raise DefinitionError(f"not JSON: {exc.msg}", file=name, line=exc.lineno) from None
        except SchemaError as exc:
            raise DefinitionError(f"not a JSON Schema: {exc.message}", file=name) from None
        forms[name.rsplit("/", 1)[-1]] = schema
    return forms


def _statuses(files: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    text = files.get("statuses.json")
    if text is None:
        return {}
    try:
        table = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DefinitionError(
            f"not JSON: {exc.msg}", file="statuses.json", line=exc.lineno
        ) from None
    if not isinstance(table, dict) or not all(isinstance(v, dict) for v in table.values()):
        raise DefinitionError("expected an object of status objects", file="statuses.json")
    return table


def _check_process(
    runtime: Runtime,
    process: CompiledProcess,
    forms: Mapping[str, Any],
    statuses: Mapping[str, Any],
    known_groups: set[str] | None,
    files: Mapping[str, str],
) -> None:
    file = runtime.file_of(process)

    def fail(message: str, element_id: str) -> DefinitionError:
        return DefinitionError(
            message, file=file, line=_line_of(files, file, element_id), element_id=element_id
        )

    for element_id, kind, source in runtime.expressions(process):
        try:
            if kind == "script":
                sandbox.compile_script(source)
            else:
                sandbox.compile_expression(source)
        except sandbox.SandboxError as exc:
            raise fail(f"{kind} refused by the sandbox: {exc}", element_id) from None
        except SyntaxError as exc:
            raise fail(f"{kind} does not compile: {exc.msg}", element_id) from None
        if kind.endswith("TimerEventDefinition"):
            _check_timer(runtime, kind, source, fail, element_id)
    for element in process.elements.values():
        form = element.properties.get(FORM_PROPERTY)
        if form and form not in forms:
            raise fail(f"form '{form}' not found among the deployed forms", element.element_id)
        status = element.properties.get("status")
        if status and statuses and status not in statuses:
            raise fail(f"status '{status}' is not in statuses.json", element.element_id)
        if element.lane and known_groups is not None and element.kind.endswith("Task"):
            lane = element.lane.strip()
            if not _LANE_BINDING.search(lane) and lane not in known_groups:
                raise fail(f"lane '{lane}' is not a known group", element.element_id)


def _check_routing(session: Session, files: Mapping[str, str], groups: set[str]) -> None:
    """Refuse a routing table that sends an active category to no known OPD.

    Each active category is evaluated without a kecamatan (the citizen may give none). A
    table that reads data only known at run time cannot be checked here; it is left to the
    process (no rule matched: the ticket goes back to the verifier desk).
    """
    runtime = get_runtime()
    decision = runtime.decisions(files).get(ROUTING_DECISION)
    if decision is None:
        return
    categories = session.execute(
        select(Category.code, Category.infrastructure)
        .where(Category.active)
        .order_by(Category.code)
    ).all()

    def refuse(message: str) -> DefinitionError:
        line = _line_of(files, decision.file, ROUTING_DECISION)
        return DefinitionError(message, file=decision.file, line=line, element_id=ROUTING_DECISION)

    unrouted = []
    with clock.frozen_at(clock.now()):
        for code, infrastructure in categories:
            data = {
                "category": code,
                "kecamatan": None,
                "kind": "complaint",
                "infrastructure": infrastructure,
            }
            try:
                outputs = runtime.decide(decision, data)
            except MissingData:
                return
            except EngineError as exc:
                raise refuse(
                    f"decision '{ROUTING_DECISION}' does not evaluate for category '{code}': {exc}"
                ) from None
            opd = outputs.get("opd")
            if not any(isinstance(v, str) and v in groups for v in _as_list(opd)):
                unrouted.append(code)
    if unrouted:
        noun = "category" if len(unrouted) == 1 else "categories"
        raise refuse(
            f"decision '{ROUTING_DECISION}' routes no known OPD for active {noun} "
            f"{', '.join(unrouted)} (add a rule, or deactivate the {noun})"
        )


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _check_timer(runtime: Runtime, kind: str, source: str, fail: Any, element_id: str) -> None:
    """Evaluate a timer expression with no data; names only known at run time are allowed."""
    from engine.runtime import iso_timer_error

    with clock.frozen_at(clock.now()):
        try:
            value = runtime.evaluate(source, {})
        except Exception as exc:
            if _is_unknown_name(exc):
                if not _ALMOST_ISO.match(source.strip()):
                    return
                raise fail(
                    f"timer expression {source!r} is not an ISO 8601 value", element_id
                ) from None
            raise fail(
                f"timer expression {source!r} does not evaluate: {exc}", element_id
            ) from None
    problem = iso_timer_error(kind, value)
    if problem:
        raise fail(f"timer expression {source!r} gives {value!r}: {problem}", element_id)


def _is_unknown_name(exc: BaseException) -> bool:
    while exc is not None:
        if isinstance(exc, NameError):
            return True
        exc = exc.__cause__ or getattr(exc, "exception", None)  # type: ignore[assignment]
    return False


def _line_of(files: Mapping[str, str], file: str | None, element_id: str) -> int | None:
    text = files.get(file or "")
    if not text:
        return None
    marker = f'id="{element_id}"'
    for number, line in enumerate(text.splitlines(), start=1):
        if marker in line:
            return number
    return None
