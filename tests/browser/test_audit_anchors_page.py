"""``/jejak-audit`` in a real browser, at phone width and on a desktop, in both languages:
axe-core finds no serious or critical violation, the page does not scroll sideways (the hashes
wrap), and a screenshot of each is saved under shots/<lang>/."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import Page

from engine import anchors
from tests.browser.conftest import Server
from tests.browser.conftest import axe_violations
from tests.browser.conftest import screenshot
from tests.conftest import NOW
from tests.factories import submit


@pytest.mark.parametrize("lang", ["id", "en"])
def test_the_audit_anchors_page_reads_well_on_a_phone_and_a_desktop(
    page: Page, server: Server, lang: str
) -> None:
    for day in range(3):
        for _ in range(2):
            submit(server.factory, now=NOW + timedelta(days=day))
        anchors.anchor_today(server.factory, now=NOW + timedelta(days=day, hours=3))
    page.goto(f"{server.url}/bahasa/{lang}?next=/jejak-audit")
    assert page.locator("li.anchor").count() == 3
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(page, "40-jejak-audit-phone")
    assert axe_violations(page) == []
    page.set_viewport_size({"width": 1280, "height": 900})
    screenshot(page, "41-jejak-audit-desktop")
    assert axe_violations(page) == []
