"""The admins' pages in a real browser, in both languages, at phone and desktop width: users,
API tokens, partners and one partner (a key made and shown once, a webhook subscription
added). axe-core finds no serious or critical violation, no page is wider than the screen
(tables scroll in their own region), and a screenshot of each is saved under shots/<lang>/."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Browser
from playwright.sync_api import expect

from engine.identity import create_user
from tests.browser.conftest import PHONE
from tests.browser.conftest import Server
from tests.browser.conftest import axe_violations
from tests.browser.conftest import screenshot
from tests.conftest import NOW

DESKTOP = {"width": 1280, "height": 900}


@pytest.mark.parametrize("lang", ["id", "en"])
@pytest.mark.parametrize(("size", "viewport"), [("phone", PHONE), ("desktop", DESKTOP)])
def test_the_admin_pages_pass_axe_and_fit_the_screen(
    browser: Browser, server: Server, lang: str, size: str, viewport: dict[str, int]
) -> None:
    with server.factory.begin() as session:
        create_user(
            session, username="admin", password="password-admin", role="admin", groups=[], now=NOW
        )
    page = browser.new_context(viewport=viewport).new_page()
    page.goto(f"{server.url}/bahasa/{lang}?next=/masuk")
    page.locator("#username").fill("admin")
    page.locator("#password").fill("password-admin")
    page.locator("form button[type=submit]").click()
    page.wait_for_load_state()
    problems: dict[str, Any] = {}

    def check(name: str) -> None:
        found = axe_violations(page)
        if found:
            problems[name] = found
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{name} is {overflow}px wider than the {size} screen"
        screenshot(page, f"admin-{name}-{size}")

    page.goto(server.url + "/admin/pengguna")
    check("01-users")
    page.goto(server.url + "/admin/token")
    check("02-tokens")
    page.goto(server.url + "/admin/mitra")
    check("03-partners")
    page.locator("#code").fill("kanal-kota")
    page.locator("#name").fill("Kanal <Kota> & Co")  # escaped, never markup
    page.locator("main form button[type=submit]").last.click()
    page.wait_for_load_state()
    page.goto(server.url + "/admin/mitra/kanal-kota")
    expect(page.locator("main h1")).to_contain_text("Kanal <Kota> & Co")
    check("04-partner")
    page.locator("#scopes input[type=checkbox]").first.check()
    page.locator("form[action$='/mitra/kanal-kota'] button[type=submit]").first.click()
    page.wait_for_load_state()
    expect(page.locator("main")).to_contain_text("lp_")  # the new key, shown once
    check("05-partner-key")
    page.goto(server.url + "/admin/mitra/kanal-kota")
    form = page.locator("form[action$='/mitra/kanal-kota/webhook']")
    form.locator("#webhook-url").fill("https://partner.example/hook")
    form.locator("#webhook-topics input[type=checkbox]").first.check()
    form.locator("button[type=submit]").click()
    page.wait_for_load_state()
    expect(page.locator("main")).to_contain_text("https://partner.example/hook")
    expect(page.locator("#webhook-url")).to_have_value("")  # empty for the next one
    check("06-partner-webhook")
    assert problems == {}
