"""Time spent in each BPMN element, kept by every command for the heatmap (engine.heatmap).

A ticket *stays* in an element from when it entered it to when it left it. Both ends come from
the audit trail's ``element_completed`` events, so a command and a rebuild from the trail count
exactly the same stays:

- it left the element when the element completed (a task done, a message caught, an event
  passed); an interrupting boundary event leaves its host too, at the time it fired;
- it entered the element when the latest of the element's predecessors (the sources of its
  incoming sequence flows, in the deployed BPMN) completed before it. An element without one
  (a start event, a boundary event) is entered when it completes: a stay of 0.

Gateways, scripts and throw events thus stay 0; user tasks, receive tasks and catch events
stay as long as the ticket waited there. A stay counts on the day it ended (Asia/Jakarta), for
the OPD the ticket was with then ("" before routing: the last ``opd`` the process data set)
and the ticket's category, in a histogram of fixed log buckets (quarter octaves from a minute),
from which any range's median and p90 are read. A deadline breached (a ``deadline`` timer whose
``clock_event`` is a breach) counts for the element the timer sits on, the day it fired.

Each stay and breach counts in three dimensions, so that a range reads ranges of rows of one
dimension whatever it is narrowed to: ``all`` (key ""), ``opd`` (the OPD then) and
``category``; and in two spans, its day and its month, so that a year reads twelve months of
rows and the odd days at its ends rather than 365 days.

``rebuild`` recounts everything from ``audit_event``; a test holds the two equal.
"""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from datetime import date
from datetime import datetime
from typing import Any

from sqlalchemy import Table
from sqlalchemy import bindparam
from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import insert
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import definitions
from engine import projection
from engine.calendar import JAKARTA
from engine.models import AuditEvent
from engine.models import Definition
from engine.models import DefinitionBundle
from engine.models import ElementBreach
from engine.models import ElementStay
from engine.models import ProcessInstance
from engine.models import Ticket
from engine.runtime import Step
from engine.upserts import upsert

COMPLETED = "element_completed"
_BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
_STAY: Table = ElementStay.__table__  # type: ignore[assignment]
_BREACH: Table = ElementBreach.__table__  # type: ignore[assignment]
_AUDIT: Table = AuditEvent.__table__  # type: ignore[assignment]

# process, dimension, key, span, day, element(, bucket)
StayKey = tuple[str, str, str, str, date, str, int]
BreachKey = tuple[str, str, str, str, date, str]
DAY, MONTH = "d", "m"  # spans: a row of one day, or of a month (its day the month's first)
ALL, OPD, CATEGORY = "all", "opd", "category"  # the dimensions: a range reads one of them

# -- buckets ------------------------------------------------------------------------------------

_FIRST = 60.0  # seconds: bucket 0 holds stays under a minute (the instant elements)
_STEPS_PER_OCTAVE = 4  # each bucket 2^(1/4) wide: a median read from it is within 9 %


def bucket(seconds: float) -> int:
    """The histogram bucket of a stay: 0 under a minute, then quarter octaves."""
    if seconds < _FIRST:
        return 0
    return 1 + int(_STEPS_PER_OCTAVE * math.log2(seconds / _FIRST))


def bucket_bounds(b: int) -> tuple[float, float]:
    """The bucket's lower and upper bound in seconds."""
    if b <= 0:
        return 0.0, _FIRST
    lower = _FIRST * 2 ** ((b - 1) / _STEPS_PER_OCTAVE)
    return lower, lower * 2 ** (1 / _STEPS_PER_OCTAVE)


def bucket_value(b: int) -> float:
    """What a bucket stands for, in seconds: 0 for bucket 0, else its geometric middle."""
    if b <= 0:
        return 0.0
    lower, upper = bucket_bounds(b)
    return math.sqrt(lower * upper)


def quantile(buckets: Iterable[tuple[int, int]], q: float) -> float | None:
    """The ``q`` quantile (nearest rank) of a histogram of (bucket, count), in seconds."""
    ordered = sorted(buckets)
    total = sum(n for _, n in ordered)
    if total <= 0:
        return None
    rank = max(1, math.ceil(q * total))
    seen = 0
    for b, n in ordered:
        seen += n
        if seen >= rank:
            return bucket_value(b)
    return None


# -- the diagram's flow ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Flow:
    """What attribution needs of one deployed process: predecessors, boundary hosts, breaches."""

    key: str
    predecessors: Mapping[str, frozenset[str]]
    hosts: Mapping[str, tuple[str, bool]]  # boundary event -> (host, interrupts it)
    breaches: frozenset[str]  # elements whose completion is a deadline breached


def flow_of(files: Mapping[str, str], key: str, elements: Mapping[str, Any]) -> Flow:
    """The flow of process ``key`` from a bundle's BPMN files (already checked at deploy)."""
    predecessors: dict[str, set[str]] = {}
    hosts: dict[str, tuple[str, bool]] = {}
    for name, text in sorted(files.items()):
        if not name.endswith(".bpmn") or "<!DOCTYPE" in text or "<!ENTITY" in text:
            continue  # a BPMN file needs no DTD; without one there is no entity to expand
        root = ET.fromstring(text)  # noqa: S314 - a deployed file, no DTD (checked above)
        for process in root.iter(f"{_BPMN}process"):
            if process.get("id") != key:
                continue
            for node in process.iter():
                if node.tag == f"{_BPMN}sequenceFlow":
                    source, target = node.get("sourceRef"), node.get("targetRef")
                    if source and target:
                        predecessors.setdefault(target, set()).add(source)
                elif node.tag == f"{_BPMN}boundaryEvent":
                    host = node.get("attachedToRef")
                    if host and node.get("id"):
                        cancels = (node.get("cancelActivity") or "true").lower() != "false"
                        hosts[str(node.get("id"))] = (host, cancels)
    breaches = frozenset(
        element_id
        for element_id, element in elements.items()
        if projection.is_breach(
            Step("", element_id, element.name, element.kind, element.properties, {})
        )
    )
    return Flow(key, {k: frozenset(v) for k, v in predecessors.items()}, hosts, breaches)


def flow_for(session: Session, definition_id: int) -> Flow:
    """The flow of a deployed definition, worked out once per definition in this process."""
    url = session.connection().engine.url.render_as_string(hide_password=False)
    cached = _flows.get((url, definition_id))
    if cached is not None:
        return cached
    row = session.execute(
        select(
            Definition.key, Definition.bundle_id, Definition.content_hash, DefinitionBundle.files
        )
        .join(DefinitionBundle, DefinitionBundle.id == Definition.bundle_id)
        .where(Definition.id == definition_id)
    ).one()
    by_hash = _by_hash.get((row.content_hash, row.key))
    if by_hash is None:
        bundle = definitions.bundle_for(session, row)
        process = bundle.processes.get(row.key)
        elements = process.elements if process is not None else {}
        by_hash = _by_hash[(row.content_hash, row.key)] = flow_of(row.files, row.key, elements)
    _flows[(url, definition_id)] = by_hash
    return by_hash


_flows: dict[tuple[str, int], Flow] = {}  # by database and id: ids repeat across databases
_by_hash: dict[tuple[str, str], Flow] = {}


# -- attribution ----------------------------------------------------------------------------------


@dataclass
class Trail:
    """One instance's history as attribution needs it: latest completions and the OPD."""

    last: dict[str, datetime] = field(default_factory=dict)
    opd: str = ""


@dataclass(frozen=True)
class Completion:
    """One ``element_completed`` event: when, which element, the OPD its data set (if any)."""

    at: datetime
    element_id: str
    opd: str | None = None


@dataclass
class Tally:
    stays: Counter[StayKey] = field(default_factory=Counter)
    breaches: Counter[BreachKey] = field(default_factory=Counter)


def attribute(
    flow: Flow, trail: Trail, category: str, completions: Iterable[Completion], into: Tally
) -> None:
    """Count the stays and breaches of an instance's completions, in order, moving its trail."""
    for c in completions:
        day = c.at.astimezone(JAKARTA).date()
        host = flow.hosts.get(c.element_id)
        if host is not None and host[1]:
            _stay(flow, trail, category, host[0], c.at, day, into)
        _stay(flow, trail, category, c.element_id, c.at, day, into)
        if c.element_id in flow.breaches:
            where = host[0] if host is not None else c.element_id
            for dimension, key, span, first in _keys(trail, category, day):
                into.breaches[(flow.key, dimension, key, span, first, where)] += 1
        trail.last[c.element_id] = c.at
        if c.opd is not None:
            trail.opd = c.opd


def _stay(
    flow: Flow,
    trail: Trail,
    category: str,
    element_id: str,
    at: datetime,
    day: date,
    into: Tally,
) -> None:
    entered = max(
        (trail.last[p] for p in flow.predecessors.get(element_id, ()) if p in trail.last),
        default=at,
    )
    b = bucket(max(0.0, (at - entered).total_seconds()))
    for dimension, key, span, first in _keys(trail, category, day):
        into.stays[(flow.key, dimension, key, span, first, element_id, b)] += 1


def _keys(trail: Trail, category: str, day: date) -> list[tuple[str, str, str, date]]:
    month = day.replace(day=1)
    return [
        (dimension, key, span, first)
        for dimension, key in ((ALL, ""), (OPD, trail.opd), (CATEGORY, category))
        for span, first in ((DAY, day), (MONTH, month))
    ]


def opd_set(delta: Mapping[str, Any]) -> str | None:
    """The OPD a step's data change routed the ticket to, if it did (as project_ticket reads)."""
    value = delta.get("opd")
    return value if isinstance(value, str) else None


# -- kept by every command ------------------------------------------------------------------------


def keep(
    session: Session,
    row: ProcessInstance,
    ticket: Ticket,
    steps: Sequence[Step],
    *,
    opd_before: str | None,
    now: datetime,
    new: bool,
) -> None:
    """Count the stays and breaches of a command's steps (before its audit rows are written).

    At most three statements: the latest completions of the predecessors this command's steps
    need (only when a step was entered in an earlier command), the stays, the breaches.
    """
    if not steps:
        return
    flow = flow_for(session, row.definition_id)
    needed: set[str] = set()
    seen: set[str] = set()
    for s in steps:
        host = flow.hosts.get(s.element_id)
        waited = [s.element_id] + ([host[0]] if host is not None and host[1] else [])
        for element_id in waited:
            needed.update(p for p in flow.predecessors.get(element_id, ()) if p not in seen)
        seen.add(s.element_id)
    trail = Trail(opd=opd_before or "")
    if needed and not new:
        found = session.connection().execute(
            _LAST_COMPLETIONS, {"instance_id": row.id, "elements": sorted(needed)}
        )
        trail.last = {r[0]: r[1] for r in found}
    tally = Tally()
    completions = [Completion(now, s.element_id, opd_set(s.delta)) for s in steps]
    attribute(flow, trail, ticket.category, completions, tally)
    _add(session, tally)


# Built once (a statement built per command cost four times its execution).
_LAST_COMPLETIONS = (
    select(_AUDIT.c.element_id, func.max(_AUDIT.c.at))
    .where(
        _AUDIT.c.instance_id == bindparam("instance_id"),
        _AUDIT.c.action == COMPLETED,
        _AUDIT.c.element_id.in_(bindparam("elements", expanding=True)),
    )
    .group_by(_AUDIT.c.element_id)
)


def _add(session: Session, tally: Tally) -> None:
    conn = session.connection()
    stays = [_stay_row(k, n) for k, n in sorted(tally.stays.items())]
    upsert(conn, _STAY, stays, _STAY_KEY, "count", "add")
    breaches = [_breach_row(k, n) for k, n in sorted(tally.breaches.items())]
    upsert(conn, _BREACH, breaches, _BREACH_KEY, "count", "add")


_STAY_KEY = ("process_key", "dimension", "key", "span", "day", "element_id", "bucket")
_BREACH_KEY = ("process_key", "dimension", "key", "span", "day", "element_id")


def _stay_row(key: StayKey, n: int) -> dict[str, Any]:
    process_key, dimension, k, span, day, element_id, b = key
    return {
        "process_key": process_key,
        "dimension": dimension,
        "key": k,
        "span": span,
        "day": day,
        "element_id": element_id,
        "bucket": b,
        "count": n,
    }


def _breach_row(key: BreachKey, n: int) -> dict[str, Any]:
    process_key, dimension, k, span, day, element_id = key
    return {
        "process_key": process_key,
        "dimension": dimension,
        "key": k,
        "span": span,
        "day": day,
        "element_id": element_id,
        "count": n,
    }


# -- rebuilt from the audit trail -----------------------------------------------------------------


def recount(session: Session, *, batch: int = 5000) -> Tally:
    """The stays and breaches as the commands should have kept them, from ``audit_event``."""
    tally = Tally()
    statement = (
        select(
            _AUDIT.c.instance_id,
            _AUDIT.c.at,
            _AUDIT.c.element_id,
            _AUDIT.c.data,
            ProcessInstance.definition_id,
            Ticket.category,
        )
        .join(ProcessInstance, ProcessInstance.id == _AUDIT.c.instance_id)
        .join(Ticket, Ticket.id == ProcessInstance.ticket_id)
        .where(_AUDIT.c.action == COMPLETED, _AUDIT.c.element_id.is_not(None))
        .order_by(_AUDIT.c.instance_id, _AUDIT.c.seq)
        .execution_options(yield_per=batch)
    )
    current: int | None = None
    trail = Trail()
    flows: dict[int, Flow] = {}
    for instance_id, at, element_id, data, definition_id, category in session.execute(statement):
        if instance_id != current:
            current, trail = instance_id, Trail()
        opd = None
        if '"opd"' in data:
            delta = json.loads(data)
            opd = opd_set(delta) if isinstance(delta, dict) else None
        flow = flows.get(definition_id)
        if flow is None:
            flow = flows[definition_id] = flow_for(session, definition_id)
        attribute(flow, trail, category, [Completion(at, element_id, opd)], tally)
    return tally


def rebuild(session: Session) -> int:
    """Replace the kept stays and breaches with a recount from the audit trail; the stays."""
    tally = recount(session)
    session.execute(delete(ElementStay))
    session.execute(delete(ElementBreach))
    stays = [_stay_row(k, n) for k, n in tally.stays.items()]
    for i in range(0, len(stays), 10_000):
        session.execute(insert(ElementStay), stays[i : i + 10_000])
    breaches = [_breach_row(k, n) for k, n in tally.breaches.items()]
    if breaches:
        session.execute(insert(ElementBreach), breaches)
    return sum(n for k, n in tally.stays.items() if k[1] == ALL and k[3] == DAY)


def rebuild_if_missing(session: Session) -> int:
    """Rebuild when the audit trail has completions but no stay was ever kept (an old database)."""
    if session.scalar(select(_STAY.c.element_id).limit(1)) is not None:
        return 0
    if session.scalar(select(_AUDIT.c.id).where(_AUDIT.c.action == COMPLETED).limit(1)) is None:
        return 0
    return rebuild(session)


def stored(session: Session) -> Tally:
    """The kept stays and breaches (rows at zero left out)."""
    tally = Tally()
    for s in session.scalars(select(ElementStay).where(ElementStay.count != 0)):
        tally.stays[(s.process_key, s.dimension, s.key, s.span, s.day, s.element_id, s.bucket)] = (
            s.count
        )
    for b in session.scalars(select(ElementBreach).where(ElementBreach.count != 0)):
        tally.breaches[(b.process_key, b.dimension, b.key, b.span, b.day, b.element_id)] = b.count
    return tally
