"""A designer moves running tickets to a new version in a real browser: the dry run lists the
waiting tickets (movable or not, and why), applying moves the movable ones, and each move's
audit event is shown; the page passes axe at phone and desktop width."""

from __future__ import annotations

import json

from playwright.sync_api import Browser
from playwright.sync_api import expect
from sqlalchemy import select

from engine import definitions
from engine.identity import create_user
from engine.models import AuditEvent
from engine.models import ProcessInstance
from engine.models import Ticket
from tests.browser.conftest import PHONE
from tests.browser.conftest import Server
from tests.browser.conftest import axe_violations
from tests.browser.conftest import screenshot
from tests.conftest import NOW
from tests.conftest import WORKFLOWS
from tests.engine.test_moves import RENAME_AFTER_PHOTO
from tests.engine.test_moves import RESOLVE
from tests.engine.test_moves import STAFF
from tests.factories import complete
from tests.factories import submit

DESKTOP = {"width": 1280, "height": 900}


def test_a_dry_run_lists_the_waiting_tickets_and_applying_moves_and_audits_them(
    browser: Browser, server: Server
) -> None:
    factory = server.factory
    with factory.begin() as session:
        create_user(
            session,
            username="desainer",
            password="password-desainer",
            role="designer",
            groups=[],
            now=NOW,
        )
    waiting = [submit(factory), submit(factory)]
    stuck = submit(factory)
    complete(factory, STAFF, stuck, {"decision": "route"}, now=NOW)
    complete(factory, STAFF, stuck, {"decision": "accept", "complexity": "simple"}, now=NOW)
    complete(factory, STAFF, stuck, RESOLVE, now=NOW)
    files = definitions.read_files(WORKFLOWS)
    text = files["complaint.bpmn"].replace("working_days(3)", "working_days(2)", 1)
    for old, new in RENAME_AFTER_PHOTO:
        text = text.replace(old, new)
    files["complaint.bpmn"] = text
    with factory.begin() as session:
        definitions.deploy(session, files, actor="test", now=NOW)

    for viewport, suffix in ((PHONE, ""), (DESKTOP, "-desktop")):
        context = browser.new_context(viewport=viewport)
        page = context.new_page()
        page.goto(server.url + "/desain/migrasi")
        expect(page).to_have_url(f"{server.url}/masuk?next=/desain/migrasi")
        page.get_by_label("Nama pengguna").fill("desainer")
        page.get_by_label("Kata sandi").fill("password-desainer")
        page.get_by_role("button", name="Masuk").click()
        expect(page.get_by_role("heading", name="Pindahkan laporan ke versi lain")).to_be_visible()
        expect(page.locator("#ke")).to_have_value("2")
        page.get_by_role("button", name="Uji coba").click()
        rows = page.locator("table.moves tbody tr")
        expect(rows).to_have_count(3)
        for number in waiting:
            row = rows.filter(has_text=number)
            expect(row).to_contain_text("Ya")
            expect(row).to_contain_text("dihitung ulang")
        expect(rows.filter(has_text=stuck)).to_contain_text(
            "menunggu di 'add_after_photo', yang tidak ada di versi tujuan"
        )
        assert axe_violations(page) == []
        screenshot(page, f"designer-migration-dry-run{suffix}")
        context.close()

    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    page.goto(server.url + "/masuk?next=/desain/migrasi%3Fke%3D2")
    page.get_by_label("Nama pengguna").fill("desainer")
    page.get_by_label("Kata sandi").fill("password-desainer")
    page.get_by_role("button", name="Masuk").click()
    page.get_by_role("button", name="Pindahkan ke v2").click()
    expect(page.get_by_role("status")).to_contain_text(
        "2 dipindah, 1 tidak bisa dipindah, 0 berubah sementara itu, 0 dilewati."
    )
    results = page.locator("table.moves tbody tr")
    with factory() as session:
        for number in waiting:
            event = session.scalars(
                select(AuditEvent)
                .join(ProcessInstance, ProcessInstance.id == AuditEvent.instance_id)
                .join(Ticket, Ticket.id == ProcessInstance.ticket_id)
                .where(Ticket.number == number, AuditEvent.action == "migrated")
            ).one()
            assert (json.loads(event.data)["from"], json.loads(event.data)["to"]) == (1, 2)
            row = results.filter(has_text=number)
            expect(row).to_contain_text("Dipindah")
            expect(row).to_contain_text(f"#{event.seq} migrated {event.hash[:12]}")
    expect(results.filter(has_text=stuck)).to_contain_text("Tidak bisa dipindah")
    assert axe_violations(page) == []
    screenshot(page, "designer-migration-applied")
    page.set_viewport_size(DESKTOP)
    screenshot(page, "designer-migration-applied-desktop")
    context.close()
