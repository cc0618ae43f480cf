"""The city's statistics, kept incrementally so ``/statistik`` reads a few hundred rows, not
every ticket.

Each ticket counts in a set of cells, a pure function of its row (``cells``): its state
(``in_process``, ``waiting_follow_up``, or ``closed:<outcome>``) and whether it is late, in the
dimensions ``all``, ``category``, ``opd``, ``kecamatan`` and ``month``, and crossed with the month
of receipt (``category_month``, ``kecamatan_month``, ``opd_month``: key ``YYYY-MM|<key>``, for the
supervisors' trends over a period); and its durations from
receipt to the first response and (tickets closed as fixed) to the resolution, as histogram
buckets. Every command compares the ticket's cells before and after and moves the counts
(``apply``), in its own transaction; ``recount`` recomputes them from the tickets, and a test
holds the two equal.

Definitions (the page says them too):

- late: a closed ticket that missed a deadline on the way (``ticket.breached``); an open
  ticket that is overdue now (escalation level 1 or more);
- on time % = closed on time / (closed + open and overdue);
- resolved = closed with outcome ``fixed``; every other closure is counted apart;
- first response: the first element with ``milestone=first_response`` (the verifier desk's
  decision); resolution: the last one with ``milestone=resolution`` (the OPD resolved it).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field

from sqlalchemy import Table
from sqlalchemy import bindparam
from sqlalchemy import delete
from sqlalchemy import insert
from sqlalchemy import select
from sqlalchemy import tuple_
from sqlalchemy.orm import Session

from engine.calendar import JAKARTA
from engine.models import StatCount
from engine.models import StatDuration
from engine.models import StatMedian
from engine.models import Ticket
from engine.upserts import upsert

DIMENSIONS = ("all", "category", "opd", "kecamatan", "month")
# Crossed with the month of receipt, key "YYYY-MM|<key>": counts only, no durations.
BY_MONTH = ("category", "opd", "kecamatan")
MONTHLY = tuple(f"{d}_month" for d in BY_MONTH)
KEY_LENGTH = 80  # stat_count.key
FIXED = "fixed"
FOLLOW_UP = "waiting_follow_up"
IN_PROCESS = "in_process"
CLOSED = "closed:"
FIRST_RESPONSE = "first_response"
RESOLUTION = "resolution"

_COUNT: Table = StatCount.__table__  # type: ignore[assignment]
_DURATION: Table = StatDuration.__table__  # type: ignore[assignment]
_MEDIAN: Table = StatMedian.__table__  # type: ignore[assignment]
_MEDIAN_KEY = ["metric", "dimension", "key"]
_COUNT_KEY = ["dimension", "key", "state", "late"]
_DURATION_KEY = ["metric", "dimension", "key", "bucket"]

_WEEKS_FROM = 120 * 24  # hours: weekly buckets from 120 days on
CountKey = tuple[str, str, str, bool]  # dimension, key, state, late
DurationKey = tuple[str, str, str, int]  # metric, dimension, key, bucket


def bucket(hours: float) -> int:
    """The histogram bucket of a duration: its lower bound in hours.

    To the hour under 2 days, to 6 hours under a week, to the day under 120 days, then by
    weeks: a median read from the buckets is that exact.
    """
    h = max(0, int(hours))
    if h < 48:
        return h
    if h < 168:
        return h - h % 6
    if h < _WEEKS_FROM:
        return h - h % 24
    return _WEEKS_FROM + (h - _WEEKS_FROM) // 168 * 168


def bucket_width(lower: int) -> int:
    if lower < 48:
        return 1
    if lower < 168:
        return 6
    if lower < _WEEKS_FROM:
        return 24
    return 168


@dataclass(frozen=True)
class Cells:
    counts: frozenset[CountKey] = frozenset()
    durations: frozenset[DurationKey] = frozenset()


EMPTY = Cells()


def month_key(month: str, key: str) -> str:
    """The key of a monthly cell: month first, so a period is one key range."""
    return f"{month}|{key}"[:KEY_LENGTH]


def _keys(ticket: Ticket) -> list[tuple[str, str]]:
    month = ticket.created_at.astimezone(JAKARTA).strftime("%Y-%m")
    return [
        ("all", ""),
        ("category", ticket.category),
        ("opd", ticket.opd or ""),
        ("kecamatan", ticket.kecamatan or ""),
        ("month", month),
    ]


def state_of(ticket: Ticket) -> tuple[str, bool]:
    if ticket.closed_at is not None:
        return CLOSED + (ticket.outcome or "none"), bool(ticket.breached)
    state = FOLLOW_UP if ticket.status == FOLLOW_UP else IN_PROCESS
    return state, (ticket.escalation_level or 0) >= 1


def _monthly_keys(ticket: Ticket) -> list[tuple[str, str]]:
    month = ticket.created_at.astimezone(JAKARTA).strftime("%Y-%m")
    return [
        ("category_month", month_key(month, ticket.category)),
        ("opd_month", month_key(month, ticket.opd or "")),
        ("kecamatan_month", month_key(month, ticket.kecamatan or "")),
    ]


def cells(ticket: Ticket) -> Cells:
    """The cells a ticket counts in, from its row alone."""
    keys = _keys(ticket)
    state, late = state_of(ticket)
    counts = frozenset((d, k, state, late) for d, k in [*keys, *_monthly_keys(ticket)])
    durations: set[DurationKey] = set()
    spans = {FIRST_RESPONSE: ticket.first_response_at}
    if ticket.closed_at is not None and ticket.outcome == FIXED:
        spans[RESOLUTION] = ticket.resolved_at or ticket.closed_at
    for metric, end in spans.items():
        if end is not None:
            b = bucket((end - ticket.created_at).total_seconds() / 3600)
            durations.update((metric, d, k, b) for d, k in keys)
    return Cells(counts, frozenset(durations))


def apply(session: Session, before: Cells, after: Cells) -> None:
    """Move the counts of one ticket from its ``before`` cells to its ``after`` cells.

    At most five statements, each over rows in a fixed order, so two commands never wait on
    each other in a cycle: the counts; the medians of the histograms that move (locked first,
    so two commands moving one histogram take turns and the second computes its median from
    the first's counts); the histograms; their buckets read back; their new medians.
    """
    if before == after:
        return
    count_delta = Counter(dict.fromkeys(after.counts - before.counts, 1))
    count_delta.subtract(dict.fromkeys(before.counts - after.counts, 1))
    duration_delta = Counter(dict.fromkeys(after.durations - before.durations, 1))
    duration_delta.subtract(dict.fromkeys(before.durations - after.durations, 1))
    conn = session.connection()
    counts = [
        {"dimension": d, "key": k, "state": state, "late": late, "count": n}
        for (d, k, state, late), n in sorted(count_delta.items())
        if n
    ]
    upsert(conn, _COUNT, counts, _COUNT_KEY, "count", "add")
    histograms = sorted({(m, d, k) for (m, d, k, _), n in duration_delta.items() if n})
    if not histograms:
        return
    locks = [{"metric": m, "dimension": d, "key": k, "hours": None} for m, d, k in histograms]
    upsert(conn, _MEDIAN, locks, _MEDIAN_KEY, "hours", "keep")
    durations = [
        {"metric": m, "dimension": d, "key": k, "bucket": b, "count": n}
        for (m, d, k, b), n in sorted(duration_delta.items())
        if n
    ]
    upsert(conn, _DURATION, durations, _DURATION_KEY, "count", "add")
    buckets: dict[tuple[str, str, str], list[tuple[int, int]]] = {h: [] for h in histograms}
    for m, d, k, b, n in conn.execute(_BUCKETS, {"histograms": histograms}):
        buckets[(m, d, k)].append((b, n))
    medians = [
        {"metric": m, "dimension": d, "key": k, "hours": median_of(buckets[(m, d, k)])}
        for m, d, k in histograms
    ]
    upsert(conn, _MEDIAN, medians, _MEDIAN_KEY, "hours", "replace")


# The buckets of some histograms, built once (a statement built per command cost four times
# its execution).
_BUCKETS = select(
    _DURATION.c.metric,
    _DURATION.c.dimension,
    _DURATION.c.key,
    _DURATION.c.bucket,
    _DURATION.c.count,
).where(
    tuple_(_DURATION.c.metric, _DURATION.c.dimension, _DURATION.c.key).in_(
        bindparam("histograms", expanding=True)
    ),
    _DURATION.c.count != 0,
)


def recount(tickets: Iterable[Ticket]) -> tuple[Counter[CountKey], Counter[DurationKey]]:
    """The counts as ``apply`` should have left them, from the tickets themselves."""
    counts: Counter[CountKey] = Counter()
    durations: Counter[DurationKey] = Counter()
    for ticket in tickets:
        c = cells(ticket)
        counts.update(c.counts)
        durations.update(c.durations)
    return counts, durations


def rebuild(session: Session) -> int:
    """Recount every ticket into the kept counts (a database from before they were kept)."""
    counts, durations = recount(session.scalars(select(Ticket)).yield_per(1000))
    session.execute(delete(StatCount))
    session.execute(delete(StatDuration))
    session.execute(delete(StatMedian))
    if counts:
        session.execute(
            insert(StatCount),
            [
                {"dimension": d, "key": k, "state": s, "late": late, "count": n}
                for (d, k, s, late), n in counts.items()
            ],
        )
    if durations:
        session.execute(
            insert(StatDuration),
            [
                {"metric": m, "dimension": d, "key": k, "bucket": b, "count": n}
                for (m, d, k, b), n in durations.items()
            ],
        )
        session.execute(
            insert(StatMedian),
            [
                {"metric": m, "dimension": d, "key": k, "hours": hours}
                for (m, d, k), hours in medians(durations).items()
            ],
        )
    return sum(n for (d, *_), n in counts.items() if d == "all")


def rebuild_if_missing(session: Session) -> int:
    """Rebuild the counts when tickets exist but nothing (or no median) was ever counted."""
    counted = (
        session.scalar(
            select(StatCount.dimension).where(StatCount.dimension == MONTHLY[0]).limit(1)
        )
        is not None
    )  # counted since the monthly cells were kept
    medians_missing = (
        session.scalar(select(StatDuration.metric).limit(1)) is not None
        and session.scalar(select(StatMedian.metric).limit(1)) is None
    )
    if counted and not medians_missing:
        return 0
    if session.scalar(select(Ticket.id).limit(1)) is None:
        return 0
    return rebuild(session)


def medians(durations: Counter[DurationKey]) -> dict[tuple[str, str, str], float | None]:
    """Each histogram's median, from durations counted as ``recount`` counts them."""
    histograms: dict[tuple[str, str, str], list[tuple[int, int]]] = {}
    for (metric, dimension, key, b), n in durations.items():
        if n:
            histograms.setdefault((metric, dimension, key), []).append((b, n))
    return {k: median_of(v) for k, v in histograms.items()}


def stored_medians(session: Session) -> dict[tuple[str, str, str], float | None]:
    """The medians kept in the database (histograms that ever had a count)."""
    return {
        (m.metric, m.dimension, m.key): m.hours
        for m in session.execute(select(StatMedian)).scalars()
    }


def stored(session: Session) -> tuple[Counter[CountKey], Counter[DurationKey]]:
    """The counts kept in the database (cells at zero left out)."""
    counts: Counter[CountKey] = Counter()
    for r in session.execute(select(StatCount).where(StatCount.count != 0)).scalars():
        counts[(r.dimension, r.key, r.state, r.late)] = r.count
    durations: Counter[DurationKey] = Counter()
    for d in session.execute(select(StatDuration).where(StatDuration.count != 0)).scalars():
        durations[(d.metric, d.dimension, d.key, d.bucket)] = d.count
    return counts, durations


# -- reading ----------------------------------------------------------------------------------


@dataclass
class Figures:
    """The numbers of one key of one dimension (or of the whole city)."""

    received: int = 0
    fixed: int = 0
    other_closures: dict[str, int] = field(default_factory=dict)
    in_process: int = 0
    waiting_follow_up: int = 0
    closed_on_time: int = 0
    open_overdue: int = 0
    median_first_response_hours: float | None = None
    median_resolution_hours: float | None = None

    @property
    def closed(self) -> int:
        return self.fixed + sum(self.other_closures.values())

    @property
    def open(self) -> int:
        return self.in_process + self.waiting_follow_up

    @property
    def resolved_share(self) -> float | None:
        """fixed / received: the city's "selesai %" counts only what was fixed."""
        return self.fixed / self.received if self.received else None

    @property
    def on_time_share(self) -> float | None:
        """closed on time / (closed + open and overdue)."""
        base = self.closed + self.open_overdue
        return self.closed_on_time / base if base else None


@dataclass(frozen=True)
class CityStats:
    totals: Figures
    by: Mapping[str, Mapping[str, Figures]]  # dimension -> key -> figures


def read(session: Session) -> CityStats:
    """Every dimension's figures from the kept counts and medians (two small queries)."""
    figures: dict[str, dict[str, Figures]] = {d: {} for d in DIMENSIONS}
    for dimension, key, state, late, count in session.execute(
        select(
            _COUNT.c.dimension, _COUNT.c.key, _COUNT.c.state, _COUNT.c.late, _COUNT.c.count
        ).where(_COUNT.c.dimension.in_(DIMENSIONS), _COUNT.c.count != 0)
    ):
        f = figures.setdefault(dimension, {}).setdefault(key, Figures())
        f.received += count
        if state.startswith(CLOSED):
            outcome = state.removeprefix(CLOSED)
            if outcome == FIXED:
                f.fixed += count
            else:
                f.other_closures[outcome] = f.other_closures.get(outcome, 0) + count
            if not late:
                f.closed_on_time += count
        else:
            if state == FOLLOW_UP:
                f.waiting_follow_up += count
            else:
                f.in_process += count
            if late:
                f.open_overdue += count
    for metric, dimension, key, hours in session.execute(
        select(_MEDIAN.c.metric, _MEDIAN.c.dimension, _MEDIAN.c.key, _MEDIAN.c.hours).where(
            _MEDIAN.c.hours.is_not(None)
        )
    ):
        f = figures.setdefault(dimension, {}).setdefault(key, Figures())
        if metric == FIRST_RESPONSE:
            f.median_first_response_hours = hours
        elif metric == RESOLUTION:
            f.median_resolution_hours = hours
    totals = figures["all"].get("", Figures())
    return CityStats(totals, {d: figures[d] for d in DIMENSIONS if d != "all"})


def median_of(buckets: Iterable[tuple[int, int]]) -> float | None:
    """The median of a histogram: the middle of the bucket that holds the middle value."""
    ordered = sorted(buckets)
    total = sum(n for _, n in ordered)
    if total <= 0:
        return None
    middle = (total + 1) / 2
    seen = 0
    for lower, n in ordered:
        seen += n
        if seen >= middle:
            return lower + bucket_width(lower) / 2
    return None
