"""The heatmap in a real browser: 500 tickets run through the engine with varied times (the
commands' controllable clock), then an auditor opens /audit/heatmap: the diagram's elements
carry their colour markers, the overlays show numbers, axe finds nothing serious, at phone
and desktop width."""

from __future__ import annotations

import random
import re
from dataclasses import replace
from datetime import timedelta

import pytest
from playwright.sync_api import Browser
from playwright.sync_api import expect
from sqlalchemy import select

from engine import commands
from engine import timers
from engine.identity import Actor
from engine.identity import create_user
from engine.models import Ticket
from tests.browser.conftest import PHONE
from tests.browser.conftest import Server
from tests.browser.conftest import axe_violations
from tests.browser.conftest import screenshot
from tests.conftest import NOW
from tests.factories import ROAD
from tests.factories import open_task

DESKTOP = {"width": 1280, "height": 900}
TICKETS = 500
H = timedelta(hours=1)
VERIFIER = Actor("verifikator", "verifier", frozenset({"verifier"}))
OFFICERS = {
    "sampah": Actor("petugas_dlh", "officer", frozenset({"dlh"})),
    "adminduk": Actor("petugas_disdukcapil", "officer", frozenset({"disdukcapil"})),
}
RANGE = "?dari=2026-11-01&sampai=2027-01-31"


def generate(server: Server, n: int = TICKETS, seed: int = 8) -> None:
    """``n`` tickets through the engine's commands, each step at its own (simulated) time."""
    rng = random.Random(seed)
    factory = server.factory

    def run(action, now):  # one command, one transaction
        with factory.begin() as session:
            action(session, now)

    def do(number, actor, data):
        def action(session, now):
            task = open_task(session, number)
            commands.complete_task(session, task_id=task.id, actor=actor, data=data, now=now)

        return action

    for i in range(n):
        category = rng.choice(list(OFFICERS))
        at = NOW + i * 20 * timedelta(minutes=1)  # a week of reports
        with factory.begin() as session:
            number = commands.submit_ticket(
                session, data=replace(ROAD, category=category), actor=Actor.public(), now=at
            ).ticket.number
        if rng.random() < 0.1:
            continue  # left at the desk: its deadline passes in the sweep below
        at += H * rng.lognormvariate(1.5, 1.0)
        if rng.random() < 0.1:
            run(do(number, VERIFIER, {"decision": "reject", "reason": "bukan aduan"}), at)
            continue
        run(do(number, VERIFIER, {"decision": "route"}), at)
        officer = OFFICERS[category]
        at += H * rng.lognormvariate(2.5, 1.0)
        run(do(number, officer, {"decision": "accept", "complexity": "simple"}), at)
        if rng.random() < 0.15:
            continue  # still being handled
        at += H * rng.lognormvariate(3.5, 0.8)
        run(do(number, officer, {"decision": "resolve", "resolution": "Sudah ditangani"}), at)
        if rng.random() < 0.6:
            at += H * rng.lognormvariate(2.0, 1.0)

            def confirm(session, now, number=number):
                commands.correlate_message(
                    session,
                    ticket_number=number,
                    message="reporter_confirms",
                    payload={},
                    actor=Actor.public(),
                    now=now,
                )

            run(confirm, at)
    # a month on: the desk's deadlines passed, silent reporters' windows closed
    timers.run_due(factory, now=NOW + timedelta(days=30))


@pytest.fixture
def city(server: Server) -> Server:
    generate(server)
    with server.factory.begin() as session:
        assert len(session.scalars(select(Ticket.id)).all()) == TICKETS
        create_user(
            session,
            username="auditor1",
            password="password-auditor1",
            role="auditor",
            groups=[],
            now=NOW,
        )
    return server


def test_the_heatmap_of_500_tickets_shows_time_per_element(browser: Browser, city: Server):
    """One test: generating the 500 tickets takes most of its time."""
    errors: list[str] = []
    for name, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
        context = browser.new_context(viewport=viewport, locale="id-ID")
        page = context.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(city.url + "/audit/heatmap" + RANGE)
        page.get_by_label("Nama pengguna").fill("auditor1")
        page.get_by_label("Kata sandi").fill("password-auditor1")
        page.get_by_role("button", name="Masuk").click()
        expect(page).to_have_url(city.url + "/audit/heatmap" + RANGE)
        canvas = page.locator("#heatmap-canvas")
        expect(canvas).to_have_attribute("data-ready", "true")
        # the verifier's task: hours of waiting, some past the deadline
        verify = page.locator('.djs-element[data-element-id="verify"]')
        expect(verify).to_have_class(re.compile(r"\bheat-[2-6]\b"))
        expect(page.locator('.djs-element[data-element-id="handle"]')).to_have_class(
            re.compile(r"\bheat-[3-6]\b")
        )
        badge = page.locator('.djs-overlays[data-container-id="verify"] .heat-badge')
        expect(badge).to_contain_text("lewat")
        expect(badge).to_contain_text("median")
        expect(badge).to_contain_text("terlambat")
        assert any(ch.isdigit() for ch in badge.inner_text())
        assert page.locator(".djs-element[class*='heat-']").count() >= 15
        # the table below says the same in words
        row = page.locator("table.heatmap-table tr").filter(has_text="Verify complaint")
        expect(row).to_have_count(1)
        screenshot(page, f"heatmap-{name}")
        assert not [e for e in errors if "Content Security Policy" in e], errors
        assert axe_violations(page) == []
        context.close()
    # without JavaScript: the table and the legend, and a word that the diagram needs it
    context = browser.new_context(viewport=PHONE, java_script_enabled=False)
    page = context.new_page()
    page.goto(city.url + "/masuk")
    page.get_by_label("Nama pengguna").fill("auditor1")
    page.get_by_label("Kata sandi").fill("password-auditor1")
    page.get_by_role("button", name="Masuk").click()
    page.goto(city.url + "/audit/heatmap" + RANGE)
    expect(page.locator("#heatmap-nojs")).to_be_visible()
    expect(page.locator("#heatmap-canvas")).to_be_hidden()
    expect(page.locator("table.heatmap-table tbody tr").first).to_be_visible()
    expect(page.locator(".heatmap-legend li")).to_have_count(8)
    screenshot(page, "heatmap-phone-no-js")
    context.close()
