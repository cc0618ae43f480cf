"""A resident's whole journey in a real browser at phone size: report a pothole with two
photos, follow it by the private link, answer the officer's question, see the after-photo and
confirm; the gallery shows the pair, the statistics count it as fixed, and the photos served
carry no EXIF."""

from __future__ import annotations

import io
import re

from PIL import Image
from playwright.sync_api import Page
from playwright.sync_api import expect

from tests.browser.conftest import Server
from tests.browser.conftest import screenshot
from tests.browser.journey import GPS_IFD
from tests.browser.journey import Officers
from tests.browser.journey import pothole_photos


def test_a_resident_reports_a_pothole_answers_the_officer_and_confirms_the_fix(
    page: Page, server: Server, tokens: dict[str, str], tmp_path
) -> None:
    officers = Officers(page.context.request, server.url, tokens)

    # Report with two photos, one carrying GPS EXIF.
    page.goto(server.url + "/")
    page.get_by_role("link", name="Laporkan sekarang").click()
    page.get_by_role("group", name="Jenis laporan").get_by_label("Pengaduan").check()
    page.get_by_label("Kategori (wajib)").select_option("jalan_rusak")
    page.get_by_label("Judul laporan (wajib)").fill("Jalan berlubang di depan SDN 3")
    page.get_by_label("Uraian (wajib)").fill("Lubang selebar 1 meter, sudah dua minggu.")
    page.get_by_label("Alamat atau patokan").fill("Jl. Merdeka 10")
    page.get_by_label("Kecamatan").select_option("Cipondoh")
    page.get_by_label("Lampirkan foto").set_input_files(pothole_photos(tmp_path))
    page.get_by_label("Nama", exact=True).fill("Budi")
    page.get_by_label("E-mail atau nomor HP").fill("budi@example.org")
    page.get_by_role("button", name="Kirim laporan").click()

    expect(page.get_by_role("heading", name="Laporan Anda terkirim")).to_be_visible()
    number = page.locator(".ticket-number").inner_text().strip()
    assert re.fullmatch(r"LK-[0-9A-HJKMNP-TV-Z]{8}", number)
    link = page.locator(".private-link a").get_attribute("href")
    assert link is not None
    assert link.startswith(f"{server.url}/laporan/{number}/k/")

    # The public page: status, two photos, no name, no contact.
    page.goto(f"{server.url}/laporan/{number}")
    expect(page.locator(".ticket-head .status")).to_have_text("Verifikasi")
    expect(page.locator(".photos img")).to_have_count(2)
    assert "Budi" not in page.content()
    assert "budi@example.org" not in page.content()

    # The desk routes it, dpupr accepts it and asks a question.
    officers.to_question(number, "Di depan nomor berapa tepatnya?")

    # The resident reads the question through the link and answers it.
    page.goto(link)
    expect(page.locator(".question")).to_have_text("Di depan nomor berapa tepatnya?")
    page.get_by_label("Jawaban Anda").fill("Tepat di depan nomor 10, dekat tiang listrik.")
    page.get_by_role("button", name="Kirim jawaban").click()
    expect(page.get_by_role("status").filter(has_text="Jawaban Anda terkirim")).to_be_visible()
    expect(page.locator(".timeline")).to_contain_text("Tepat di depan nomor 10")
    expect(page.locator(".ticket-head .status")).to_have_text("Diproses")

    # dpupr resolves with an uploaded after-photo; the resident sees it and confirms.
    officers.resolve(number, "Lubang ditambal dengan aspal panas.")
    page.goto(link)
    expect(
        page.get_by_role("heading", name="Petugas menyatakan laporan Anda selesai")
    ).to_be_visible()
    expect(page.locator("img.after-photo")).to_be_visible()
    expect(page.locator(".action blockquote")).to_have_text("Lubang ditambal dengan aspal panas.")
    screenshot(page, "journey-confirm")
    page.get_by_role("button", name="Ya, sudah selesai").click()
    expect(page.locator(".ticket-head .status")).to_have_text("Selesai (dikonfirmasi pelapor)")

    # The gallery shows the pair; the statistics count it as fixed.
    page.goto(server.url + "/galeri")
    pair = page.locator(".pair").filter(has_text="Jalan berlubang di depan SDN 3")
    expect(pair.locator("img")).to_have_count(2)
    stats = page.context.request.get(server.url + "/statistik.json").json()
    assert stats["totals"]["fixed"] == 1
    assert stats["totals"]["received"] == 1
    assert stats["totals"]["on_time_share"] == 1.0  # closed, and no deadline was missed
    page.goto(server.url + "/statistik")
    expect(page.locator(".figure-green .figure-value")).to_have_text("1")

    # Every photo served, before and after, carries no EXIF (and so no GPS).
    ticket = page.context.request.get(f"{server.url}/api/v1/tickets/{number}").json()
    assert [p["purpose"] for p in ticket["photos"]] == ["report", "report", "after"]
    for photo in ticket["photos"]:
        for url in (photo["url"], photo["thumbnail_url"]):
            body = page.context.request.get(url).body()
            image = Image.open(io.BytesIO(body))
            assert not image.getexif(), url
            assert b"Exif" not in body
            assert GPS_IFD not in image.getexif()
