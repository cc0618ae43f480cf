"""The auditors' pages through the Flask test client, CSRF on: who may open them, the search
and its filters, one ticket's trail, the exports (equal to the audit table), reading a
reporter's data (audited), confidential tickets, hostile data."""

from __future__ import annotations

import csv
import html
import io
import json
import re
from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy import update

from engine import anchors
from engine import audit
from engine.identity import create_user
from engine.models import AuditEvent
from engine.models import ProcessInstance
from engine.models import Ticket
from tests.conftest import NOW
from tests.engine.test_anchors import rewrite_chain
from tests.factories import ROAD as ROAD_INPUT
from tests.factories import audit_events
from tests.factories import complete
from tests.factories import submit
from tests.web.officer_helpers import fire_timers
from tests.web.officer_helpers import is_sign_in_redirect
from tests.web.officer_helpers import make_admin
from tests.web.officer_helpers import page
from tests.web.officer_helpers import post_page
from tests.web.officer_helpers import signed_in_client
from tests.web.officer_helpers import version_of
from tests.web.pages import Driven

PAGES = ["/audit", "/audit/ekspor.csv", "/audit/ekspor.json"]
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


@pytest.fixture
def auditor(app, session_factory) -> FlaskClient:
    with session_factory.begin() as session:
        create_user(
            session,
            username="auditor",
            password="password-auditor",
            role="auditor",
            groups=[],
            now=NOW,
        )
    return signed_in_client(app, "auditor")


def ticket_paths(number: str) -> list[str]:
    return [f"/audit/tiket/{number}", f"/audit/tiket/{number}.csv", f"/audit/tiket/{number}.json"]


def audit_csv_row(r: AuditEvent) -> dict[str, str]:
    """An audit event as the ticket's CSV export must show it."""
    return {
        "seq": str(r.seq),
        "at": r.at.isoformat(),
        "actor": r.actor,
        "via": r.via or "",
        "action": r.action,
        "element": r.element_id or "",
        "data": r.data,
        "prev_hash": r.prev_hash,
        "hash": r.hash,
    }


def numbers_on(text: str) -> set[str]:
    return set(re.findall(r'class="ticket-link" href="/audit/tiket/(LK-[0-9A-Z]{8})"', text))


# -- who may open them ------------------------------------------------------------------------


def test_signed_out_visitors_are_sent_to_sign_in(client, session_factory):
    number = submit(session_factory)
    for path in [*PAGES, *ticket_paths(number)]:
        assert is_sign_in_redirect(client.get(path)), path
    response = client.post(f"/audit/tiket/{number}/pelapor")
    assert response.status_code in (302, 400)  # no session: sign-in (or CSRF refuses first)
    assert "budi@example.org" not in page(response)


@pytest.mark.parametrize("role", ["officer", "citizen", "designer", "supervisor", "verifier"])
def test_every_other_role_gets_the_403_page(app, session_factory, role):
    with session_factory.begin() as session:
        create_user(session, username="x", password="password-x", role=role, groups=[], now=NOW)
    number = submit(session_factory)
    client = signed_in_client(app, "x")
    for path in [*PAGES, *ticket_paths(number)]:
        response = client.get(path)
        assert response.status_code == 403, path
        assert "Anda tidak berhak membuka halaman ini" in page(response)
        assert "Jalan berlubang" not in page(response)
    refused = post_page(client, f"/audit/tiket/{number}/pelapor", {}, token_from="/petugas")
    assert refused.status_code == 403
    assert "budi@example.org" not in page(refused)


def test_an_officer_is_refused_too(app, session_factory):
    client = signed_in_client(app, "petugas_dpupr")
    assert client.get("/audit").status_code == 403


def test_admins_and_auditors_see_the_link_and_the_pages(app, auditor, session_factory):
    password = make_admin(session_factory)
    admin = signed_in_client(app, "admin", password)
    for client in (auditor, admin):
        response = client.get("/audit")
        assert response.status_code == 200
        assert 'href="/audit" aria-current="page"' in page(response)
    officer = signed_in_client(app, "petugas_dpupr")
    assert 'href="/audit"' not in page(officer.get("/petugas"))


# -- the search -------------------------------------------------------------------------------


def test_search_filters_by_number_status_opd_category_kecamatan_dates_and_escalation(
    auditor, session_factory, actors
):
    from dataclasses import replace

    road = submit(session_factory, replace(ROAD_INPUT, kecamatan="Cipondoh"), now=NOW)
    rubbish = submit(
        session_factory,
        replace(ROAD_INPUT, category="sampah", kecamatan="Karawaci"),
        now=NOW + timedelta(days=3),
    )
    late = submit(session_factory, replace(ROAD_INPUT, kecamatan="Karawaci"), now=NOW)
    complete(session_factory, actors["verifikator"], road, {"decision": "route"})
    fire_timers(session_factory, late, now=NOW + timedelta(days=10))  # verification overdue

    def found(query: str) -> set[str]:
        response = auditor.get("/audit" + query)
        assert response.status_code == 200, query
        return numbers_on(page(response))

    assert found("") == {road, rubbish, late}
    assert "3 laporan ditemukan" in page(auditor.get("/audit"))
    assert found("?nomor=" + road.lower().removeprefix("lk-")) == {road}  # any case, no prefix
    assert found("?nomor=" + road.lower()) == {road}
    assert found("?nomor=nonsense") == set()
    assert found("?status=dispatched") == {road}
    assert found("?status=verification") == {rubbish, late}
    assert found("?opd=dpupr") == {road}
    assert found("?kategori=sampah") == {rubbish}
    assert found("?kecamatan=Karawaci") == {rubbish, late}
    assert found("?kecamatan=Karawaci&kategori=jalan_rusak") == {late}
    assert found("?eskalasi=1") == {late}
    assert found("?eskalasi=1%2B") == {late}
    assert found("?eskalasi=0") == {road, rubbish}
    assert found("?dari=2026-11-25") == {rubbish}  # created 26 Nov (Jakarta)
    assert found("?sampai=2026-11-23") == {road, late}
    assert found("?dari=2026-11-23&sampai=2026-11-23") == {road, late}
    assert "1 laporan ditemukan" in page(auditor.get("/audit?kategori=sampah"))


def test_bad_filters_are_told_not_crashed(auditor, session_factory):
    submit(session_factory)
    for query in [
        "?dari=kemarin",
        "?sampai=2026-13-45",
        "?eskalasi=9",
        "?setelah=abc",
        "?setelah=99999999999999999999999",
        "?nomor=" + "x" * 500,
    ]:
        response = auditor.get("/audit" + query)
        assert response.status_code == 200, query
    assert "Tanggal tidak dikenal" in page(auditor.get("/audit?dari=kemarin"))
    assert "Tingkat eskalasi tidak dikenal" in page(auditor.get("/audit?eskalasi=9"))
    assert auditor.get("/audit/tiket/LK-00000000").status_code == 404
    assert auditor.get("/audit/tiket/..%2F..%2Fetc").status_code == 404
    assert auditor.get("/audit/tiket/nonsense.csv").status_code == 404


def test_search_pages_by_cursor(auditor, session_factory, monkeypatch):
    from engine import audit_search

    monkeypatch.setattr(audit_search, "PAGE_SIZE", 2)
    made = [submit(session_factory, now=NOW + timedelta(minutes=i)) for i in range(5)]
    seen: list[str] = []
    path = "/audit?kategori=jalan_rusak"
    while path:
        text = page(auditor.get(path))
        assert "5 laporan ditemukan" in text
        seen += re.findall(r'class="ticket-link" href="/audit/tiket/(LK-[0-9A-Z]{8})"', text)
        nxt = re.search(r'href="([^"]*setelah=[^"]*)">Berikutnya', text)
        path = html.unescape(nxt.group(1)) if nxt else ""
        if path:
            assert "kategori=jalan_rusak" in path  # the filters stay
    assert seen == list(reversed(made))


def test_confidential_tickets_are_found_and_opened_by_auditors(auditor, client, session_factory):
    from dataclasses import replace

    secret = submit(session_factory, replace(ROAD_INPUT, confidential=True, title="Rahasia ini"))
    assert client.get(f"/laporan/{secret}").status_code == 404  # the public: never
    assert secret in numbers_on(page(auditor.get("/audit")))
    response = auditor.get(f"/audit/tiket/{secret}")
    assert response.status_code == 200
    assert "Rahasia ini" in page(response)


def test_search_exports_stream_the_same_filters(auditor, session_factory):
    from dataclasses import replace

    road = submit(session_factory)
    rubbish = submit(session_factory, replace(ROAD_INPUT, category="sampah", title="=1+1"))
    response = auditor.get("/audit/ekspor.csv?kategori=sampah")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.is_streamed
    rows = list(csv.DictReader(io.StringIO(page(response))))
    assert [r["number"] for r in rows] == [rubbish]
    assert rows[0]["title"] == "'=1+1"  # never a formula in a spreadsheet
    assert rows[0]["category"] == "sampah"
    data = json.loads(page(auditor.get("/audit/ekspor.json")))
    assert {d["number"] for d in data} == {road, rubbish}
    assert {d["title"] for d in data} == {"Jalan berlubang", "=1+1"}  # JSON keeps the value
    assert "reporter" not in json.dumps(data)  # no personal data in a search export


# -- one ticket -------------------------------------------------------------------------------


def resolved_ticket(client: FlaskClient, tokens: dict[str, str]) -> Driven:
    ticket = Driven(client, tokens)
    ticket.to_handling()
    ticket.resolve()
    return ticket


def test_the_ticket_page_shows_every_event_who_through_what_clocks_and_notifications(
    auditor, client, tokens, session_factory
):
    ticket = resolved_ticket(client, tokens)
    text = page(auditor.get(f"/audit/tiket/{ticket.number}"))
    rows = audit_events(session_factory, ticket.number)
    assert len(re.findall(r'<tr data-seq="\d+">', text)) == len(rows)
    assert "Rantai audit utuh." in text
    assert "Verify complaint" in text  # the element's name from the deployed BPMN
    assert "<code>verify</code>" in text
    assert "user:verifikator" in text
    assert "user:petugas_dpupr" in text
    assert "API publik" in text  # the report came through the public API
    assert text.count("token API #") >= 3  # the desk and the OPD through their tokens
    assert "test (verifikator)" in text  # the token's label and user
    # The SLA clocks: the verification clock started and fulfilled, the resolution one started.
    clocks = text.split('sla-clocks"')[1].split("</table>")[0]
    assert "Verification clock started" in clocks
    assert "mulai" in clocks
    assert "terpenuhi" in clocks
    assert "Start the resolution clock" in clocks
    # Notifications: the reporter's contact masked.
    notes = text.split('notifications"')[1].split("</table>")[0]
    assert "b***@example.org" in notes
    assert "budi@example.org" not in text  # never without the explicit action
    assert "Budi" not in text
    # The diagram's data: the BPMN and what to mark.
    block = re.search(
        r'<script type="application/json" id="diagram-data">(.*?)</script>', text, re.S
    )
    assert block is not None
    data = json.loads(block.group(1))
    assert "<bpmn:definitions" in data["bpmn"]
    assert {"received", "verify", "acknowledge", "handle", "resolved"} <= set(
        data["markers"]["completed"]
    )
    assert data["markers"]["waiting"] == ["confirmation_timeout"]  # on await_confirmation


def test_old_events_without_via_say_not_recorded(auditor, session_factory):
    number = submit(session_factory)  # the engine called directly, as before via was recorded
    assert {r.via for r in audit_events(session_factory, number)} == {None}
    text = page(auditor.get(f"/audit/tiket/{number}"))
    assert "tidak tercatat" in text
    assert "Rantai audit utuh." in text


def test_escalations_and_breaches_are_listed(auditor, session_factory):
    number = submit(session_factory)
    fire_timers(session_factory, number, now=NOW + timedelta(days=10))
    text = page(auditor.get(f"/audit/tiket/{number}"))
    table = text.split('escalations"')[1].split("</table>")[0]
    assert "3 working days to verify" in table
    assert "terlewati" in table
    assert "sistem" in text  # the timer acted as the system
    data = json.loads(
        re.search(r'id="diagram-data">(.*?)</script>', text, re.S).group(1)  # type: ignore[union-attr]
    )
    assert "verification_overdue" in data["markers"]["escalated"]
    assert "verify" in data["markers"]["waiting"]


def test_a_tampered_chain_shows_broken(auditor, session_factory):
    number = submit(session_factory)
    row = audit_events(session_factory, number)[0]
    with session_factory.begin() as session:
        session.execute(update(AuditEvent).where(AuditEvent.id == row.id).values(actor="someone"))
    text = page(auditor.get(f"/audit/tiket/{number}"))
    assert "Rantai audit rusak." in text
    assert "Peristiwa 1" in text
    body = json.loads(page(auditor.get(f"/audit/tiket/{number}.json")))
    assert body["chain"] == {
        "intact": False,
        "problem": {"seq": 1, "reason": "event was edited (hash does not match its content)"},
    }


def test_the_ticket_csv_and_json_equal_the_audit_table(auditor, client, tokens, session_factory):
    ticket = resolved_ticket(client, tokens)
    response = auditor.get(f"/audit/tiket/{ticket.number.lower()}.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert f"audit-{ticket.number}.csv" in response.headers["Content-Disposition"]
    got = list(csv.DictReader(io.StringIO(page(response))))
    expected = [audit_csv_row(r) for r in audit_events(session_factory, ticket.number)]
    assert got == expected
    body = json.loads(page(auditor.get(f"/audit/tiket/{ticket.number}.json")))
    assert body["ticket"] == ticket.number
    assert body["chain"] == {"intact": True, "problem": None}
    assert [
        {k: ("" if v is None else str(v)) for k, v in e.items()} for e in body["events"]
    ] == expected


# -- the reporter's data ----------------------------------------------------------------------


def test_reading_the_reporters_data_is_shown_only_on_request_and_audited(auditor, session_factory):
    number = submit(session_factory)
    before = audit_events(session_factory, number)
    version = version_of(session_factory, number)
    text = page(auditor.get(f"/audit/tiket/{number}"))
    assert "budi@example.org" not in text
    assert len(audit_events(session_factory, number)) == len(before)  # browsing logs nothing

    path = f"/audit/tiket/{number}"
    response = post_page(
        auditor, f"{path}/pelapor", {"alasan": "pemeriksaan keluhan"}, token_from=path
    )
    assert response.status_code == 200
    assert "budi@example.org" in page(response)
    assert "Pembacaan ini dicatat" in page(response)
    after = audit_events(session_factory, number)
    assert len(after) == len(before) + 1
    read = after[-1]
    assert (read.actor, read.via, read.action) == ("user:auditor", "session", "reporter_data_read")
    assert json.loads(read.data) == {
        "fields": ["reporter_contact"],  # this reporter gave no name
        "page": path,
        "reason": "pemeriksaan keluhan",
    }
    assert version_of(session_factory, number) == version  # a note, not a new version
    with session_factory() as session:
        assert audit.verify(session) == []
    assert "Data pelapor dibaca" in page(auditor.get(path))


def test_reading_needs_the_csrf_token(auditor, session_factory):
    number = submit(session_factory)
    before = len(audit_events(session_factory, number))
    response = auditor.post(f"/audit/tiket/{number}/pelapor", data={"alasan": "x"})
    assert response.status_code == 400
    assert "budi@example.org" not in page(response)
    assert len(audit_events(session_factory, number)) == before


def test_an_anonymous_reporter_stays_hidden_from_auditors_and_nothing_is_logged(
    auditor, session_factory
):
    from dataclasses import replace

    number = submit(session_factory, replace(ROAD_INPUT, anonymous=True, reporter_name="Siti"))
    before = len(audit_events(session_factory, number))
    path = f"/audit/tiket/{number}"
    assert "Pelapor memilih anonim" in page(auditor.get(path))
    response = post_page(auditor, f"{path}/pelapor", {}, token_from=path)
    assert response.status_code == 200
    assert "Siti" not in page(response)
    assert "budi@example.org" not in page(response)
    assert len(audit_events(session_factory, number)) == before


# -- hostile data -----------------------------------------------------------------------------


def test_hostile_descriptions_and_data_are_escaped(auditor, session_factory, actors):
    from dataclasses import replace

    number = submit(session_factory, replace(ROAD_INPUT, title=HOSTILE, description=HOSTILE))
    complete(
        session_factory, actors["verifikator"], number, {"decision": "reject", "reason": HOSTILE}
    )
    text = page(auditor.get(f"/audit/tiket/{number}"))
    assert "<script>alert" not in text
    assert "<img src=x" not in text
    assert "&lt;script&gt;alert(" in text
    listing = page(auditor.get("/audit"))
    assert "<script>alert" not in listing
    assert "&lt;script&gt;" in listing
    # The diagram's JSON block cannot be closed by data.
    block = text.split('id="diagram-data">')[1].split("</script>")[0]
    assert "<" not in block.replace("\\u003c", "")


def test_csv_cells_never_start_a_formula(auditor, session_factory, actors):
    from web.auditor.exports import safe_cell

    assert [safe_cell(v) for v in ["=1", "+1", "-1", "@SUM(A1)", "\tx", "ok", None, 3]] == [
        "'=1",
        "'+1",
        "'-1",
        "'@SUM(A1)",
        "'\tx",
        "ok",
        "",
        "3",
    ]
    number = submit(session_factory)
    with session_factory.begin() as session:
        instance_id = session.scalars(
            select(ProcessInstance.id).join(Ticket).where(Ticket.number == number)
        ).one()
        audit.note(
            session,
            instance_id,
            number,
            [audit.Entry('=HYPERLINK("http://x")', "task_claimed", None, None)],
            at=NOW,
        )
    rows = list(csv.DictReader(io.StringIO(page(auditor.get(f"/audit/tiket/{number}.csv")))))
    assert rows[-1]["actor"] == '\'=HYPERLINK("http://x")'


def test_events_written_through_a_web_session_say_so(app, auditor, session_factory):
    """The desk decides on the task page (a signed-in session): the events say 'session'."""
    from tests.web.officer_helpers import open_task_of

    number = submit(session_factory)
    desk = signed_in_client(app, "verifikator")
    task = open_task_of(session_factory, number)
    response = post_page(desk, f"/petugas/tugas/{task.id}", {"decision": "route"})
    assert response.status_code in (200, 302, 303), page(response)[:300]
    vias = {(r.actor, r.via) for r in audit_events(session_factory, number)}
    assert ("user:verifikator", "session") in vias
    assert "sesi web" in page(auditor.get(f"/audit/tiket/{number}"))


# -- the daily anchor -------------------------------------------------------------------------


def test_the_ticket_page_says_whether_the_daily_anchor_covers_it_and_still_matches(
    auditor, session_factory
):
    number = submit(session_factory, now=NOW)
    before = page(auditor.get(f"/audit/tiket/{number}"))
    assert "Belum tercakup jejak audit harian" in before

    anchors.anchor_today(session_factory, now=NOW)
    covered = page(auditor.get(f"/audit/tiket/{number}"))
    day = anchors.jakarta_day(NOW).isoformat()
    assert f"Cocok dengan jejak audit harian {day}" in covered

    # The whole chain rewritten consistently: the chain check still passes, the anchor does not.
    rewrite_chain(session_factory, number)
    after = page(auditor.get(f"/audit/tiket/{number}"))
    assert "Rantai audit utuh." in after
    assert "Tidak cocok dengan jejak audit harian" in after
