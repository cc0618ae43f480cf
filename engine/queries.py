"""The read side: inbox and ticket views from projections, never from workflows (rule 3)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime

from sqlalchemy import case
from sqlalchemy import func
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import definitions
from engine.errors import Forbidden
from engine.identity import Actor
from engine.models import Definition
from engine.models import HumanTask
from engine.models import Incident
from engine.models import ProcessInstance
from engine.models import Ticket


@dataclass(frozen=True)
class InboxTask:
    id: int
    ticket: str
    element_id: str
    title: str
    candidate_group: str
    form: str | None
    created_at: datetime
    due_at: datetime | None
    version: int


def inbox(session: Session, groups: Iterable[str], *, limit: int = 200) -> list[InboxTask]:
    """Open tasks of the given groups, the most urgent first."""
    rows = session.execute(
        select(HumanTask, Ticket.number, ProcessInstance.version)
        .join(Ticket, Ticket.id == HumanTask.ticket_id)
        .join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id)
        .where(HumanTask.candidate_group.in_(list(groups)), HumanTask.completed_at.is_(None))
        .order_by(HumanTask.due_at.is_(None), HumanTask.due_at, HumanTask.created_at)
        .limit(limit)
    ).all()
    return [
        InboxTask(
            t.id,
            number,
            t.element_id,
            t.title,
            t.candidate_group,
            t.form,
            t.created_at,
            t.due_at,
            version,
        )
        for t, number, version in rows
    ]


# -- oversight: the supervisor's overdue list and the city's statistics ------------------------

OVERSIGHT_ROLES = frozenset({"supervisor", "auditor", "admin"})  # see every OPD
HEAD_ROLE = "opd_head"  # sees the OPDs of its ``<opd>_head`` groups
HEAD_SUFFIX = "_head"
FIXED = "fixed"  # the outcome of a resolved ticket; every other outcome is another closure
FOLLOW_UP = "waiting_follow_up"


def oversight_scope(actor: Actor) -> frozenset[str] | None:
    """The OPDs an actor oversees: None for all of them; Forbidden for other roles."""
    if actor.role in OVERSIGHT_ROLES:
        return None
    if actor.role == HEAD_ROLE:
        return frozenset(
            g.removesuffix(HEAD_SUFFIX) for g in actor.groups if g.endswith(HEAD_SUFFIX)
        )
    raise Forbidden("the overdue list and statistics are for supervisors, OPD heads and auditors")


def _narrow(scope: frozenset[str] | None, opd: str | None) -> frozenset[str] | None:
    """The OPDs a query covers: the scope, narrowed to ``opd`` if asked (within the scope)."""
    if opd is None:
        return scope
    if scope is not None and opd not in scope:
        raise Forbidden(f"you do not oversee OPD '{opd}'")
    return frozenset({opd})


@dataclass(frozen=True)
class OverdueTicket:
    number: str
    category: str
    opd: str | None
    status: str
    status_label: str
    due_at: datetime | None
    escalation_level: int
    overdue_by: int | None  # seconds past due_at (0 if escalated but its current step is not late)


def overdue(
    session: Session,
    *,
    now: datetime,
    scope: frozenset[str] | None = None,
    opd: str | None = None,
    level: int | None = None,
    lang: str = "id",
    limit: int = 500,
) -> list[OverdueTicket]:
    """Open tickets that escalated (level >= 1) or are past their due time, most overdue first.

    Reads the ticket projection only. ``level`` keeps tickets at that escalation level or
    higher; ``scope`` (from ``oversight_scope``) and ``opd`` limit the OPDs.
    """
    opds = _narrow(scope, opd)
    due = Ticket.due_at  # a breached deadline stays on the ticket (engine.projection)
    query = (
        select(Ticket, ProcessInstance.definition_id, due.label("due"))
        .outerjoin(ProcessInstance, ProcessInstance.ticket_id == Ticket.id)
        .where(Ticket.closed_at.is_(None), or_(Ticket.escalation_level >= 1, due < now))
        .order_by(due.is_(None), due, Ticket.escalation_level.desc(), Ticket.created_at)
        .limit(limit)
    )
    if opds is not None:
        query = query.where(Ticket.opd.in_(sorted(opds)))
    if level is not None:
        query = query.where(Ticket.escalation_level >= level)
    rows = session.execute(query).all()
    labels = _status_labels(session, {d for _, d, _ in rows if d is not None}, lang)
    result = []
    for ticket, definition_id, due_at in rows:
        late = None
        if due_at is not None:
            late = max(0, int((now - due_at).total_seconds()))
        result.append(
            OverdueTicket(
                ticket.number,
                ticket.category,
                ticket.opd,
                ticket.status,
                labels.get(definition_id, {}).get(ticket.status, ticket.status),
                due_at,
                ticket.escalation_level,
                late,
            )
        )
    return result


def _status_labels(
    session: Session, definition_ids: set[int], lang: str
) -> dict[int, dict[str, str]]:
    """Status labels per definition version, from the statuses.json each was deployed with."""
    labels: dict[int, dict[str, str]] = {}
    if not definition_ids:
        return labels
    for definition in session.scalars(
        select(Definition).where(Definition.id.in_(sorted(definition_ids)))
    ):
        bundle = definitions.bundle_for(session, definition)
        labels[definition.id] = {
            status: bundle.status_label(status, lang) for status in bundle.statuses
        }
    return labels


@dataclass
class Counts:
    """Tickets as the city reports them; ``resolved`` (fixed) never mixes with other closures."""

    handled: int = 0  # every ticket received
    closed: int = 0
    resolved: int = 0  # closed with outcome "fixed"
    other_closures: dict[str, int] = field(default_factory=dict)  # outcome -> count
    in_process: int = 0  # open, not waiting for follow-up
    waiting_follow_up: int = 0

    @property
    def resolution_rate(self) -> float | None:
        """fixed / closed, or None before anything closed."""
        return round(self.resolved / self.closed, 4) if self.closed else None

    def add(self, other: Counts) -> None:
        self.handled += other.handled
        self.closed += other.closed
        self.resolved += other.resolved
        self.in_process += other.in_process
        self.waiting_follow_up += other.waiting_follow_up
        for outcome, count in other.other_closures.items():
            self.other_closures[outcome] = self.other_closures.get(outcome, 0) + count


@dataclass(frozen=True)
class Stats:
    totals: Counts
    by_opd: dict[str | None, Counts]  # None: not routed to an OPD (yet, or never)


def stats(
    session: Session,
    *,
    scope: frozenset[str] | None = None,
    opd: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Stats:
    """Counts per OPD and in total, from one grouped query over the ticket projection.

    ``since``/``until`` bound the time a ticket was received (``until`` exclusive).
    """
    opds = _narrow(scope, opd)
    closed = case((Ticket.closed_at.is_(None), 0), else_=1)
    follow_up = case((Ticket.status == FOLLOW_UP, 1), else_=0)
    query = select(Ticket.opd, Ticket.outcome, closed, follow_up, func.count()).group_by(
        Ticket.opd, Ticket.outcome, closed, follow_up
    )
    if opds is not None:
        query = query.where(Ticket.opd.in_(sorted(opds)))
    if since is not None:
        query = query.where(Ticket.created_at >= since)
    if until is not None:
        query = query.where(Ticket.created_at < until)
    by_opd: dict[str | None, Counts] = {code: Counts() for code in sorted(opds or ())}
    for code, outcome, is_closed, is_follow_up, count in session.execute(query):
        counts = by_opd.setdefault(code, Counts())
        counts.handled += count
        if is_closed:
            counts.closed += count
            if outcome == FIXED:
                counts.resolved += count
            else:
                key = outcome or "none"
                counts.other_closures[key] = counts.other_closures.get(key, 0) + count
        elif is_follow_up:
            counts.waiting_follow_up += count
        else:
            counts.in_process += count
    totals = Counts()
    for counts in by_opd.values():
        totals.add(counts)
    return Stats(totals, dict(sorted(by_opd.items(), key=lambda kv: (kv[0] is None, kv[0] or ""))))


# -- incidents: what the background could not do, for the verifier desk ------------------------


@dataclass(frozen=True)
class IncidentView:
    id: int
    ticket: str | None
    kind: str
    element_id: str | None
    message: str
    at: datetime
    resolved_at: datetime | None
    resolved_by: str | None


def incidents(
    session: Session, *, include_resolved: bool = False, limit: int = 500
) -> list[IncidentView]:
    """Incidents with their ticket numbers, unresolved ones only unless asked, oldest first."""
    query = (
        select(Incident, Ticket.number)
        .outerjoin(ProcessInstance, ProcessInstance.id == Incident.instance_id)
        .outerjoin(Ticket, Ticket.id == ProcessInstance.ticket_id)
        .order_by(Incident.at, Incident.id)
        .limit(limit)
    )
    if not include_resolved:
        query = query.where(Incident.resolved_at.is_(None))
    return [
        IncidentView(
            i.id, number, i.kind, i.element_id, i.message, i.at, i.resolved_at, i.resolved_by
        )
        for i, number in session.execute(query)
    ]
