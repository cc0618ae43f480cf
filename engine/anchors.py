"""Anchors: a daily digest over every audit chain's head, itself chained and published.

The audit trail (``engine.audit``) is chained per ticket, so an edited, removed or added event
is found. But someone with write access to the database can recompute a whole chain and its
head consistently, and the chain check alone then passes. An anchor closes that gap: once a day
(Asia/Jakarta) it takes a watermark (the newest audit event id), the head of every chain as of
that watermark (for each instance, its last event with id <= watermark) and a Merkle root over
those heads, chained to the previous anchor. Anchors are published at ``/jejak-audit`` and
``/jejak-audit.json`` for anyone to keep a copy: a past rewritten after an anchor was published
no longer gives that anchor's root, and an anchor rewritten too no longer matches the copies.

The digest (also explained on the public page)::

    leaf        = SHA-256(0x00 || "<instance id>:<seq>:<event hash>"), in instance id order
    node        = SHA-256(0x01 || left || right); a level's odd last node goes up unchanged
    root        = the top node in hex (SHA-256 of nothing when there is no chain)
    anchor hash = SHA-256(prev_hash || canonical JSON [day, created_at, last_event_id,
                                                       chains, root])

``audit_anchor`` and ``audit_anchor_head`` refuse UPDATE and DELETE (database triggers, see
``engine.models.append_only_ddl``). ``audit_anchor_head`` keeps the head each anchor published
for the chains that moved since the anchor before, so ``verify`` names the ticket that no longer
matches and ``proof_for`` reads one row instead of recomputing a million heads.

Functions:

- ``anchor_today(factory, now=)`` -> ``Outcome``: make today's anchor, or return the one made.
- ``anchor_if_missing(factory, now=)``: the sweeper's daily step (one index probe when made).
- ``verify(session)`` -> ``list[AnchorProblem]``: the anchor chain, each published root against
  the heads kept with it, and those heads against today's ``audit_event``.
- ``proof_for(session, instance_id, with_path=False)`` -> ``Proof | None``: for the auditor's
  ticket page. The latest anchor covering the instance (None when no anchor does yet: a ticket
  newer than the last anchor), the head it published for the instance, whether the instance's
  events up to the watermark still recompute to that head (``matches``, with ``reason`` when
  not), and with ``with_path`` the Merkle audit path, which ``root_from_path`` turns back into
  the published root. Without the path it reads the instance's events and two rows; the path
  needs every head the anchor published (seconds at a million tickets: compute it on request).
- ``page(session, before=, limit=)``: anchors newest first for the public page.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_left
from collections.abc import Iterable
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC
from datetime import date
from datetime import datetime

from sqlalchemy import Select
from sqlalchemy import Table
from sqlalchemy import and_
from sqlalchemy import func
from sqlalchemy import insert
from sqlalchemy import literal
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from engine import audit
from engine.calendar import JAKARTA
from engine.db import is_sqlite
from engine.models import AuditAnchor
from engine.models import AuditAnchorHead
from engine.models import AuditEvent
from engine.models import ProcessInstance
from engine.models import Ticket

GENESIS = audit.GENESIS
EMPTY_ROOT = hashlib.sha256(b"").hexdigest()
_EVENT: Table = AuditEvent.__table__  # type: ignore[assignment]
_HEAD: Table = AuditAnchorHead.__table__  # type: ignore[assignment]
_STREAM = 5000  # rows fetched at a time when reading every event or head


# -- the digest ----------------------------------------------------------------------------------


def leaf_hash(instance_id: int, seq: int, event_hash: str) -> bytes:
    return hashlib.sha256(b"\x00" + f"{instance_id}:{seq}:{event_hash}".encode()).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


class _Builder:
    """The Merkle root of leaves given one by one, keeping one node per level (O(log n))."""

    def __init__(self) -> None:
        self.stack: list[tuple[int, bytes]] = []  # (height, node), heights strictly falling
        self.count = 0

    def add(self, leaf: bytes) -> None:
        self.count += 1
        height, node = 0, leaf
        while self.stack and self.stack[-1][0] == height:
            node = _node(self.stack.pop()[1], node)
            height += 1
        self.stack.append((height, node))

    def root(self) -> str:
        if not self.stack:
            return EMPTY_ROOT
        node = self.stack[-1][1]
        for _, left in reversed(self.stack[:-1]):
            node = _node(left, node)
        return node.hex()


def merkle_root(leaves: Iterable[bytes]) -> str:
    builder = _Builder()
    for leaf in leaves:
        builder.add(leaf)
    return builder.root()


def _levels(leaves: list[bytes]) -> list[list[bytes]]:
    levels = [leaves]
    while len(levels[-1]) > 1:
        below = levels[-1]
        above = [_node(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)]
        if len(below) % 2:
            above.append(below[-1])
        levels.append(above)
    return levels


def audit_path(leaves: list[bytes], index: int) -> list[tuple[str, str]]:
    """The siblings from leaf ``index`` up to the root: ("L"|"R", hex), the side of the sibling."""
    path = []
    for level in _levels(leaves)[:-1]:
        sibling = index ^ 1
        if sibling < len(level):
            path.append(("L" if sibling < index else "R", level[sibling].hex()))
        index //= 2
    return path


def root_from_path(leaf: bytes, path: Sequence[tuple[str, str]]) -> str:
    node = leaf
    for side, sibling in path:
        other = bytes.fromhex(sibling)
        node = _node(other, node) if side == "L" else _node(node, other)
    return node.hex()


class _Tree:
    """A Merkle tree kept across anchors: changed and appended leaves rehash only their paths."""

    def __init__(self) -> None:
        self.ids: list[int] = []
        self.levels: list[list[bytes]] = [[]]

    def update(self, heads: Sequence[tuple[int, bytes]]) -> None:
        """Set the leaves of ``heads`` (instance id, leaf), given in instance id order."""
        leaves = self.levels[0]
        dirty: set[int] = set()
        inserted = False
        for instance_id, leaf in heads:
            at = bisect_left(self.ids, instance_id)
            if at < len(self.ids) and self.ids[at] == instance_id:
                leaves[at] = leaf
            elif at == len(self.ids):
                self.ids.append(instance_id)
                leaves.append(leaf)
            else:  # an instance older than the last one covered: positions shift, rebuild
                self.ids.insert(at, instance_id)
                leaves.insert(at, leaf)
                inserted = True
            dirty.add(at)
        if inserted:
            self.levels = _levels(leaves)
            return
        level = 0
        while len(self.levels[level]) > 1:
            below = self.levels[level]
            if level + 1 == len(self.levels):
                self.levels.append([])
            above = self.levels[level + 1]
            size = (len(below) + 1) // 2
            del above[size:]
            above.extend(b"" for _ in range(size - len(above)))
            parents = {i // 2 for i in dirty}
            for p in parents:
                left = 2 * p
                pair = left + 1 < len(below)
                above[p] = _node(below[left], below[left + 1]) if pair else below[left]
            dirty = parents
            level += 1
        del self.levels[level + 1 :]

    def root(self) -> str:
        top = self.levels[-1]
        return top[0].hex() if top else EMPTY_ROOT


def anchor_hash(
    prev_hash: str, day: date, created_at: datetime, last_event_id: int, chains: int, root: str
) -> str:
    body = audit.canonical([day.isoformat(), created_at.isoformat(), last_event_id, chains, root])
    return hashlib.sha256((prev_hash + body).encode()).hexdigest()


def _stamp(moment: datetime) -> datetime:
    """UTC, whole seconds: what every backend gives back as it was hashed."""
    return moment.astimezone(UTC).replace(microsecond=0)


# -- making anchors ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    anchor: AuditAnchor
    created: bool  # False: today's anchor already existed


def jakarta_day(now: datetime) -> date:
    return now.astimezone(JAKARTA).date()


def for_day(session: Session, day: date) -> AuditAnchor | None:
    return session.scalars(select(AuditAnchor).where(AuditAnchor.day == day)).one_or_none()


def latest(session: Session) -> AuditAnchor | None:
    return session.scalars(select(AuditAnchor).order_by(AuditAnchor.id.desc()).limit(1)).first()


def _watermark(factory: sessionmaker[Session]) -> int:
    """The newest audit event id such that no event with a smaller id can still appear.

    On PostgreSQL an id is drawn when a row is inserted, and a transaction still open may hold a
    smaller id than one already committed: a SHARE lock on audit_event waits for every open
    writer and is released at once. SQLite has one writer at a time (BEGIN IMMEDIATE).
    """
    with factory.begin() as session:
        if not is_sqlite(session):
            session.execute(select(literal(1)))  # begin before taking the lock
            session.connection().exec_driver_sql("SET LOCAL lock_timeout = '60s'")
            session.connection().exec_driver_sql("LOCK TABLE audit_event IN SHARE MODE")
        return session.scalar(select(func.coalesce(func.max(AuditEvent.id), 0))) or 0


def _heads_query(watermark: int) -> Select[int, int, str]:
    """(instance id, seq, hash) of every chain's last event with id <= watermark, by instance.

    One query: the last event id per instance is read from the (instance_id, seq) index (on
    SQLite the index holds the row id, so no table row is read), then its seq and hash.
    """
    last = (
        select(func.max(_EVENT.c.id))
        .where(_EVENT.c.id <= watermark)
        .group_by(_EVENT.c.instance_id)
        .scalar_subquery()
    )
    return (
        select(_EVENT.c.instance_id, _EVENT.c.seq, _EVENT.c.hash)
        .where(_EVENT.c.id.in_(last))
        .order_by(_EVENT.c.instance_id)
    )


def _root_at(factory: sessionmaker[Session], watermark: int) -> tuple[int, str]:
    """(chains, Merkle root) of the heads at ``watermark``, read without holding up writers.

    On SQLite every transaction of ours takes the write lock (BEGIN IMMEDIATE, see engine.db),
    so the heads are read as one statement on a connection in autocommit: a WAL reader with its
    own snapshot, while commands go on writing. PostgreSQL readers never block writers.
    """
    builder = _Builder()
    query = _heads_query(watermark)
    with factory() as session:
        bind = session.get_bind()
        if bind.dialect.name != "sqlite":
            for instance_id, seq, event_hash in session.execute(
                query.execution_options(yield_per=_STREAM)
            ):
                builder.add(leaf_hash(instance_id, seq, event_hash))
            return builder.count, builder.root()
    sql = str(query.compile(dialect=bind.dialect, compile_kwargs={"literal_binds": True}))
    raw = bind.raw_connection()  # type: ignore[union-attr]
    try:
        cursor = raw.cursor()
        cursor.execute(sql)
        while rows := cursor.fetchmany(_STREAM):
            for instance_id, seq, event_hash in rows:
                builder.add(leaf_hash(instance_id, seq, event_hash))
        cursor.close()
    finally:
        raw.close()
    return builder.count, builder.root()


def anchor_today(factory: sessionmaker[Session], *, now: datetime) -> Outcome:
    """Publish today's anchor (Jakarta day of ``now``); a second call the same day does nothing.

    The heads are read and hashed before the short transaction that writes the anchor, so
    commands are not held up while a million heads are hashed.
    """
    day = jakarta_day(now)
    for _ in range(3):
        with factory() as session:
            existing = for_day(session, day)
            if existing is not None:
                return Outcome(existing, created=False)
        watermark = _watermark(factory)
        chains, root = _root_at(factory, watermark)
        try:
            made = _write(factory, day=day, now=now, watermark=watermark, chains=chains, root=root)
        except IntegrityError:  # another sweeper published today's anchor meanwhile
            made = None
        if made is not None:
            return made
    raise RuntimeError(f"could not publish the audit anchor of {day}")


def _write(
    factory: sessionmaker[Session],
    *,
    day: date,
    now: datetime,
    watermark: int,
    chains: int,
    root: str,
) -> Outcome | None:
    """Write the anchor; the existing one if today's was made meanwhile; None to compute again
    (an anchor with a later watermark appeared meanwhile)."""
    with factory.begin() as session:
        existing = for_day(session, day)
        if existing is not None:
            return Outcome(existing, created=False)
        previous = latest(session)
        since = previous.last_event_id if previous else 0
        if watermark < since:
            return None
        created_at = _stamp(now)
        prev_hash = previous.hash if previous else GENESIS
        anchor = AuditAnchor(
            day=day,
            created_at=created_at,
            last_event_id=watermark,
            chains=chains,
            root=root,
            prev_hash=prev_hash,
            hash=anchor_hash(prev_hash, day, created_at, watermark, chains, root),
        )
        session.add(anchor)
        session.flush()
        _keep_moved_heads(session, anchor.id, since, watermark)
    return Outcome(anchor, created=True)


def _keep_moved_heads(session: Session, anchor_id: int, since: int, watermark: int) -> None:
    """Store the heads of the chains with events in (since, watermark]: a range of event ids.

    An instance's events get increasing ids as its seq grows (its row is locked for every
    append), so its head at the watermark is its newest event in that range.
    """
    moved = (
        select(func.max(_EVENT.c.id))
        .where(_EVENT.c.id > since, _EVENT.c.id <= watermark)
        .group_by(_EVENT.c.instance_id)
    )
    session.execute(
        insert(_HEAD).from_select(
            ["anchor_id", "instance_id", "seq", "hash"],
            select(literal(anchor_id), _EVENT.c.instance_id, _EVENT.c.seq, _EVENT.c.hash).where(
                _EVENT.c.id.in_(moved)
            ),
        )
    )


def anchor_if_missing(factory: sessionmaker[Session], *, now: datetime) -> AuditAnchor | None:
    """The sweeper's step: make today's anchor if there is none; the new anchor, else None."""
    with factory() as session:
        if session.scalar(select(AuditAnchor.id).where(AuditAnchor.day == jakarta_day(now))):
            return None
    outcome = anchor_today(factory, now=now)
    return outcome.anchor if outcome.created else None


def count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(AuditAnchor)) or 0


def published(session: Session) -> list[AuditAnchor]:
    """Every anchor, newest first (a few hundred bytes a day)."""
    return list(session.scalars(select(AuditAnchor).order_by(AuditAnchor.id.desc())))


def page(
    session: Session, *, before: int | None = None, limit: int = 30
) -> tuple[list[AuditAnchor], int | None]:
    """Anchors newest first, ``limit`` at a time; the cursor of the next page or None."""
    query = select(AuditAnchor).order_by(AuditAnchor.id.desc()).limit(limit + 1)
    if before is not None:
        query = query.where(AuditAnchor.id < before)
    found = list(session.scalars(query))
    more = found[limit - 1].id if len(found) > limit else None
    return found[:limit], more


# -- verifying -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AnchorProblem:
    day: date
    ticket_number: str | None  # None: the anchor itself, not one ticket
    reason: str


def verify(session: Session) -> list[AnchorProblem]:
    """Check the anchor chain, each anchor's root, and every published head against the events.

    Cost: two queries over the audit events and the kept heads, plus rehashing the paths of the
    heads each anchor moved; not one full recomputation per anchor.
    """
    anchors = list(session.scalars(select(AuditAnchor).order_by(AuditAnchor.id)))
    problems = _check_chain(anchors)
    problems += _check_roots(session, anchors)
    problems += _check_heads(session, anchors)
    return problems


def _check_chain(anchors: Sequence[AuditAnchor]) -> list[AnchorProblem]:
    problems = []
    prev, watermark = GENESIS, 0
    for a in anchors:
        if a.prev_hash != prev:
            problems.append(AnchorProblem(a.day, None, "anchor chain broken (prev_hash differs)"))
        expected = anchor_hash(a.prev_hash, a.day, a.created_at, a.last_event_id, a.chains, a.root)
        if a.hash != expected:
            problems.append(AnchorProblem(a.day, None, "anchor was edited (hash does not match)"))
        if a.last_event_id < watermark:
            problems.append(AnchorProblem(a.day, None, "watermark went back"))
        prev, watermark = a.hash, a.last_event_id
    return problems


def _check_roots(session: Session, anchors: Sequence[AuditAnchor]) -> list[AnchorProblem]:
    """Each published root and count against the heads kept with the anchors up to it."""
    problems = []
    tree = _Tree()
    for a in anchors:
        moved = session.execute(
            select(_HEAD.c.instance_id, _HEAD.c.seq, _HEAD.c.hash)
            .where(_HEAD.c.anchor_id == a.id)
            .order_by(_HEAD.c.instance_id)
        )
        tree.update([(i, leaf_hash(i, seq, h)) for i, seq, h in moved])
        if tree.root() != a.root or len(tree.ids) != a.chains:
            problems.append(
                AnchorProblem(
                    a.day, None, "published root does not match the heads kept with the anchor"
                )
            )
    return problems


def _check_heads(session: Session, anchors: Sequence[AuditAnchor]) -> list[AnchorProblem]:
    """Recompute, from today's events, the heads every anchor kept, and compare; in the database.

    Each event falls in the window of the first anchor whose watermark reaches it; a chain's
    newest event in a window is the head that anchor must have kept for it.
    """
    if not anchors:
        return []
    lo = func.coalesce(func.lag(AuditAnchor.last_event_id).over(order_by=AuditAnchor.id), 0)
    window = select(
        AuditAnchor.id.label("anchor_id"), AuditAnchor.last_event_id.label("hi"), lo.label("lo")
    ).subquery("w")
    newest = (
        select(window.c.anchor_id, func.max(_EVENT.c.id).label("event_id"))
        .select_from(_EVENT)
        .join(window, and_(_EVENT.c.id > window.c.lo, _EVENT.c.id <= window.c.hi))
        .group_by(window.c.anchor_id, _EVENT.c.instance_id)
        .subquery("newest")
    )
    event = _EVENT.alias("e")
    kept = and_(_HEAD.c.anchor_id == newest.c.anchor_id, _HEAD.c.instance_id == event.c.instance_id)
    differing = session.execute(
        select(newest.c.anchor_id, event.c.instance_id, event.c.seq, _HEAD.c.seq)
        .select_from(newest)
        .join(event, event.c.id == newest.c.event_id)
        .outerjoin(_HEAD, kept)
        .where(
            or_(_HEAD.c.hash.is_(None), _HEAD.c.hash != event.c.hash, _HEAD.c.seq != event.c.seq)
        )
    ).all()
    kept_window = window.alias("kw")
    in_window = (
        select(literal(1))
        .where(
            _EVENT.c.instance_id == _HEAD.c.instance_id,
            _EVENT.c.id > kept_window.c.lo,
            _EVENT.c.id <= kept_window.c.hi,
        )
        .exists()
    )
    gone = session.execute(
        select(_HEAD.c.anchor_id, _HEAD.c.instance_id)
        .join(kept_window, kept_window.c.anchor_id == _HEAD.c.anchor_id)
        .where(~in_window)
    ).all()
    found: list[tuple[int, int, str]] = []
    for anchor_id, instance_id, seq, kept_seq in differing:
        if kept_seq is None:
            reason = "events not covered by the anchor appeared before its watermark"
        else:
            reason = (
                f"chain head differs from the published one (event {seq}, "
                f"published event {kept_seq})"
            )
        found.append((anchor_id, instance_id, reason))
    found += [(a, i, "events covered by the anchor are gone") for a, i in gone]
    days = {a.id: a.day for a in anchors}
    numbers = _numbers(session, {i for _, i, _ in found})
    return [
        AnchorProblem(days[a], numbers.get(i, f"instance {i}"), reason)
        for a, i, reason in sorted(found)
    ]


def _numbers(session: Session, instance_ids: set[int]) -> dict[int, str]:
    if not instance_ids:
        return {}
    return dict(
        session.execute(
            select(ProcessInstance.id, Ticket.number)
            .join(Ticket, Ticket.id == ProcessInstance.ticket_id)
            .where(ProcessInstance.id.in_(instance_ids))
        ).all()
    )


# -- one ticket's proof --------------------------------------------------------------------------


@dataclass(frozen=True)
class Proof:
    anchor: AuditAnchor  # the latest anchor covering the instance
    instance_id: int
    seq: int  # the head the anchor published for the instance
    event_hash: str
    matches: bool  # the instance's events up to the watermark still give that head
    reason: str | None  # why not, when they do not
    path: list[tuple[str, str]] | None  # with_path: siblings up to anchor.root (root_from_path)

    @property
    def leaf(self) -> bytes:
        return leaf_hash(self.instance_id, self.seq, self.event_hash)


def proof_for(session: Session, instance_id: int, *, with_path: bool = False) -> Proof | None:
    """The latest anchor covering ``instance_id`` and whether its events still match it."""
    anchor = latest(session)
    if anchor is None:
        return None
    kept = session.execute(
        select(_HEAD.c.seq, _HEAD.c.hash)
        .where(_HEAD.c.instance_id == instance_id, _HEAD.c.anchor_id <= anchor.id)
        .order_by(_HEAD.c.anchor_id.desc())
        .limit(1)
    ).first()
    if kept is None:
        return None
    seq, event_hash = kept
    number = session.scalar(
        select(Ticket.number)
        .join(ProcessInstance, ProcessInstance.ticket_id == Ticket.id)
        .where(ProcessInstance.id == instance_id)
    )
    rows = list(
        session.scalars(
            select(AuditEvent)
            .where(AuditEvent.instance_id == instance_id, AuditEvent.id <= anchor.last_event_id)
            .order_by(AuditEvent.seq)
        )
    )
    problem = audit.check_events(rows, number or "", seq=seq, head=event_hash)
    path = None
    if with_path:
        ids, leaves = _leaves_at(session, anchor.id)
        path = audit_path(leaves, bisect_left(ids, instance_id))
    return Proof(
        anchor=anchor,
        instance_id=instance_id,
        seq=seq,
        event_hash=event_hash,
        matches=problem is None,
        reason=None if problem is None else f"event {problem[0]}: {problem[1]}",
        path=path,
    )


def _leaves_at(session: Session, anchor_id: int) -> tuple[list[int], list[bytes]]:
    """Every head the anchor published, from the heads kept up to it, in instance id order."""
    last = (
        select(_HEAD.c.instance_id, func.max(_HEAD.c.anchor_id).label("anchor_id"))
        .where(_HEAD.c.anchor_id <= anchor_id)
        .group_by(_HEAD.c.instance_id)
        .subquery()
    )
    rows = session.execute(
        select(_HEAD.c.instance_id, _HEAD.c.seq, _HEAD.c.hash)
        .join(
            last,
            (last.c.instance_id == _HEAD.c.instance_id) & (last.c.anchor_id == _HEAD.c.anchor_id),
        )
        .order_by(_HEAD.c.instance_id)
        .execution_options(yield_per=_STREAM)
    )
    ids: list[int] = []
    leaves: list[bytes] = []
    for i, seq, h in rows:
        ids.append(i)
        leaves.append(leaf_hash(i, seq, h))
    return ids, leaves
