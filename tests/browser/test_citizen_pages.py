"""Every citizen page, in both languages, at phone size: axe-core finds no serious or critical
violation, a screenshot of each is saved under shots/<lang>/, and the report form works with
the keyboard alone."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page
from playwright.sync_api import expect

from tests.browser.conftest import Server
from tests.browser.conftest import axe_violations
from tests.browser.conftest import screenshot
from tests.browser.journey import Officers

NEAR = {"latitude": -6.178300, "longitude": 106.631900}
ROAD: dict[str, Any] = {
    "category": "jalan_rusak",
    "title": "Jalan berlubang di Jl. Merdeka",
    "description": "Lubang besar dekat sekolah",
    "location": {"address": "Jl. Merdeka 10", "kecamatan": "Cipondoh", **NEAR},
    "reporter": {"name": "Budi", "contact": "budi@example.org"},
}


def _private(filed: dict[str, Any]) -> str:
    return str(filed["private_url"])


@pytest.mark.parametrize("lang", ["id", "en"])
def test_every_citizen_page_passes_axe_in_both_languages(
    page: Page, server: Server, tokens: dict[str, str], lang: str
) -> None:
    officers = Officers(page.context.request, server.url, tokens)
    asking = officers.file(ROAD)
    officers.to_question(asking["number"], "Di depan nomor berapa?")
    resolved = officers.file(
        {**ROAD, "title": "Lampu jalan mati", "category": "penerangan_jalan"}, photo=True
    )
    officers.complete("verifikator", resolved["number"], {"decision": "route"})
    officers.complete(
        "petugas_dpupr", resolved["number"], {"decision": "accept", "complexity": "simple"}
    )
    officers.resolve(resolved["number"], "Lampu diganti.")
    fresh = officers.file({**ROAD, "title": "Drainase tersumbat", "category": "drainase"})

    page.goto(f"{server.url}/bahasa/{lang}?next=/")
    problems: dict[str, Any] = {}

    def check(name: str) -> None:
        screenshot(page, name)
        found = axe_violations(page)
        if found:
            problems[name] = found

    check("01-home")
    page.goto(server.url + "/lapor")
    check("02-lapor")
    page.locator("button.primary-action[type=submit]").click()
    expect(page.locator(".error-summary")).to_be_visible()
    check("03-lapor-errors")

    # The same road again, at the same place: the nearby step, then following.
    page.goto(server.url + "/lapor")
    page.locator("#category").select_option("jalan_rusak")
    page.locator("#title").fill("Lubang di Jl. Merdeka")
    page.locator("#description").fill("Lubangnya makin besar")
    page.locator("details.coordinates summary").click()
    page.locator("#latitude").fill(str(NEAR["latitude"]))
    page.locator("#longitude").fill(str(NEAR["longitude"] + 0.0003))  # about 33 m away
    page.locator("#contact").fill("tetangga@example.org")
    page.locator("button.primary-action[type=submit]").click()
    expect(page.locator(".nearby li")).to_have_count(1)
    check("04-lapor-nearby")
    page.locator(".nearby button").click()
    check("05-followed")

    page.goto(server.url + "/lapor")
    page.locator("#category").select_option("sampah")
    page.locator("#title").fill("Sampah menumpuk")
    page.locator("#description").fill("Sudah seminggu tidak diangkut")
    page.locator("#anonymous").check()
    page.locator("button.primary-action[type=submit]").click()
    check("06-terkirim")

    page.goto(f"{server.url}/laporan/{fresh['number']}")
    check("07-laporan-publik")
    page.goto(_private(asking))
    expect(page.locator(".question")).to_be_visible()
    check("08-pribadi-pertanyaan")
    page.goto(_private(resolved))
    expect(page.locator("img.after-photo")).to_be_visible()
    check("09-pribadi-selesai")
    page.locator("details summary").last.click()
    check("10-pribadi-sanggah")
    page.goto(_private(resolved))
    page.locator("form[action$='/konfirmasi'] button").click()
    check("11-pribadi-nilai")
    page.goto(server.url + "/galeri")
    expect(page.locator(".pair")).to_have_count(1)
    check("12-galeri")
    page.goto(server.url + "/statistik")
    check("13-statistik")
    page.goto(server.url + "/lacak?nomor=bukan-nomor")
    check("14-lacak")
    page.goto(server.url + "/laporan/LK-00000000")
    check("15-tidak-ditemukan")

    assert problems == {}


def test_the_report_form_can_be_filled_and_sent_with_the_keyboard_alone(
    page: Page, server: Server
) -> None:
    page.goto(server.url + "/lapor")
    page.keyboard.press("Tab")  # the skip link comes first
    expect(page.locator(".skip-link")).to_be_focused()
    page.keyboard.press("Enter")
    page.locator("#kind-0").focus()
    page.keyboard.press("Tab")
    expect(page.locator("#category")).to_be_focused()
    page.keyboard.press("ArrowDown")  # the first category
    page.keyboard.press("Tab")
    page.keyboard.type("Pohon tumbang menutup jalan")
    page.keyboard.press("Tab")
    page.keyboard.type("Pohon besar tumbang sejak pagi")
    page.locator("#contact").focus()
    page.keyboard.type("0812-3456-7890")
    page.keyboard.press("Tab")  # anonymous
    page.keyboard.press("Tab")  # confidential
    page.keyboard.press("Tab")  # the send button
    expect(page.locator("button.primary-action[type=submit]")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator(".ticket-number")).to_be_visible()


def test_with_a_tile_server_the_map_and_use_my_location_set_the_coordinates(
    browser: Any, server: Server
) -> None:
    # A tile server configured (here the app's own picture, so nothing leaves the machine).
    server.app.config["LAKSA_TILE_URL"] = (
        server.url + "/static/vendor/leaflet/images/layers.png?z={z}&x={x}&y={y}"
    )
    context = browser.new_context(
        viewport={"width": 390, "height": 844},
        geolocation={"latitude": -6.1702, "longitude": 106.6403},
        permissions=["geolocation"],
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(server.url + "/lapor")
    expect(page.locator("#peta .leaflet-tile-loaded").first).to_be_visible()
    page.get_by_role("button", name="Gunakan lokasi saya").click()
    expect(page.locator("#latitude")).to_have_value("-6.170200")
    expect(page.locator("#longitude")).to_have_value("106.640300")
    page.locator("#peta").click(position={"x": 60, "y": 60})
    expect(page.locator("#latitude")).not_to_have_value("-6.170200")  # the pin moved
    assert axe_violations(page) == []
    assert errors == []  # the CSP lets the map's own scripts, styles and tiles through
