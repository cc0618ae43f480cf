"""A designer in a real browser, without the modeler: the definitions and their versions,
uploading a changed timer, the diff, deploying with a note; a refused upload names its
problem. Phone and desktop, axe on every designer page."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser
from playwright.sync_api import Page
from playwright.sync_api import expect

from engine import definitions
from engine.identity import create_user
from engine.models import DefinitionBundle
from tests.browser.conftest import PHONE
from tests.browser.conftest import Server
from tests.browser.conftest import axe_violations
from tests.browser.conftest import screenshot
from tests.conftest import NOW
from tests.conftest import WORKFLOWS
from tests.factories import submit

DESKTOP = {"width": 1280, "height": 900}
BPMN = definitions.read_files(WORKFLOWS)["complaint.bpmn"]
TIMER_3 = "<bpmn:timeDuration>working_days(3)</bpmn:timeDuration>"


def sign_in_designer(page: Page, base: str) -> None:
    page.goto(base + "/desain")
    page.get_by_label("Nama pengguna").fill("desainer")
    page.get_by_label("Kata sandi").fill("password-desainer")
    page.get_by_role("button", name="Masuk").click()
    expect(page.get_by_role("heading", name="Definisi proses")).to_be_visible()


@pytest.fixture
def designer_user(server: Server) -> None:
    with server.factory.begin() as session:
        create_user(
            session,
            username="desainer",
            password="password-desainer",
            role="designer",
            groups=[],
            now=NOW,
        )
    submit(server.factory)  # a ticket running on version 1


@pytest.mark.parametrize(("size", "suffix"), [(PHONE, "phone"), (DESKTOP, "desktop")])
def test_a_designer_uploads_a_changed_timer_sees_the_diff_and_deploys(
    browser: Browser, server: Server, designer_user: None, tmp_path: Path, size, suffix
) -> None:
    page = browser.new_context(viewport=size, locale="id-ID").new_page()
    sign_in_designer(page, server.url)
    expect(page.locator("table.versions tbody tr")).to_have_count(1)
    assert axe_violations(page) == []
    screenshot(page, f"designer-index-{suffix}")

    changed = tmp_path / "complaint.bpmn"
    changed.write_text(BPMN.replace(TIMER_3, TIMER_3.replace("(3)", "(2)"), 1), encoding="utf-8")
    page.get_by_role("link", name="Unggah dan pasang").click()
    assert axe_violations(page) == []
    screenshot(page, f"designer-upload-{suffix}")
    page.get_by_label("Berkas definisi").set_input_files(str(changed))
    page.get_by_role("button", name="Periksa").click()
    expect(page.locator("ul.diff-changed")).to_contain_text(
        "3 working days to verify (verification_overdue)"
    )
    assert axe_violations(page) == []
    screenshot(page, f"designer-upload-diff-{suffix}")

    page.get_by_role("button", name="Pasang").click()  # without a note
    expect(page.locator("#catatan-error")).to_be_visible()
    page.get_by_label("Catatan pemasangan").fill("Verifikasi menjadi 2 hari kerja")
    page.get_by_role("button", name="Pasang").click()
    expect(page.get_by_role("status")).to_contain_text("Definisi dipasang: complaint v2.")
    with server.factory() as session:  # byte for byte what was uploaded, through the form
        deployed = session.get(DefinitionBundle, 2)
        assert deployed is not None
        assert deployed.files["complaint.bpmn"] == changed.read_text(encoding="utf-8")
    assert axe_violations(page) == []
    screenshot(page, f"designer-bundle-{suffix}")

    page.get_by_role("link", name="Definisi dan versi").click()
    rows = page.locator("table.versions tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("Verifikasi menjadi 2 hari kerja")
    expect(rows.nth(1)).to_contain_text("test")
    screenshot(page, f"designer-index-after-{suffix}")

    page.get_by_role("link", name="v2").click()
    page.get_by_role("link", name="complaint.bpmn", exact=True).click()
    expect(page.locator("pre.source")).to_contain_text("working_days(2)")
    assert axe_violations(page) == []
    screenshot(page, f"designer-file-{suffix}")


def test_a_refused_upload_names_file_line_and_element(
    browser: Browser, server: Server, designer_user: None, tmp_path: Path
) -> None:
    page = browser.new_context(viewport=PHONE, locale="id-ID").new_page()
    sign_in_designer(page, server.url)
    broken = tmp_path / "complaint.bpmn"
    broken.write_text(
        BPMN.replace('value="verify.schema.json"', 'value="missing.schema.json"', 1),
        encoding="utf-8",
    )
    page.goto(server.url + "/desain/unggah")
    page.get_by_label("Berkas definisi").set_input_files(str(broken))
    page.get_by_role("button", name="Periksa").click()
    problems = page.locator("ul.problems li")
    expect(problems).to_have_count(1)
    expect(problems).to_contain_text("complaint.bpmn, baris")
    expect(problems).to_contain_text("verify")
    expect(page.get_by_label("Catatan pemasangan")).to_have_count(0)
    assert axe_violations(page) == []
    screenshot(page, "designer-upload-problems-phone")
