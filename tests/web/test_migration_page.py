"""The designers' page for moving running tickets to another version (/desain/migrasi)."""

from __future__ import annotations

import html
import json
import re
from datetime import UTC
from datetime import datetime
from datetime import timedelta

import pytest
from sqlalchemy import select

from engine import definitions
from engine.identity import create_user
from engine.models import AuditEvent
from engine.models import Definition
from engine.models import ProcessInstance
from engine.models import Ticket
from tests.conftest import NOW
from tests.conftest import WORKFLOWS
from tests.engine.test_moves import RENAME_AFTER_PHOTO
from tests.engine.test_moves import RESOLVE
from tests.engine.test_moves import STAFF
from tests.factories import complete
from tests.factories import submit
from tests.web.officer_helpers import is_sign_in_redirect
from tests.web.officer_helpers import page
from tests.web.officer_helpers import post_page
from tests.web.officer_helpers import signed_in_client
from web.designer import migration

PATH = "/desain/migrasi"
PASSWORD = "sandi-desainer-123"


@pytest.fixture
def designer(app, session_factory):
    with session_factory.begin() as session:
        create_user(
            session, username="desainer", password=PASSWORD, role="designer", groups=[], now=NOW
        )
    return signed_in_client(app, "desainer", PASSWORD)


@pytest.fixture
def tickets(session_factory) -> dict[str, str]:
    """One ticket at verification, one at the after-photo; then v2 renames the after-photo."""
    at_verify = submit(session_factory)
    at_photo = submit(session_factory)
    complete(session_factory, STAFF, at_photo, {"decision": "route"}, now=NOW)
    accept = {"decision": "accept", "complexity": "simple"}
    complete(session_factory, STAFF, at_photo, accept, now=NOW)
    complete(session_factory, STAFF, at_photo, RESOLVE, now=NOW)
    files = definitions.read_files(WORKFLOWS)
    text = files["complaint.bpmn"]
    for old, new in RENAME_AFTER_PHOTO:
        text = text.replace(old, new)
    files["complaint.bpmn"] = text.replace("working_days(3)", "working_days(2)", 1)
    with session_factory.begin() as session:
        definitions.deploy(session, files, actor="test", now=NOW)
    return {"verify": at_verify, "photo": at_photo}


def version_of(session_factory, number: str) -> int:
    with session_factory() as session:
        return session.scalars(
            select(Definition.version)
            .join(ProcessInstance, ProcessInstance.definition_id == Definition.id)
            .join(Ticket, Ticket.id == ProcessInstance.ticket_id)
            .where(Ticket.number == number)
        ).one()


def test_the_page_needs_a_signed_in_designer(client, app, tickets):
    assert is_sign_in_redirect(client.get(PATH))
    officer = signed_in_client(app, "petugas_dpupr")
    assert officer.get(PATH).status_code == 403


def test_the_form_offers_each_version_with_its_running_tickets(designer, tickets):
    text = page(designer.get(PATH))
    assert 'option value="complaint" selected' in text
    assert "v1 (2 laporan berjalan)" in text
    assert 'value="2" selected>v2 (0 laporan berjalan)' in text
    assert "Uji coba:" not in text  # nothing checked until asked


def test_a_dry_run_lists_each_waiting_ticket_movable_or_not_with_the_reason(designer, tickets):
    text = page(designer.get(PATH, query_string={"proses": "complaint", "ke": 2}))
    assert "Uji coba: complaint ke v2" in text
    verify_row = text.split(tickets["verify"])[1].split("</tr>")[0]
    assert "Ya" in verify_row
    assert "<code>verify</code>" in verify_row
    assert "pewaktu &#39;verification_overdue&#39; dihitung ulang" in verify_row
    photo_row = text.split(tickets["photo"])[1].split("</tr>")[0]
    assert "Tidak" in photo_row
    assert "menunggu di &#39;add_after_photo&#39;, yang tidak ada di versi tujuan" in photo_row
    assert 'name="csrf_token"' in text
    assert "Pindahkan ke v2" in text


def test_the_dry_run_is_paginated(designer, tickets, monkeypatch):
    monkeypatch.setattr(migration, "PAGE_SIZE", 1)
    first = page(designer.get(PATH, query_string={"ke": 2}))
    assert "Halaman 1 dari 2" in first
    assert tickets["verify"] in first
    assert tickets["photo"] not in first
    second = page(designer.get(PATH, query_string={"ke": 2, "halaman": 2}))
    assert tickets["photo"] in second
    assert tickets["verify"] not in second


def test_applying_moves_the_movable_tickets_and_shows_each_audit_event(
    designer, tickets, session_factory
):
    response = post_page(
        designer,
        PATH,
        {"proses": "complaint", "dari": "", "ke": "2"},
        token_from=f"{PATH}?ke=2",
    )
    text = page(response)
    assert response.status_code == 200
    assert "1 dipindah, 1 tidak bisa dipindah, 0 berubah sementara itu, 0 dilewati." in text
    assert version_of(session_factory, tickets["verify"]) == 2
    assert version_of(session_factory, tickets["photo"]) == 1
    with session_factory() as session:
        event = session.scalars(
            select(AuditEvent)
            .join(ProcessInstance, ProcessInstance.id == AuditEvent.instance_id)
            .join(Ticket, Ticket.id == ProcessInstance.ticket_id)
            .where(Ticket.number == tickets["verify"], AuditEvent.action == "migrated")
        ).one()
    assert event.actor == "user:desainer"
    assert (json.loads(event.data)["from"], json.loads(event.data)["to"]) == (1, 2)
    row = text.split(tickets["verify"])[1].split("</tr>")[0]
    assert f"#{event.seq} migrated" in row
    assert event.hash[:12] in row


def test_applying_without_the_csrf_token_is_refused(designer, tickets, session_factory):
    response = designer.post(PATH, data={"proses": "complaint", "ke": "2"})
    assert response.status_code == 400
    assert version_of(session_factory, tickets["verify"]) == 1


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ({"ke": "dua"}, 422),
        ({"ke": 9}, 404),
        ({"proses": "lain", "ke": 1}, 422),
        ({"dari": 1, "ke": 1}, 422),
    ],
)
def test_bad_choices_are_a_clear_error(designer, tickets, query, status):
    assert designer.get(PATH, query_string=query).status_code == status


def test_a_ticket_changed_after_the_dry_run_is_left_alone_and_reported(
    designer, tickets, session_factory
):
    dry_run = page(designer.get(PATH, query_string={"ke": 2}))
    checked_at = re.search(r'name="diuji" value="([^"]+)"', dry_run)
    assert checked_at
    later = datetime.now(UTC) + timedelta(seconds=5)  # an officer acts after the dry run
    complete(session_factory, STAFF, tickets["verify"], {"decision": "route"}, now=later)
    response = post_page(
        designer,
        PATH,
        {"proses": "complaint", "ke": "2", "diuji": html.unescape(checked_at.group(1))},
        token_from=f"{PATH}?ke=2",
    )
    text = page(response)
    assert "0 dipindah, 1 tidak bisa dipindah, 1 berubah sementara itu, 0 dilewati." in text
    row = text.split(tickets["verify"])[1].split("</tr>")[0]
    assert "Berubah sementara itu" in row
    assert version_of(session_factory, tickets["verify"]) == 1


def test_a_dry_run_time_that_is_not_a_time_is_a_clear_error(designer, tickets):
    response = post_page(
        designer, PATH, {"proses": "complaint", "ke": "2", "diuji": "kemarin"}, token_from=PATH
    )
    assert response.status_code == 422
