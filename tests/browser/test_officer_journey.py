"""Officers in a real browser: the verifier and the dpupr officer take a ticket from the
inbox to resolution; another OPD's officer is refused; two tabs race on one task; an expired
session comes back to the task after signing in; every officer page passes axe."""

from __future__ import annotations

import time
from typing import Any

import pytest
from playwright.sync_api import Browser
from playwright.sync_api import Page
from playwright.sync_api import expect

from tests.browser.conftest import PHONE
from tests.browser.conftest import Server
from tests.browser.conftest import axe_violations
from tests.browser.conftest import screenshot
from tests.browser.journey import Officers
from tests.browser.journey import pothole_photos

DESKTOP = {"width": 1280, "height": 900}
ROAD: dict[str, Any] = {
    "category": "jalan_rusak",
    "title": "Jalan berlubang di Jl. Merdeka",
    "description": "Lubang besar dekat sekolah",
    "location": {"address": "Jl. Merdeka 10", "kecamatan": "Cipondoh"},
    "reporter": {"name": "Budi", "contact": "budi@example.org"},
}


def sign_in(page: Page, base: str, username: str, then: str = "/petugas") -> None:
    page.goto(base + then)
    expect(page).to_have_url(f"{base}/masuk?next={then}")
    page.get_by_label("Nama pengguna").fill(username)
    page.get_by_label("Kata sandi").fill("password-" + username)
    page.get_by_role("button", name="Masuk").click()


def open_task_of(page: Page, number: str) -> None:
    page.locator(".task-row").filter(has_text=number).locator("a.task-link").click()


def test_the_desk_and_the_opd_take_a_ticket_from_the_inbox_to_resolution(
    browser: Browser, server: Server, tokens: dict[str, str], tmp_path
) -> None:
    officers = Officers(browser.new_context().request, server.url, tokens)
    older = officers.file({**ROAD, "title": "Laporan lebih lama"})
    resident = browser.new_context(viewport=PHONE)
    citizen = resident.new_page()
    citizen.goto(server.url + "/lapor")
    citizen.locator("#category").select_option("jalan_rusak")
    citizen.locator("#title").fill("Lubang di depan pasar")
    citizen.locator("#description").fill("Lubangnya dalam, motor sering jatuh")
    citizen.locator("#photos").set_input_files(pothole_photos(tmp_path))
    citizen.locator("#contact").fill("sari@example.org")
    citizen.locator("button.primary-action[type=submit]").click()
    number = citizen.locator(".ticket-number").inner_text().strip()
    private_link = citizen.locator(".private-link a").get_attribute("href")
    assert private_link

    desk = browser.new_context(viewport=DESKTOP).new_page()
    sign_in(desk, server.url, "verifikator")
    expect(desk.get_by_role("heading", name="Kotak tugas")).to_be_visible()
    rows = desk.locator(".task-row")
    expect(rows).to_have_count(2)
    # Both are due the same day; the inbox sorts the earliest deadline first, then the oldest.
    assert older["number"] in rows.nth(0).inner_text() or number in rows.nth(0).inner_text()
    open_task_of(desk, number)
    expect(desk.locator(".photos img")).to_have_count(2)
    expect(desk.locator(".facts")).to_contain_text("sari@example.org")  # the desk sees contacts
    screenshot(desk, "officer-verify")
    desk.check("input[name=decision][value=route]")
    desk.get_by_role("button", name="Kirim keputusan").click()
    expect(desk.get_by_role("status").filter(has_text=number)).to_be_visible()

    # Another OPD's officer cannot open dpupr's task.
    task_id = officers.task("petugas_dpupr", number)["id"]
    other = browser.new_context(viewport=DESKTOP).new_page()
    sign_in(other, server.url, "petugas_dlh")
    response = other.goto(f"{server.url}/petugas/tugas/{task_id}")
    assert response is not None
    assert response.status == 403
    refused = other.get_by_role("heading", name="Anda tidak berhak membuka halaman ini")
    expect(refused).to_be_visible()
    assert "Lubang di depan pasar" not in other.content()

    # dpupr acknowledges, asks the reporter, reads the reply, resolves with a photo.
    opd = browser.new_context(viewport=DESKTOP).new_page()
    sign_in(opd, server.url, "petugas_dpupr")
    open_task_of(opd, number)
    opd.check("input[name=decision][value=accept]")
    opd.check("input[name=complexity][value=simple]")
    opd.get_by_role("button", name="Kirim keputusan").click()
    open_task_of(opd, number)
    opd.check("input[name=decision][value=need_info]")
    opd.locator("textarea[name=question]").fill("Di depan kios nomor berapa?")
    opd.get_by_role("button", name="Kirim keputusan").click()

    citizen.goto(private_link)
    citizen.get_by_label("Jawaban Anda").fill("Depan kios nomor 7.")
    citizen.get_by_role("button", name="Kirim jawaban").click()
    expect(citizen.locator(".timeline")).to_contain_text("Depan kios nomor 7.")

    opd.reload()
    open_task_of(opd, number)
    expect(opd.locator(".timeline")).to_contain_text("Depan kios nomor 7.")  # the reply
    screenshot(opd, "officer-handle")
    opd.check("input[name=decision][value=resolve]")
    opd.locator("textarea[name=resolution]").fill("Lubang ditambal aspal.")
    opd.locator("input[name=after_photo]").set_input_files(pothole_photos(tmp_path)[:1])
    opd.get_by_role("button", name="Kirim keputusan").click()
    expect(opd.get_by_role("status").filter(has_text=number)).to_be_visible()

    citizen.goto(private_link)
    expect(citizen.locator("img.after-photo")).to_be_visible()
    expect(citizen.locator(".ticket-head .status")).to_have_text("Selesai")


def test_two_tabs_on_one_task_end_with_one_success_and_one_clear_conflict(
    page: Page, server: Server, tokens: dict[str, str]
) -> None:
    officers = Officers(page.context.request, server.url, tokens)
    number = officers.file(ROAD)["number"]
    sign_in(page, server.url, "verifikator")
    open_task_of(page, number)
    second = page.context.new_page()
    second.goto(page.url)
    page.check("input[name=decision][value=route]")
    second.check("input[name=decision][value=reject]")
    second.locator("textarea[name=reason]").fill("Bukan laporan yang jelas sama sekali")
    page.get_by_role("button", name="Kirim keputusan").click()
    expect(page.get_by_role("status").filter(has_text=number)).to_be_visible()
    second.get_by_role("button", name="Kirim keputusan").click()
    expect(second.get_by_role("alert")).to_contain_text("sudah diubah orang lain")
    expect(second.get_by_role("alert")).to_contain_text("sudah diselesaikan oleh verifikator")
    screenshot(second, "officer-conflict")


def test_an_expired_session_signs_in_again_and_returns_to_the_task(
    browser: Browser, server: Server, tokens: dict[str, str]
) -> None:
    server.app.config["PERMANENT_SESSION_LIFETIME"] = 2  # seconds
    officers = Officers(browser.new_context().request, server.url, tokens)
    number = officers.file(ROAD)["number"]
    page = browser.new_context(viewport=DESKTOP).new_page()
    sign_in(page, server.url, "verifikator")
    open_task_of(page, number)
    task_url = page.url
    time.sleep(3)
    page.reload()
    path = task_url.removeprefix(server.url)
    expect(page).to_have_url(f"{server.url}/masuk?next={path}")
    page.get_by_label("Nama pengguna").fill("verifikator")
    page.get_by_label("Kata sandi").fill("password-verifikator")
    page.get_by_role("button", name="Masuk").click()
    expect(page).to_have_url(task_url)


@pytest.mark.parametrize("lang", ["id", "en"])
def test_every_officer_page_passes_axe(
    browser: Browser, server: Server, tokens: dict[str, str], lang: str
) -> None:
    officers = Officers(browser.new_context().request, server.url, tokens)
    number = officers.file(ROAD)["number"]
    officers.complete("verifikator", number, {"decision": "route"})
    page = browser.new_context(viewport=DESKTOP).new_page()
    page.goto(f"{server.url}/bahasa/{lang}?next=/masuk")
    problems: dict[str, Any] = {}

    def check(name: str) -> None:
        screenshot(page, name)
        found = axe_violations(page)
        if found:
            problems[name] = found

    check("officer-01-sign-in")
    page.locator("#username").fill("kepala_dpupr")
    page.locator("#password").fill("wrong password")
    page.locator("form button[type=submit]").click()
    check("officer-02-sign-in-error")
    page.locator("#password").fill("password-kepala_dpupr")
    page.locator("form button[type=submit]").click()
    check("officer-03-inbox")
    page.locator("a.task-link").first.click()
    check("officer-04-task")
    page.locator("form.task-form button[type=submit]").click()
    check("officer-05-task-errors")
    page.goto(server.url + "/petugas/pengawasan")
    check("officer-06-oversight")
    page.goto(f"{server.url}/petugas/laporan/{number}")
    check("officer-07-ticket")
    page.goto(server.url + "/akun/sandi")
    check("officer-08-password")
    assert problems == {}


def test_the_inbox_and_the_task_page_work_with_the_keyboard_alone(
    page: Page, server: Server, tokens: dict[str, str]
) -> None:
    officers = Officers(page.context.request, server.url, tokens)
    number = officers.file(ROAD)["number"]
    page.goto(server.url + "/masuk")
    page.locator("#username").focus()
    page.keyboard.type("verifikator")
    page.keyboard.press("Tab")
    page.keyboard.type("password-verifikator")
    page.keyboard.press("Enter")
    link = page.locator(".task-row").filter(has_text=number).locator("a.task-link")
    link.focus()
    page.keyboard.press("Enter")
    expect(page.locator("form.task-form")).to_be_visible()
    page.locator("input[name=decision]").first.focus()
    page.keyboard.press("Space")  # the first choice: route
    expect(page.locator("input[name=decision][value=route]")).to_be_checked()
    page.locator("form.task-form button[type=submit]").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("status").filter(has_text=number)).to_be_visible()
