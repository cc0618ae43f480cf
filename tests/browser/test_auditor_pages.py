"""The auditor in a real browser: signs in, finds a resolved ticket whose verification deadline
was missed, sees its path, where it waits and the escalation on the diagram, downloads its CSV
(equal to the audit table), shows the reporter's data by keyboard (audited); axe on the pages
in both languages; screenshots at phone and desktop width."""

from __future__ import annotations

import csv
import io
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any

import pytest
from playwright.sync_api import Browser
from playwright.sync_api import Page
from playwright.sync_api import expect
from sqlalchemy import select

from engine import commands
from engine.identity import create_user
from engine.models import ProcessInstance
from engine.models import Ticket
from tests.browser.conftest import PHONE
from tests.browser.conftest import Server
from tests.browser.conftest import axe_violations
from tests.browser.conftest import screenshot
from tests.browser.journey import Officers
from tests.conftest import NOW
from tests.factories import audit_events
from tests.web.test_auditor_pages import audit_csv_row

DESKTOP = {"width": 1280, "height": 900}
ROAD: dict[str, Any] = {
    "category": "jalan_rusak",
    "title": "Jalan berlubang di Jl. Merdeka",
    "description": "Lubang besar dekat sekolah",
    "location": {"address": "Jl. Merdeka 10", "kecamatan": "Cipondoh"},
    "reporter": {"name": "Budi", "contact": "budi@example.org"},
}


@pytest.fixture
def auditor(server: Server) -> str:
    with server.factory.begin() as session:
        create_user(
            session,
            username="auditor",
            password="password-auditor",
            role="auditor",
            groups=[],
            now=NOW,
        )
    return "auditor"


def resolved_late(server: Server, officers: Officers) -> str:
    """A ticket whose verification deadline passed (level 1), then routed and resolved."""
    number = str(officers.file(ROAD)["number"])
    with server.factory.begin() as session:
        instance_id = session.scalars(
            select(ProcessInstance.id).join(Ticket).where(Ticket.number == number)
        ).one()
        commands.fire_timers(
            session, instance_id=instance_id, now=datetime.now(UTC) + timedelta(days=6)
        )
    officers.complete("verifikator", number, {"decision": "route"})
    officers.complete("petugas_dpupr", number, {"decision": "accept", "complexity": "simple"})
    officers.resolve(number, "Lubang ditambal aspal.")
    return number


def sign_in(page: Page, base: str, then: str) -> None:
    page.goto(base + then)
    expect(page).to_have_url(f"{base}/masuk?next={then}")
    page.locator("#username").fill("auditor")
    page.locator("#password").fill("password-auditor")
    page.locator("form button[type=submit]").click()
    expect(page).to_have_url(base + then)


def marker(page: Page, element_id: str, css: str) -> Any:
    return page.locator(f'#diagram .djs-element[data-element-id="{element_id}"].{css}')


def audit_table(server: Server, number: str) -> list[dict[str, str]]:
    return [audit_csv_row(r) for r in audit_events(server.factory, number)]


def test_the_auditor_traces_a_resolved_ticket_on_the_diagram_and_downloads_its_csv(
    browser: Browser, server: Server, tokens: dict[str, str], auditor: str
) -> None:
    officers = Officers(browser.new_context().request, server.url, tokens)
    number = resolved_late(server, officers)
    page = browser.new_context(viewport=DESKTOP, accept_downloads=True).new_page()
    sign_in(page, server.url, "/audit")
    page.locator("#nomor").fill(number.lower())
    page.get_by_role("button", name="Cari").click()
    expect(page.locator(".result-count")).to_contain_text("1 laporan ditemukan")
    screenshot(page, "auditor-01-search-desktop")
    page.get_by_role("link", name=number).click()
    expect(page.get_by_role("heading", name=ROAD["title"])).to_be_visible()
    expect(page.locator("#rantai")).to_contain_text("Rantai audit utuh")

    # The path on the diagram: passed, waiting now, escalated.
    expect(marker(page, "verify", "path-completed")).to_have_count(1)
    expect(marker(page, "handle", "path-completed")).to_have_count(1)
    expect(marker(page, "resolved", "path-completed")).to_have_count(1)
    expect(marker(page, "verification_overdue", "path-escalated")).to_have_count(1)
    expect(marker(page, "await_confirmation", "path-waiting")).to_have_count(1)
    expect(marker(page, "confirmation_timeout", "path-waiting")).to_have_count(1)
    assert page.locator("#diagram .djs-connection.path-completed").count() > 5
    expect(marker(page, "archived", "path-completed")).to_have_count(0)  # a path not taken
    screenshot(page, "auditor-02-ticket-desktop")

    with page.expect_download() as downloaded:
        page.locator("a.export-csv").click()
    assert downloaded.value.suggested_filename == f"audit-{number}.csv"
    path = downloaded.value.path()
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
    assert rows == audit_table(server, number)
    on_page = page.locator("table.audit-events tbody tr").count()
    assert on_page == len(rows)

    # The reporter's data, by keyboard: shown once asked, and the read is on the record.
    expect(page.locator("body")).not_to_contain_text("budi@example.org")
    page.locator("#alasan").focus()
    page.keyboard.type("pemeriksaan")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(page.locator(".reporter-contact")).to_have_text("budi@example.org")
    assert audit_table(server, number)[-1]["action"] == "reporter_data_read"

    phone = browser.new_context(viewport=PHONE).new_page()
    sign_in(phone, server.url, f"/audit/tiket/{number}")
    expect(marker(phone, "verify", "path-completed")).to_have_count(1)
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], width  # nothing wider than the phone
    screenshot(phone, "auditor-03-ticket-phone")
    phone.goto(server.url + "/audit")
    screenshot(phone, "auditor-04-search-phone")


@pytest.mark.parametrize("lang", ["id", "en"])
def test_the_auditor_pages_pass_axe(
    browser: Browser, server: Server, tokens: dict[str, str], auditor: str, lang: str
) -> None:
    officers = Officers(browser.new_context().request, server.url, tokens)
    number = resolved_late(server, officers)
    page = browser.new_context(viewport=DESKTOP).new_page()
    page.goto(f"{server.url}/bahasa/{lang}?next=/masuk")
    page.locator("#username").fill("auditor")
    page.locator("#password").fill("password-auditor")
    page.locator("form button[type=submit]").click()
    problems: dict[str, Any] = {}

    def check(name: str) -> None:
        screenshot(page, name)
        found = axe_violations(page)
        if found:
            problems[name] = found

    page.goto(server.url + "/audit")
    check("auditor-axe-search")
    page.goto(server.url + "/audit?dari=kemarin")
    check("auditor-axe-search-error")
    page.goto(f"{server.url}/audit/tiket/{number}")
    expect(marker(page, "verify", "path-completed")).to_have_count(1)
    check("auditor-axe-ticket")
    page.locator("form.reveal button[type=submit]").click()
    check("auditor-axe-ticket-reporter")
    assert problems == {}
