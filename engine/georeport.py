"""Open311 GeoReport v2, the read side: services from the category table, service requests
from tickets, and mySociety's ``servicerequestupdates`` from the public timeline.

Everything here is what the public may see (engine.visibility): confidential tickets never
appear, not even as "not found" by another route, and no reporter's name or contact is ever
part of a request. ``status`` is ``closed`` once the ticket's process has ended (``closed_at``),
``open`` before; ``status_notes`` carries the Indonesian label from the deployed
``statuses.json``, so no copy of the lifecycle lives here.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import time
from datetime import timedelta

from sqlalchemy import ColumnElement
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import commands
from engine import definitions
from engine import numbers
from engine import reference
from engine.calendar import JAKARTA
from engine.errors import InvalidInput
from engine.errors import NotFound
from engine.models import Attachment
from engine.models import ProcessInstance
from engine.models import Ticket
from engine.visibility import PHOTO_AUDIENCE
from engine.visibility import PUBLIC
from engine.visibility import PUBLIC_TICKETS
from engine.visibility import access

MAX_DAYS = 90  # the specification's longest date range
PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
MAX_IDS = 100  # service_request_id=a,b,c...
YEARS = (1970, 2999)  # dates a window may name (beyond them, date arithmetic overflows)
STATUSES = ("open", "closed")
KIND_NAMES = dict(  # the report kinds with the names residents read
    zip(commands.KINDS, ("Pengaduan", "Aspirasi", "Permintaan informasi"), strict=True)
)
YES_NO = (("false", "Tidak"), ("true", "Ya"))
# The photos that go with the ticket itself (the report's, the after-photo), not the
# reporter's conversation.
PUBLIC_PURPOSES = sorted(p for p, audience in PHOTO_AUDIENCE.items() if audience == PUBLIC)


@dataclass(frozen=True)
class Service:
    service_code: str
    service_name: str
    description: str
    metadata: bool = True  # every service has attributes (kind, kecamatan...)
    type: str = "realtime"  # a request is a ticket at once
    keywords: str = ""
    group: str = ""


@dataclass(frozen=True)
class Attribute:
    code: str
    datatype: str  # string | text | singlevaluelist
    required: bool
    description: str
    order: int
    values: Sequence[tuple[str, str]] = ()  # (key, name)
    variable: bool = True
    datatype_description: str = ""


@dataclass(frozen=True)
class ServiceRequest:
    service_request_id: str
    status: str  # open | closed
    status_notes: str  # the Indonesian label of the ticket's status
    service_name: str
    service_code: str
    description: str
    agency_responsible: str | None  # the OPD's name, once routed
    service_notice: str | None
    requested_datetime: datetime
    updated_datetime: datetime
    expected_datetime: datetime | None  # the ticket's deadline
    address: str | None
    address_id: str | None
    zipcode: str | None
    lat: float | None
    long: float | None
    photo_id: int | None  # the first photo the public may see (the web layer makes its URL)


@dataclass(frozen=True)
class RequestUpdate:
    update_id: str
    service_request_id: str
    status: str  # open | closed, at the time of the update
    updated_datetime: datetime
    description: str
    photo_id: int | None
    external_status_code: str | None  # LAKSA's status code at the time


@dataclass(frozen=True)
class RequestQuery:
    ids: Sequence[str] = ()  # when given, every other filter is ignored (the specification)
    service_codes: Sequence[str] = ()
    start: datetime | None = None
    end: datetime | None = None
    statuses: Sequence[str] = ()
    page: int = 1
    page_size: int = PAGE_SIZE


def services(session: Session) -> list[Service]:
    """One service per active category, by name."""
    return [
        Service(service_code=code, service_name=name, description=name)
        for code, name in reference.categories(session).items()
    ]


def service_definition(session: Session, service_code: str) -> list[Attribute]:
    """The attributes a request of this service may carry; NotFound for an unknown code."""
    if service_code not in reference.categories(session):
        raise NotFound(f"no service '{service_code}'")
    return attributes(session)


def attributes(session: Session) -> list[Attribute]:
    kecamatan = [(name.casefold(), name) for name in reference.kecamatan(session)]
    found = [
        Attribute("title", "string", False, "Judul laporan (3-200 huruf)", 1),
        Attribute("kind", "singlevaluelist", False, "Jenis laporan", 2, tuple(KIND_NAMES.items())),
        Attribute("anonymous", "singlevaluelist", False, "Sembunyikan nama pelapor", 4, YES_NO),
        Attribute(
            "confidential", "singlevaluelist", False, "Rahasia (tidak tampil publik)", 5, YES_NO
        ),
    ]
    if kecamatan:
        found.insert(
            2, Attribute("kecamatan", "singlevaluelist", False, "Kecamatan", 3, tuple(kecamatan))
        )
    return found


def parse_window(
    params: Mapping[str, str], *, now: datetime, default_days: int = MAX_DAYS
) -> tuple[datetime, datetime]:
    """``start_date`` and ``end_date`` (W3C datetimes; a bare date is a Jakarta day), at
    most 90 days apart; without them the last ``default_days`` up to ``now``."""
    start = _when(params, "start_date", end_of_day=False)
    end = _when(params, "end_date", end_of_day=True)
    if start is None and end is None:
        return now - timedelta(days=default_days), now
    if start is None:
        assert end is not None
        start = end - timedelta(days=MAX_DAYS)
    if end is None:
        end = min(start + timedelta(days=MAX_DAYS), max(now, start))
    if start > end:
        raise InvalidInput(
            "start_date is after end_date", fields={"start_date": ["must not be after end_date"]}
        )
    if end - start > timedelta(days=MAX_DAYS):
        raise InvalidInput(
            f"the date range spans more than {MAX_DAYS} days",
            fields={"end_date": [f"at most {MAX_DAYS} days after start_date"]},
        )
    return start, end


def _when(params: Mapping[str, str], name: str, *, end_of_day: bool) -> datetime | None:
    raw = (params.get(name) or "").strip()
    if not raw:
        return None
    problem = {name: ["a W3C datetime such as 2026-11-23T09:00:00+07:00, or a date"]}
    try:
        if len(raw) == 10:
            value = datetime.combine(date.fromisoformat(raw), time(), JAKARTA)
        else:
            # A '+' of an offset arrives as a space when a client did not encode it.
            value = datetime.fromisoformat(raw.replace(" ", "+") if "T" in raw else raw)
        if not YEARS[0] <= value.year <= YEARS[1]:
            raise ValueError(value.year)
        if len(raw) == 10 and end_of_day:
            value += timedelta(days=1)
        if value.tzinfo is None:
            value = value.replace(tzinfo=JAKARTA)  # the city's time, as its people write it
        return value.astimezone(UTC)
    except (ValueError, OverflowError):
        raise InvalidInput(f"{name} is not a date or datetime", fields=problem) from None


def _listed(params: Mapping[str, str], name: str) -> list[str]:
    return [v.strip() for v in (params.get(name) or "").split(",") if v.strip()]


def positive(params: Mapping[str, str], name: str, default: int, most: int) -> int:
    raw = (params.get(name) or "").strip()
    if not raw:
        return default
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= most:
        raise InvalidInput(
            f"{name} must be a number from 1 to {most}",
            fields={name: [f"a whole number from 1 to {most}"]},
        )
    return int(raw)


def parse_query(params: Mapping[str, str], *, now: datetime) -> RequestQuery:
    """The filters of GET requests; InvalidInput (400) names each wrong one.

    ``service_request_id`` overrides every other filter (the specification)."""
    ids = _listed(params, "service_request_id")
    if len(ids) > MAX_IDS:
        raise InvalidInput(
            "too many service_request_id values",
            fields={"service_request_id": [f"at most {MAX_IDS}, comma-separated"]},
        )
    if ids:
        return RequestQuery(ids=ids)
    statuses = [s.lower() for s in _listed(params, "status")]
    wrong = sorted(set(statuses) - set(STATUSES))
    if wrong:
        raise InvalidInput(
            f"unknown status {', '.join(wrong)}", fields={"status": ["open, closed or both"]}
        )
    start, end = parse_window(params, now=now)
    return RequestQuery(
        ids=ids,
        service_codes=_listed(params, "service_code"),
        start=start,
        end=end,
        statuses=statuses,
        page=positive(params, "page", 1, 10_000),
        page_size=positive(params, "page_size", PAGE_SIZE, MAX_PAGE_SIZE),
    )


def find_requests(session: Session, query: RequestQuery) -> list[ServiceRequest]:
    """Public tickets matching the query, newest first, one page."""
    if query.ids:
        wanted = [n for n in (numbers.canonical(i) for i in query.ids) if n is not None]
        rows = session.scalars(
            select(Ticket).where(PUBLIC_TICKETS, Ticket.number.in_(wanted))
        ).all()
        by_number = {t.number: t for t in rows}
        return _records(session, [by_number[n] for n in dict.fromkeys(wanted) if n in by_number])
    conditions: list[ColumnElement[bool]] = [PUBLIC_TICKETS]
    if query.start is not None:
        conditions.append(Ticket.created_at >= query.start)
    if query.end is not None:
        conditions.append(Ticket.created_at <= query.end)
    if query.service_codes:
        conditions.append(Ticket.category.in_(sorted(set(query.service_codes))))
    if set(query.statuses) == {"open"}:
        conditions.append(Ticket.closed_at.is_(None))
    elif set(query.statuses) == {"closed"}:
        conditions.append(Ticket.closed_at.is_not(None))
    tickets = session.scalars(
        select(Ticket)
        .where(*conditions)
        .order_by(Ticket.created_at.desc(), Ticket.id.desc())
        .limit(query.page_size)
        .offset((query.page - 1) * query.page_size)
    ).all()
    return _records(session, tickets)


def request_by_id(session: Session, service_request_id: str) -> ServiceRequest:
    """One public ticket; NotFound for a confidential one, as for one that does not exist."""
    number = numbers.canonical(service_request_id)
    ticket = session.scalar(select(Ticket).where(Ticket.number == number)) if number else None
    if ticket is None or not access(ticket).sees_ticket:
        raise NotFound(f"no service request {service_request_id}")
    return _records(session, [ticket])[0]


def _records(session: Session, tickets: Sequence[Ticket]) -> list[ServiceRequest]:
    if not tickets:
        return []
    ids = [t.id for t in tickets]
    definition_of = dict(
        session.execute(
            select(ProcessInstance.ticket_id, ProcessInstance.definition_id).where(
                ProcessInstance.ticket_id.in_(ids)
            )
        ).all()
    )
    photos = _first_photos(session, ids)
    categories = reference.category_names(session)
    groups = reference.group_names(session)
    records = []
    for t in tickets:
        definition_id = definition_of.get(t.id)
        bundle = definitions.bundle_of(session, definition_id) if definition_id else None
        records.append(
            ServiceRequest(
                service_request_id=t.number,
                status="open" if t.closed_at is None else "closed",
                status_notes=bundle.status_label(t.status, "id") if bundle else t.status,
                service_name=categories.get(t.category, t.category),
                service_code=t.category,
                description=t.description,
                agency_responsible=groups.get(t.opd, t.opd) if t.opd else None,
                service_notice=None,
                requested_datetime=t.created_at,
                updated_datetime=t.updated_at,
                expected_datetime=t.due_at,
                address=t.location,
                address_id=None,
                zipcode=None,
                lat=t.latitude,
                long=t.longitude,
                photo_id=photos.get(t.id),
            )
        )
    return records


def _first_photos(session: Session, ticket_ids: Iterable[int]) -> dict[int, int]:
    """Each ticket's first photo on record that the public sees (the report's, or after)."""
    rows = session.execute(
        select(Attachment.ticket_id, func.min(Attachment.id))
        .where(
            Attachment.ticket_id.in_(sorted(set(ticket_ids))),
            Attachment.linked_at.is_not(None),
            Attachment.purpose.in_(PUBLIC_PURPOSES),
        )
        .group_by(Attachment.ticket_id)
    ).all()
    return {ticket_id: photo_id for ticket_id, photo_id in rows if photo_id is not None}
