"""The oversight pages in a real browser: overdue list, OPD table and trends pass axe at phone
and desktop width in both languages, never make the page wider than the phone (tables scroll
in their own labelled region), draw the trend chart, and sort with the keyboard alone."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Browser
from playwright.sync_api import Page
from playwright.sync_api import expect

from tests.browser.conftest import PHONE
from tests.browser.conftest import Server
from tests.browser.conftest import axe_violations
from tests.browser.conftest import screenshot
from tests.web.test_oversight import city  # noqa: F401  (the fixture: tickets in every state)

DESKTOP = {"width": 1280, "height": 900}
PAGES = {
    "overdue": "/petugas/pengawasan",
    "opd-table": "/petugas/pengawasan/opd",
    "trends": "/petugas/pengawasan/tren",
}


def sign_in(page: Page, base: str, username: str) -> None:
    page.goto(base + "/masuk")
    page.locator("#username").fill(username)
    page.locator("#password").fill("password-" + username)
    page.locator("form button[type=submit]").click()
    expect(page).to_have_url(base + "/petugas")


@pytest.mark.parametrize("lang", ["id", "en"])
@pytest.mark.parametrize(("size", "viewport"), [("phone", PHONE), ("desktop", DESKTOP)])
def test_the_oversight_pages_pass_axe_and_fit_the_screen(
    browser: Browser,
    server: Server,
    city: dict[str, str],  # noqa: F811
    lang: str,
    size: str,
    viewport: dict[str, int],
) -> None:
    context = browser.new_context(viewport=viewport, locale="id-ID", timezone_id="Asia/Jakarta")
    page = context.new_page()
    sign_in(page, server.url, "pengawas")
    problems: dict[str, Any] = {}
    for name, path in PAGES.items():
        page.goto(f"{server.url}{path}?lang={lang}")
        expect(page.locator("main table").first).to_be_visible()
        if name == "trends":  # the chart is drawn from the page's JSON block
            expect(page.locator("#grafik-tren")).to_be_visible()
        found = axe_violations(page)
        if found:
            problems[name] = found
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{name} is {overflow}px wider than the {size} screen"
        for region in page.locator(".table-scroll").all():
            assert region.get_attribute("role") == "region"
            assert region.get_attribute("aria-labelledby")
        screenshot(page, f"oversight-{name}-{size}")
    context.close()
    assert problems == {}


def test_the_opd_table_sorts_and_the_overdue_list_filters_with_the_keyboard(
    page: Page,
    server: Server,
    city: dict[str, str],  # noqa: F811
) -> None:
    sign_in(page, server.url, "pengawas")
    page.goto(server.url + "/petugas/pengawasan/opd")
    page.locator("thead a", has_text="Tepat waktu").focus()
    page.keyboard.press("Enter")
    expect(page).to_have_url(server.url + "/petugas/pengawasan/opd?urut=-tepat_waktu")
    expect(page.locator("th[aria-sort=descending]")).to_contain_text("Tepat waktu")
    page.goto(server.url + "/petugas/pengawasan")
    page.locator("#opd").focus()
    page.keyboard.press("ArrowDown")  # no native popup in headless chromium: picks the next
    page.locator("#opd").select_option("dlh")
    page.locator("form.filters button[type=submit]").focus()
    page.keyboard.press("Enter")
    expect(page).to_have_url(server.url + "/petugas/pengawasan?opd=dlh")
    rows = page.locator("section[aria-labelledby=late-title] tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(city["follow_up"])
