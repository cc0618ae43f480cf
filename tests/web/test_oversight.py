"""GET /api/v1/oversight/overdue and /stats: the supervisor's overdue list and the city's numbers.

Tickets are driven through the engine at a past time, then the timer sweep runs at the wall
clock, so their deadlines have passed and the escalations fired, as in production.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from engine import commands
from engine import oversight
from engine import timers
from engine.calendar import JAKARTA
from engine.clock import now as wall_now
from engine.identity import Actor
from engine.identity import create_token
from engine.identity import create_user
from engine.models import Category
from engine.models import HumanTask
from engine.models import Ticket
from tests.conftest import NOW
from tests.factories import open_task
from tests.web.officer_helpers import is_sign_in_redirect
from tests.web.officer_helpers import page
from tests.web.officer_helpers import signed_in_client
from tests.web.test_api import assert_error
from tests.web.test_api import bearer
from web import csvfile

PAST = wall_now() - timedelta(days=40)


def submit(
    factory: sessionmaker[Session],
    category: str,
    *,
    at: Any = PAST,
    title: str = "Laporan warga",
    kecamatan: str | None = None,
) -> str:
    data = commands.TicketInput(
        kind="complaint", category=category, title=title, description="Tolong", kecamatan=kecamatan
    )
    with factory.begin() as session:
        result = commands.submit_ticket(session, data=data, actor=Actor.public(), now=at)
        return result.ticket.number


def complete(
    factory: sessionmaker[Session], actor: Actor, number: str, data: dict[str, Any], *, at: Any
) -> None:
    with factory.begin() as session:
        task_id = session.scalars(
            select(HumanTask.id)
            .join(Ticket, Ticket.id == HumanTask.ticket_id)
            .where(
                Ticket.number == number,
                HumanTask.completed_at.is_(None),
                HumanTask.candidate_group.in_(actor.groups),
            )
        ).one()
        commands.complete_task(session, task_id=task_id, actor=actor, data=data, now=at)


def reply(factory: sessionmaker[Session], number: str, message: str, *, at: Any) -> None:
    with factory.begin() as session:
        commands.correlate_message(
            session, ticket_number=number, message=message, payload={}, actor=Actor.public(), now=at
        )


@pytest.fixture
def city(session_factory, actors) -> dict[str, str]:
    """Tickets in every state the overdue list and the statistics tell apart."""
    f, verifier, dpupr, dlh = (
        session_factory,
        actors["verifikator"],
        actors["petugas_dpupr"],
        actors["petugas_dlh"],
    )
    at = PAST
    tickets = {
        "verify_late": submit(f, "jalan_rusak"),  # never verified
        "ack_late": submit(f, "drainase"),  # routed to dpupr, never acknowledged
        "follow_up": submit(f, "taman"),  # dlh waits for follow-up
        "fixed": submit(f, "sampah"),  # resolved and confirmed
        "archived": submit(f, "jalan_rusak"),  # rejected at verification
        "fresh": submit(f, "jalan_rusak", at=wall_now()),  # nothing is late yet
    }
    for key in ("ack_late", "follow_up", "fixed"):
        complete(f, verifier, tickets[key], {"decision": "route"}, at=at)
    complete(f, verifier, tickets["archived"], {"decision": "reject", "reason": "spam"}, at=at)
    for key in ("follow_up", "fixed"):
        complete(f, dlh, tickets[key], {"decision": "accept", "complexity": "simple"}, at=at)
    complete(
        f,
        dlh,
        tickets["follow_up"],
        {"decision": "follow_up", "follow_up_reason": "anggaran", "follow_up_days": 10},
        at=at,
    )
    complete(f, dlh, tickets["fixed"], {"decision": "resolve", "resolution": "Diangkut"}, at=at)
    reply(f, tickets["fixed"], "reporter_confirms", at=at)
    assert dpupr.groups == {"dpupr"}
    timers.run_due(f, now=wall_now())  # the breaches of the past 40 days fire now
    return tickets


def overdue(client: FlaskClient, token: str, query: str = "") -> list[dict[str, Any]]:
    response = client.get(f"/api/v1/oversight/overdue{query}", headers=bearer(token))
    assert response.status_code == 200, response.get_json()
    rows: list[dict[str, Any]] = response.get_json()
    return rows


def stats(client: FlaskClient, token: str, query: str = "") -> dict[str, Any]:
    response = client.get(f"/api/v1/oversight/stats{query}", headers=bearer(token))
    assert response.status_code == 200, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def role_token(session_factory, name: str, role: str, groups: list[str]) -> str:
    with session_factory.begin() as session:
        create_user(
            session, username=name, password="password-x", role=role, groups=groups, now=NOW
        )
        return create_token(session, username=name, name="test", now=NOW)


# -- who may look ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/v1/oversight/overdue", "/api/v1/oversight/stats"])
def test_oversight_needs_a_token_and_an_oversight_role(client, tokens, session_factory, path):
    assert_error(client.get(path), 401, "unauthorized")
    for name in ("verifikator", "petugas_dpupr"):
        assert_error(client.get(path, headers=bearer(tokens[name])), 403, "forbidden")
    citizen = role_token(session_factory, "warga", "citizen", [])
    assert_error(client.get(path, headers=bearer(citizen)), 403, "forbidden")
    auditor = role_token(session_factory, "auditor", "auditor", [])
    admin = role_token(session_factory, "admin", "admin", [])
    for token in (tokens["pengawas"], tokens["kepala_dpupr"], auditor, admin):
        assert client.get(path, headers=bearer(token)).status_code == 200


# -- the overdue list --------------------------------------------------------------------------


def test_the_overdue_list_holds_escalated_and_late_open_tickets_most_overdue_first(
    client, tokens, city
):
    rows = overdue(client, tokens["pengawas"])
    assert [r["number"] for r in rows] == [
        city["verify_late"],  # due 3 working days after PAST
        city["ack_late"],  # 5 working days
        city["follow_up"],  # 10 working days
    ]
    first = rows[0]
    assert set(first) == {
        "number",
        "category",
        "opd",
        "status",
        "status_label",
        "due_at",
        "escalation_level",
        "overdue_by",
    }
    assert (first["category"], first["opd"], first["status"]) == (
        "jalan_rusak",
        None,
        "verification",
    )
    assert first["status_label"] == "Verifikasi"
    assert first["escalation_level"] >= 1  # the breach fired in the sweep
    assert first["due_at"] is not None  # the breached deadline, not cleared by the breach
    overdue_by = [r["overdue_by"] for r in rows]
    assert overdue_by == sorted(overdue_by, reverse=True)
    assert overdue_by[-1] > 0
    by_number = {r["number"]: r for r in rows}
    assert by_number[city["ack_late"]]["opd"] == "dpupr"
    assert by_number[city["follow_up"]]["status"] == "waiting_follow_up"
    assert by_number[city["follow_up"]]["status_label"] == "Menunggu tindak lanjut"


def test_labels_follow_lang(client, tokens, city):
    rows = overdue(client, tokens["pengawas"], "?lang=en")
    assert rows[0]["status_label"] == "Verification"


def test_the_overdue_list_filters_by_opd_and_level(client, tokens, city, session_factory):
    assert [r["number"] for r in overdue(client, tokens["pengawas"], "?opd=dlh")] == [
        city["follow_up"]
    ]
    assert overdue(client, tokens["pengawas"], "?opd=dishub") == []
    with session_factory.begin() as session:  # one ticket escalated to the supervisor
        session.get(Ticket, _id(session, city["ack_late"])).escalation_level = 2
    assert [r["number"] for r in overdue(client, tokens["pengawas"], "?level=2")] == [
        city["ack_late"]
    ]
    assert len(overdue(client, tokens["pengawas"], "?level=1")) == 3
    error = assert_error(
        client.get("/api/v1/oversight/overdue?level=x", headers=bearer(tokens["pengawas"])),
        422,
    )
    assert "level" in error["fields"]


def test_an_opd_head_sees_only_its_own_opds(client, tokens, city):
    rows = overdue(client, tokens["kepala_dpupr"])
    assert [r["number"] for r in rows] == [city["ack_late"]]
    # overdue_by is counted from the wall clock at each request: it may differ by a second.
    same = [{k: v for k, v in r.items() if k != "overdue_by"} for r in rows]
    narrowed = overdue(client, tokens["kepala_dpupr"], "?opd=dpupr")
    assert [{k: v for k, v in r.items() if k != "overdue_by"} for r in narrowed] == same
    assert_error(
        client.get("/api/v1/oversight/overdue?opd=dlh", headers=bearer(tokens["kepala_dpupr"])),
        403,
        "forbidden",
    )


def test_an_escalated_ticket_whose_step_is_not_late_now_is_listed_with_zero(
    client, tokens, session_factory
):
    number = submit(session_factory, "jalan_rusak", at=wall_now())
    with session_factory.begin() as session:
        session.get(Ticket, _id(session, number)).escalation_level = 1
    (row,) = overdue(client, tokens["pengawas"])
    assert (row["number"], row["escalation_level"], row["overdue_by"]) == (number, 1, 0)


# -- statistics --------------------------------------------------------------------------------


def test_stats_keep_fixed_apart_from_every_other_closure(client, tokens, city):
    body = stats(client, tokens["pengawas"])
    assert body["totals"] == {
        "handled": 6,
        "closed": 2,
        "resolved": 1,
        "other_closures": {"rejected": 1},
        "in_process": 3,  # verify_late, ack_late, fresh
        "waiting_follow_up": 1,
        "resolution_rate": 0.5,
    }
    by_opd = {row["opd"]: row for row in body["by_opd"]}
    assert set(by_opd) == {None, "dpupr", "dlh"}
    assert by_opd["dlh"] == {
        "opd": "dlh",
        "handled": 2,
        "closed": 1,
        "resolved": 1,
        "other_closures": {},
        "in_process": 0,
        "waiting_follow_up": 1,
        "resolution_rate": 1.0,
    }
    assert by_opd["dpupr"]["in_process"] == 1
    assert by_opd["dpupr"]["resolution_rate"] is None  # nothing closed: no rate, not 0 %
    assert by_opd[None]["other_closures"] == {"rejected": 1}


def test_stats_for_an_opd_head_and_by_period(client, tokens, city):
    body = stats(client, tokens["kepala_dpupr"])
    assert [row["opd"] for row in body["by_opd"]] == ["dpupr"]
    assert body["totals"]["handled"] == 1
    assert_error(
        client.get("/api/v1/oversight/stats?opd=dlh", headers=bearer(tokens["kepala_dpupr"])),
        403,
    )
    today = wall_now().date()
    recent = stats(client, tokens["pengawas"], f"?since={today.isoformat()}")
    assert recent["totals"]["handled"] == 1  # only the fresh ticket
    older = stats(client, tokens["pengawas"], f"?until={today.isoformat()}")
    assert older["totals"]["handled"] == 5
    assert_error(
        client.get("/api/v1/oversight/stats?since=yesterday", headers=bearer(tokens["pengawas"])),
        422,
    )


def test_an_empty_city_has_zero_counts_and_no_rate(client, tokens):
    body = stats(client, tokens["pengawas"])
    assert body["totals"]["handled"] == 0
    assert body["totals"]["resolution_rate"] is None
    assert body["by_opd"] == []
    assert overdue(client, tokens["pengawas"]) == []


def test_the_endpoints_are_in_the_openapi_document(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert {"/api/v1/oversight/overdue", "/api/v1/oversight/stats"} <= set(spec["paths"])
    schemas = spec["components"]["schemas"]
    assert "overdue_by" in schemas["OverdueTicket"]["properties"]


def _id(session: Session, number: str) -> int:
    return session.scalars(select(Ticket.id).where(Ticket.number == number)).one()


# == the supervisors' pages: /petugas/pengawasan (overdue), /opd (the OPD table), /tren =========

PAGES = (
    "/petugas/pengawasan",
    "/petugas/pengawasan.csv",
    "/petugas/pengawasan/opd",
    "/petugas/pengawasan/opd.csv",
    "/petugas/pengawasan/tren",
    "/petugas/pengawasan/tren.csv",
)


def cells(markup: str) -> list[str]:
    found = re.findall(r"<t[hd]\b[^>]*>(.*?)</t[hd]>", markup, re.S)
    return [" ".join(html.unescape(re.sub(r"<[^>]+>", " ", c)).split()) for c in found]


def table(markup: str, after: str, part: str = "tbody") -> list[list[str]]:
    """The rows of the first table after ``after``: each row's cells as plain text."""
    rest = markup.split(after, 1)[1]
    body = rest.split(f"<{part}>", 1)[1].split(f"</{part}>", 1)[0]
    return [cells(row) for row in re.findall(r"<tr\b.*?</tr>", body, re.S)]


def csv_rows(response: Any) -> list[dict[str, str]]:
    assert response.status_code == 200, response.status_code
    assert response.mimetype == "text/csv"
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))


def late_numbers(markup: str) -> list[str]:
    section = markup.split('id="late-title"', 1)[1]
    return re.findall(r'<th scope="row"><a href="/petugas/laporan/(LK-[0-9A-Z]+)"', section)


def percent_id(part: int, whole: int) -> str:
    return f"{part / whole * 100:.1f}".replace(".", ",") + "%" if whole else "\u2013"


def overdue_tasks(factory: sessionmaker[Session]) -> list[tuple[str, str]]:
    """(ticket, candidate group) of the open tasks past their deadline, counted apart."""
    now = wall_now()
    with factory() as session:
        rows = session.execute(
            select(Ticket.number, HumanTask.candidate_group, HumanTask.due_at)
            .join(Ticket, Ticket.id == HumanTask.ticket_id)
            .where(HumanTask.completed_at.is_(None))
        ).all()
    late = [r for r in rows if r.due_at is not None and r.due_at.replace(tzinfo=UTC) < now]
    return [(r.number, r.candidate_group) for r in sorted(late, key=lambda r: r.due_at)]


@dataclass
class Expected:
    received: int = 0
    fixed: int = 0
    closed: int = 0
    closed_on_time: int = 0
    open: int = 0
    open_overdue: int = 0

    def add(self, t: Ticket) -> None:
        self.received += 1
        if t.closed_at is not None:
            self.closed += 1
            self.fixed += t.outcome == "fixed"
            self.closed_on_time += not t.breached
        else:
            self.open += 1
            self.open_overdue += t.escalation_level >= 1

    @property
    def on_time(self) -> str:
        return percent_id(self.closed_on_time, self.closed + self.open_overdue)


def expected_by(
    factory: sessionmaker[Session], key: Callable[[Ticket], str]
) -> dict[str, Expected]:
    """The figures counted again from every ticket row, grouped by ``key``."""
    found: dict[str, Expected] = {}
    with factory() as session:
        for t in session.scalars(select(Ticket)):
            found.setdefault(key(t), Expected()).add(t)
    return found


def month_of(t: Ticket) -> str:
    return t.created_at.replace(tzinfo=UTC).astimezone(JAKARTA).strftime("%Y-%m")


# -- who may look ------------------------------------------------------------------------------


def add_users(factory: sessionmaker[Session]) -> None:
    """The roles the test city lacks, with the password the sign-in helper types."""
    with factory.begin() as session:
        for name, role in (
            ("admin", "admin"),
            ("auditor", "auditor"),
            ("warga", "citizen"),
            ("perancang", "designer"),
        ):
            create_user(
                session, username=name, password=f"password-{name}", role=role, groups=[], now=NOW
            )


@pytest.mark.parametrize("path", PAGES)
def test_the_oversight_pages_are_for_supervisors_heads_and_admins(
    app, client, session_factory, path
):
    add_users(session_factory)
    assert is_sign_in_redirect(client.get(path))
    for user in ("pengawas", "admin", "kepala_dpupr", "auditor"):
        assert signed_in_client(app, user).get(path).status_code == 200, user
    for user in ("petugas_dpupr", "verifikator", "warga", "perancang"):
        denied = signed_in_client(app, user).get(path)
        assert denied.status_code == 403, user
        assert "Anda tidak berhak membuka halaman ini" in page(denied)


@pytest.mark.parametrize("path", PAGES)
def test_an_opd_head_cannot_ask_for_another_opd(app, path):
    assert signed_in_client(app, "kepala_dpupr").get(f"{path}?opd=dlh").status_code == 403
    assert signed_in_client(app, "kepala_dpupr").get(f"{path}?opd=dpupr").status_code == 200


@pytest.mark.parametrize("path", PAGES)
def test_an_unknown_opd_is_a_clear_400(app, path):
    response = signed_in_client(app, "pengawas").get(f"{path}?opd=tidak_ada")
    assert response.status_code == 400
    assert "OPD yang dipilih tidak dikenal." in page(response)


# -- the overdue list --------------------------------------------------------------------------


def test_the_overdue_page_lists_late_tasks_most_overdue_first(app, city, session_factory):
    expected = overdue_tasks(session_factory)
    assert [n for n, _ in expected] == [city["verify_late"], city["ack_late"], city["follow_up"]]
    markup = page(signed_in_client(app, "pengawas").get("/petugas/pengawasan"))
    assert late_numbers(markup) == [n for n, _ in expected]
    rows = table(markup, 'id="late-title"')
    first = rows[0]
    assert first[0] == city["verify_late"]
    assert re.fullmatch(r"terlambat \d+ hari", first[1])
    assert first[2] == "Verifikasi laporan"  # the task, titled from its form
    assert first[3] == "40 hari"  # age: received 40 days ago
    assert int(first[4]) >= 1  # escalation level
    assert first[5] == "\u2013"  # the desk belongs to no OPD
    by_number = {r[0]: r for r in rows}
    assert by_number[city["ack_late"]][5] == "Dinas Pekerjaan Umum dan Penataan Ruang"
    assert by_number[city["follow_up"]][5] == "Dinas Lingkungan Hidup"
    assert 'class="deadline deadline-red"' in markup
    with session_factory() as session:
        task_id = open_task(session, city["ack_late"]).id
    assert f'href="/petugas/tugas/{task_id}"' in markup
    assert f'href="/petugas/laporan/{city["ack_late"]}"' in markup
    assert city["fresh"] not in markup
    assert city["fixed"] not in markup


def test_the_overdue_page_counts_per_opd_and_filters_one(app, city, session_factory):
    supervisor = signed_in_client(app, "pengawas")
    markup = page(supervisor.get("/petugas/pengawasan"))
    per_opd = {r[0]: r[1] for r in table(markup, 'id="per-opd-title"')}
    assert per_opd == {
        "Meja verifikasi dan pengawas": "1",
        "Dinas Pekerjaan Umum dan Penataan Ruang": "1",
        "Dinas Lingkungan Hidup": "1",
    }
    assert late_numbers(page(supervisor.get("/petugas/pengawasan?opd=dlh"))) == [city["follow_up"]]
    assert late_numbers(page(supervisor.get("/petugas/pengawasan?opd=dishub"))) == []


def test_the_overdue_page_of_an_opd_head_holds_only_their_opd(app, city):
    markup = page(signed_in_client(app, "kepala_dpupr").get("/petugas/pengawasan"))
    assert late_numbers(markup) == [city["ack_late"]]
    assert city["verify_late"] not in markup
    assert city["follow_up"] not in markup


def test_the_overdue_list_pages_by_cursor(app, city, monkeypatch):
    monkeypatch.setattr("web.officer.oversight.PAGE", 2)
    supervisor = signed_in_client(app, "pengawas")
    first = page(supervisor.get("/petugas/pengawasan"))
    assert late_numbers(first) == [city["verify_late"], city["ack_late"]]
    nxt = html.unescape(re.search(r'href="([^"]*setelah=[^"]*)"', first)[1])
    second = page(supervisor.get(nxt))
    assert late_numbers(second) == [city["follow_up"]]
    assert "setelah=" not in second.split('aria-label="Halaman daftar terlambat"')[1]
    assert supervisor.get("/petugas/pengawasan?setelah=rusak").status_code == 200  # from the top


def test_the_overdue_csv_holds_the_rows_of_the_page(app, city, session_factory):
    supervisor = signed_in_client(app, "pengawas")
    rows = csv_rows(supervisor.get("/petugas/pengawasan.csv"))
    assert [r["ticket"] for r in rows] == late_numbers(page(supervisor.get("/petugas/pengawasan")))
    assert [(r["ticket"], r["candidate_group"]) for r in rows] == overdue_tasks(session_factory)
    first = rows[0]
    assert first["task"] == "Verifikasi laporan"
    assert (first["opd"], first["category"], first["age_days"]) == ("", "jalan_rusak", "40")
    assert int(first["overdue_days"]) >= 1
    assert int(first["escalation_level"]) >= 1
    assert first["task_url"].startswith("http://localhost/petugas/tugas/")
    dlh = csv_rows(supervisor.get("/petugas/pengawasan.csv?opd=dlh"))
    assert [(r["ticket"], r["opd"]) for r in dlh] == [(city["follow_up"], "dlh")]
    head = csv_rows(signed_in_client(app, "kepala_dpupr").get("/petugas/pengawasan.csv"))
    assert [r["ticket"] for r in head] == [city["ack_late"]]


# -- the OPD table -----------------------------------------------------------------------------


def test_the_opd_table_equals_a_count_of_the_tickets(app, city, session_factory):
    expected = expected_by(session_factory, lambda t: t.opd or "")
    # by hand, for the known set: the desk holds verify_late (late), archived (closed on
    # time) and fresh; dpupr ack_late (late); dlh follow_up (late) and fixed (on time)
    assert {
        k: (e.received, e.closed_on_time, e.open, e.open_overdue) for k, e in expected.items()
    } == {
        "": (3, 1, 2, 1),
        "dpupr": (1, 0, 1, 1),
        "dlh": (2, 1, 1, 1),
    }
    markup = page(signed_in_client(app, "pengawas").get("/petugas/pengawasan/opd?urut=opd"))
    rows = {r[0]: r for r in table(markup, "<table")}
    names = {"": "Belum didisposisikan", "dpupr": "Dinas Pekerjaan Umum dan Penataan Ruang"}
    names["dlh"] = "Dinas Lingkungan Hidup"
    for code, e in expected.items():
        row = rows[names[code]]
        assert row[1:] == [str(e.received), e.on_time, row[3], str(e.open), str(e.open_overdue)]
    assert rows["Dinas Lingkungan Hidup"][3] == "0 jam"  # resolved the hour it came in
    assert rows["Dinas Pekerjaan Umum dan Penataan Ruang"][3] == "\u2013"  # nothing resolved
    assert rows["Dinas Perhubungan"][1:] == ["0", "\u2013", "\u2013", "0", "0"]  # no ticket yet
    (total,) = table(markup, "<table", "tfoot")
    assert total == ["Jumlah", "6", percent_id(2, 5), "0 jam", "4", "3"]


def test_the_opd_table_sorts_on_the_server(app, city):
    supervisor = signed_in_client(app, "pengawas")

    def order(sort: str) -> list[str]:
        markup = page(supervisor.get(f"/petugas/pengawasan/opd?urut={sort}"))
        return [r[0] for r in table(markup, "<table")]

    by_name = order("opd")
    assert by_name == sorted(by_name, key=str.casefold)
    assert order("-opd") == by_name[::-1]
    received = order("-diterima")
    assert received[:3] == [
        "Belum didisposisikan",
        "Dinas Lingkungan Hidup",
        "Dinas Pekerjaan Umum dan Penataan Ruang",
    ]
    on_time = order("tepat_waktu")  # 0 % first; OPDs without a share last, by name
    assert on_time[:3] == [
        "Dinas Pekerjaan Umum dan Penataan Ruang",
        "Belum didisposisikan",
        "Dinas Lingkungan Hidup",
    ]
    markup = page(supervisor.get("/petugas/pengawasan/opd?urut=-terlambat"))
    assert 'aria-sort="descending"' in markup
    assert 'href="/petugas/pengawasan/opd?urut=terlambat"' in markup  # click again: ascending
    bad = supervisor.get("/petugas/pengawasan/opd?urut=gaji")
    assert bad.status_code == 400
    assert "Urutan tidak dikenal." in page(bad)


def test_the_opd_csv_matches_the_page(app, city):
    supervisor = signed_in_client(app, "pengawas")
    markup = page(supervisor.get("/petugas/pengawasan/opd?urut=-diterima"))
    rows = csv_rows(supervisor.get("/petugas/pengawasan/opd.csv?urut=-diterima"))
    assert [r["opd_name"] for r in rows[:-1]] == [r[0] for r in table(markup, "<table")]
    by_code = {r["opd"]: r for r in rows}
    assert by_code["dlh"]["received"] == "2"
    assert by_code["dlh"]["on_time_percent"] == "50.0"
    assert by_code["dlh"]["median_resolution_hours"] == "0.5"
    assert by_code["dpupr"]["on_time_percent"] == "0.0"
    assert by_code["dishub"]["on_time_percent"] == ""
    assert (by_code["*"]["received"], by_code["*"]["open_overdue"]) == ("6", "3")
    assert by_code["*"]["on_time_percent"] == "40.0"
    head = csv_rows(signed_in_client(app, "kepala_dpupr").get("/petugas/pengawasan/opd.csv"))
    assert [r["opd"] for r in head] == ["dpupr", "*"]
    assert head[1]["received"] == "1"


# -- trends ------------------------------------------------------------------------------------


def test_the_trends_equal_a_count_of_the_tickets_per_month(app, city, session_factory):
    expected = expected_by(session_factory, month_of)
    assert sum(e.received for e in expected.values()) == 6
    supervisor = signed_in_client(app, "pengawas")
    markup = page(supervisor.get("/petugas/pengawasan/tren"))
    rows = table(markup, 'id="t-month"')
    assert len(rows) == 12  # the last 12 months, newest first, empty ones too
    data = json.loads(
        re.search(r'<script type="application/json" id="tren-data">(.*?)</script>', markup, re.S)[1]
    )
    months = [oversight.shift(oversight.month_of(wall_now()), -i) for i in range(12)]
    for month, row in zip(months, rows, strict=True):
        e = expected.get(month, Expected())
        assert row[1:] == [str(e.received), str(e.fixed), e.on_time, str(e.open_overdue)], month
    assert data["received"] == [int(r[1]) for r in rows][::-1]  # the chart: the same numbers
    assert data["fixed"] == [int(r[2]) for r in rows][::-1]
    (total,) = table(markup, 'id="t-month"', "tfoot")
    assert total[1:3] == ["6", "1"]
    by_category = {r[0]: r for r in table(markup, 'id="t-category"')}
    assert by_category["Jalan rusak"][1:3] == ["3", "0"]
    assert by_category["Sampah tidak terangkut"][1:4] == ["1", "1", "100,0%"]


def test_the_trends_of_one_category_kecamatan_or_opd(app, city, session_factory):
    submit(session_factory, "taman", kecamatan="Karawaci", at=wall_now())
    supervisor = signed_in_client(app, "pengawas")
    this_month = oversight.month_of(wall_now())

    def month_row(query: str) -> list[str]:
        markup = page(supervisor.get(f"/petugas/pengawasan/tren?{query}"))
        return {r[0]: r for r in table(markup, 'id="t-month"')}

    road = month_row("kategori=jalan_rusak")
    assert sum(int(r[1]) for r in road.values()) == 3
    now_label = next(iter(road))  # newest first: this month
    assert road[now_label][1] == "1"  # the fresh one
    karawaci = month_row("kecamatan=Karawaci")
    assert [int(r[1]) for r in karawaci.values()] == [1] + [0] * 11
    dlh = month_row("opd=dlh")
    assert sum(int(r[1]) for r in dlh.values()) == 2
    assert oversight.month_of(wall_now()) == this_month


def test_trend_filters_are_checked(app, city):
    supervisor = signed_in_client(app, "pengawas")
    for query, message in [
        ("dari=2026-13", "Tulis bulan sebagai TTTT-BB"),
        ("dari=kemarin", "Tulis bulan sebagai TTTT-BB"),
        ("dari=2026-05&sampai=2026-01", "Bulan awal harus sebelum bulan akhir."),
        ("dari=2001-01&sampai=2026-01", "Periode paling panjang 120 bulan."),
        ("kategori=tidak_ada", "Kategori yang dipilih tidak dikenal."),
        ("kecamatan=Atlantis", "Kecamatan yang dipilih tidak dikenal."),
        ("kategori=taman&kecamatan=Karawaci", "Pilih satu saja"),
    ]:
        for path in ("/petugas/pengawasan/tren", "/petugas/pengawasan/tren.csv"):
            response = supervisor.get(f"{path}?{query}")
            assert response.status_code == 400, (path, query)
            assert message in page(response), (path, query)
    head = signed_in_client(app, "kepala_dpupr").get("/petugas/pengawasan/tren?kategori=taman")
    assert head.status_code == 400


def test_a_period_of_one_month_and_its_csv_match_the_page(app, city):
    supervisor = signed_in_client(app, "pengawas")
    month = oversight.month_of(PAST)
    query = f"dari={month}&sampai={month}"
    markup = page(supervisor.get(f"/petugas/pengawasan/tren?{query}"))
    rows = csv_rows(supervisor.get(f"/petugas/pengawasan/tren.csv?{query}"))
    months = [r for r in rows if r["table"] == "month"]
    assert [r["key"] for r in months] == [month, "*"]
    (page_row,) = table(markup, 'id="t-month"')
    assert [months[0]["label"], months[0]["received"], months[0]["fixed"]] == page_row[:3]
    assert months[0]["received"] == "5"  # all but the fresh one (unless this is that month)
    categories = {r["key"]: r for r in rows if r["table"] == "category"}
    page_categories = {r[0]: r[1] for r in table(markup, 'id="t-category"')}
    assert {r["label"]: r["received"] for r in categories.values()} == page_categories
    assert categories["jalan_rusak"]["received"] == "2"


def test_an_opd_head_sees_the_trend_of_their_opd_only(app, city):
    markup = page(signed_in_client(app, "kepala_dpupr").get("/petugas/pengawasan/tren"))
    rows = table(markup, 'id="t-month"')
    assert sum(int(r[1]) for r in rows) == 1  # ack_late, routed to dpupr
    assert 'id="t-category"' not in markup
    assert 'id="kategori"' not in markup


# -- what reaches the page and the CSV is escaped ------------------------------------------------


def test_names_are_escaped_on_the_pages_and_harmless_in_the_csv(app, city, session_factory):
    with session_factory.begin() as session:
        session.get(Category, "jalan_rusak").name = '=HYPERLINK("http://x")<script>x</script>'
    number = submit(session_factory, "jalan_rusak", title="=1+2 <b>")
    timers.run_due(session_factory, now=wall_now())  # its verification is late now
    supervisor = signed_in_client(app, "pengawas")
    markup = page(supervisor.get("/petugas/pengawasan/tren"))
    assert "<script>x</script>" not in markup
    assert "&lt;script&gt;x&lt;/script&gt;" in markup
    trends = csv_rows(supervisor.get("/petugas/pengawasan/tren.csv"))
    road = next(r for r in trends if r["key"] == "jalan_rusak")
    assert road["label"] == "'" + '=HYPERLINK("http://x")<script>x</script>'
    overdue_rows = csv_rows(supervisor.get("/petugas/pengawasan.csv"))
    (late,) = [r for r in overdue_rows if r["ticket"] == number]
    assert late["ticket_title"] == "'=1+2 <b>"
    assert all(not r["ticket_title"].startswith("=") for r in overdue_rows)


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("=1+2", "'=1+2"),
        ("+62 812", "'+62 812"),
        ("-5", "'-5"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("Jalan", "Jalan"),
        (-5, -5),
        (None, ""),
    ],
)
def test_csv_cells_never_start_a_formula(value, written):
    assert csvfile.safe(value) == written
