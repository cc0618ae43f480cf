"""The modeler in a real browser: a designer shortens verification from 3 to 2 working days in
the properties panel, sees the change marked on the diagram, deploys it with a note, and only
tickets filed afterwards get the shorter deadline; a diagram whose gateway breaks the BPMN
specification is refused, with the element marked on the canvas and the problem listed; a task's
form is edited beside the diagram with a live preview; keyboard, English, phone width, axe."""

from __future__ import annotations

import re
from datetime import UTC
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser
from playwright.sync_api import Page
from playwright.sync_api import expect
from sqlalchemy import select

from engine.calendar import load_calendar
from engine.identity import create_user
from engine.models import Definition
from engine.models import HumanTask
from engine.models import ProcessInstance
from engine.models import Ticket
from tests.browser.conftest import PHONE
from tests.browser.conftest import Server
from tests.browser.conftest import axe_violations
from tests.browser.conftest import screenshot
from tests.browser.journey import Officers
from tests.conftest import NOW
from tests.conftest import WORKFLOWS

DESKTOP = {"width": 1440, "height": 1000}
ROAD: dict[str, Any] = {
    "category": "jalan_rusak",
    "title": "Jalan berlubang di Jl. Merdeka",
    "description": "Lubang besar dekat sekolah",
    "location": {"address": "Jl. Merdeka 10", "kecamatan": "Cipondoh"},
    "reporter": {"name": "Budi", "contact": "budi@example.org"},
}


def add_designer(server: Server) -> None:
    with server.factory.begin() as session:
        create_user(
            session,
            username="perancang",
            password="password-perancang",
            role="designer",
            groups=[],
            now=NOW,
        )


def sign_in(page: Page, base: str, then: str = "/desain/modeler") -> list[str]:
    """Signs the designer in on the modeler; returns the page's script errors as they come."""
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(base + then)
    expect(page).to_have_url(f"{base}/masuk?next={then}")
    page.get_by_label("Nama pengguna").fill("perancang")
    page.get_by_label("Kata sandi").fill("password-perancang")
    page.get_by_role("button", name="Masuk").click()
    # The bundle is a dozen files and the server shares its cores with the test.
    expect(page.locator("#modeler-status")).to_contain_text("berkas dimuat", timeout=30_000)
    return errors


def select_on_canvas(page: Page, element_id: str) -> None:
    """Click a shape of the diagram (off its centre, where a flow may start)."""
    box = page.locator(f'.djs-element[data-element-id="{element_id}"]').first.bounding_box()
    assert box, element_id
    page.mouse.click(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.3)


def verify_task(server: Server, number: str) -> tuple[HumanTask, int]:
    """The ticket's verification task and the version of the process it runs on."""
    with server.factory() as session:
        ticket = session.scalars(select(Ticket).where(Ticket.number == number)).one()
        task = session.scalars(
            select(HumanTask).where(
                HumanTask.ticket_id == ticket.id, HumanTask.element_id == "verify"
            )
        ).one()
        version = session.scalars(
            select(Definition.version)
            .join(ProcessInstance, ProcessInstance.definition_id == Definition.id)
            .where(ProcessInstance.id == task.instance_id)
        ).one()
        session.expunge(task)
        return task, version


def working_deadline(server: Server, start: datetime, days: int) -> datetime:
    with server.factory() as session:
        calendar = load_calendar(session)
    return calendar.add_working_days(aware(start), days)


def aware(moment: datetime | None) -> datetime:
    assert moment is not None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def test_designer_shortens_verification_and_only_new_tickets_get_the_new_deadline(
    browser: Browser, server: Server, tokens: dict[str, str]
) -> None:
    add_designer(server)
    officers = Officers(browser.new_context().request, server.url, tokens)
    before = officers.file(ROAD)["number"]

    page = browser.new_context(viewport=DESKTOP).new_page()
    errors = sign_in(page, server.url)
    expect(page.get_by_role("tab", name=re.compile("complaint.bpmn"))).to_have_attribute(
        "aria-selected", "true"
    )

    select_on_canvas(page, "verification_overdue")
    expression = page.get_by_label("Ekspresi timer")
    expect(expression).to_have_value("working_days(3)")
    expression.fill("working_days(2)")
    page.get_by_label("Nama", exact=True).fill("2 working days to verify")
    page.keyboard.press("Tab")  # the panel applies a field's value as it is left

    page.get_by_role("button", name="Periksa").click()
    expect(page.locator("#modeler-status")).to_contain_text("Pemeriksaan lolos")
    shape = page.locator('.djs-element[data-element-id="verification_overdue"]').first
    expect(shape).to_have_class(re.compile(r"\blaksa-changed\b"))
    changed = page.locator('#diff-changed li[data-element="verification_overdue"]')
    expect(changed).to_contain_text("2 working days to verify")
    # The round trip through bpmn-js changes nothing else: no other element is reported.
    expect(page.locator("#diff-changed li")).to_have_count(1)
    expect(page.locator("#diff-added li")).to_have_count(0)
    expect(page.locator("#diff-removed li")).to_have_count(0)
    expect(page.locator("#diff-moved li")).to_have_count(0)
    screenshot(page, "designer-modeler-diff")
    # The whole page, bpmn-js's canvas included (bpmnlint's button restyled in modeler.css).
    assert axe_violations(page) == []

    # The deploy needs a note; without one nothing is sent.
    page.get_by_role("button", name="Terapkan").click()
    expect(page.locator("#deploy-note-error")).to_contain_text("catatan")
    page.get_by_label("Catatan perubahan (wajib)").fill(
        "Verifikasi dipercepat menjadi 2 hari kerja"
    )
    page.get_by_role("button", name="Terapkan").click()
    expect(page.locator("#deploy-result")).to_contain_text("Versi baru dipasang")
    screenshot(page, "designer-modeler-deployed")

    after = officers.file(ROAD)["number"]
    old_task, old_version = verify_task(server, before)
    new_task, new_version = verify_task(server, after)
    assert (old_version, new_version) == (1, 2)
    assert aware(old_task.due_at) == working_deadline(server, old_task.created_at, 3)
    assert aware(new_task.due_at) == working_deadline(server, new_task.created_at, 2)

    # On a phone the diagram is not offered, but checking and deploying still are.
    page.set_viewport_size(PHONE)
    expect(page.locator(".modeler-narrow-note")).to_be_visible()
    expect(page.locator("#bpmn-canvas")).to_be_hidden()
    page.get_by_role("button", name="Periksa").click()
    expect(page.locator("#modeler-status")).to_contain_text("Pemeriksaan lolos")
    screenshot(page, "designer-modeler-phone")
    assert axe_violations(page) == []
    assert errors == []


def broken_gateway_model(folder: Path) -> Path:
    """complaint.bpmn whose gateway `verification_outcome` has a default flow that is not one
    of its outgoing flows (BPMN 2.0 §10.6.2: the default is one of the gateway's outgoing
    sequence flows)."""
    text = (WORKFLOWS / "complaint.bpmn").read_text()
    gateway = re.search(r'<bpmn:exclusiveGateway id="verification_outcome"[^>]*>', text)
    assert gateway
    opening = re.sub(r'\sdefault="[^"]*"', "", gateway.group(0))
    opening = opening.replace(">", ' default="flow_to_escalate">', 1)
    broken = folder / "complaint.bpmn"
    broken.write_text(text.replace(gateway.group(0), opening))
    return broken


def test_a_gateway_breaking_the_specification_is_refused_and_marked_on_the_diagram(
    browser: Browser, server: Server, tmp_path: Path
) -> None:
    # The specification's own checks (engine/bpmn_rules.py) name the gateway; without them
    # only SpiffWorkflow's parser speaks, and it names a flow instead.
    pytest.importorskip("engine.bpmn_rules", reason="the BPMN specification checks")
    add_designer(server)
    page = browser.new_context(viewport=DESKTOP).new_page()
    errors = sign_in(page, server.url)
    page.locator("#file-upload").set_input_files(broken_gateway_model(tmp_path))
    expect(page.locator("#modeler-status")).to_contain_text("complaint.bpmn dimuat")

    page.get_by_role("button", name="Periksa").click()
    expect(page.locator("#modeler-status")).to_contain_text("masalah")
    problem = page.locator('#problem-list li[data-element="verification_outcome"]')
    expect(problem).to_contain_text("complaint.bpmn")
    expect(problem).to_contain_text(re.compile(r"baris \d+"))
    shape = page.locator('.djs-element[data-element-id="verification_outcome"]').first
    expect(shape).to_have_class(re.compile(r"\blaksa-problem\b"))
    problem.get_by_role("button").click()
    expect(shape).to_have_class(re.compile(r"\bselected\b"))
    screenshot(page, "designer-modeler-refused")

    page.get_by_label("Catatan perubahan (wajib)").fill("Gerbang yang salah")
    page.get_by_role("button", name="Terapkan").click()
    expect(page.locator("#deploy-result")).to_contain_text("Tidak dipasang")
    expect(problem).to_be_visible()
    expect(shape).to_have_class(re.compile(r"\blaksa-problem\b"))
    with server.factory() as session:
        assert session.scalars(
            select(Definition.version).where(Definition.key == "complaint")
        ).all() == [1]
    assert errors == []


def test_a_task_form_is_edited_beside_the_diagram_with_a_live_preview(
    browser: Browser, server: Server
) -> None:
    add_designer(server)
    page = browser.new_context(viewport=DESKTOP).new_page()
    errors = sign_in(page, server.url)

    # The selected user task's form is one click away.
    select_on_canvas(page, "verify")
    expect(page.locator("#task-form-name")).to_have_text("verify.schema.json")
    page.get_by_role("button", name="Sunting formulir").click()
    expect(page.get_by_role("tab", name=re.compile("verify.schema.json"))).to_have_attribute(
        "aria-selected", "true"
    )
    preview = page.locator("#form-preview")
    expect(preview).to_contain_text("Verifikasi laporan")  # rendered by the officers' form code

    editor = page.get_by_label(re.compile("Isi verify.schema.json"))
    schema = editor.input_value().replace(
        '"id": "Verifikasi laporan"', '"id": "Periksa laporan warga"'
    )
    editor.fill(schema)
    expect(preview).to_contain_text("Periksa laporan warga")
    expect(preview.locator("input, select, textarea").first).to_be_disabled()

    editor.fill(schema[:-5])  # cut off: not JSON any more
    expect(editor).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#json-error")).to_contain_text("JSON tidak sah")
    expect(preview).to_contain_text("Periksa laporan warga")  # the last good preview stays
    editor.fill(schema)
    expect(page.locator("#json-error")).to_have_text("")

    # The file list is one tab stop; arrow keys move through it and open each file.
    page.get_by_role("tab", name=re.compile("verify.schema.json")).focus()
    page.keyboard.press("ArrowDown")
    statuses = page.get_by_role("tab", name=re.compile("statuses.json"))
    expect(statuses).to_be_focused()
    expect(statuses).to_have_attribute("aria-selected", "true")
    expect(page.locator("#form-preview-section")).to_be_hidden()
    statuses_editor = page.get_by_label(re.compile("Isi statuses.json"))
    expect(statuses_editor).to_have_value(re.compile('"received"'))
    page.keyboard.press("Home")
    expect(page.get_by_role("tab", name=re.compile("complaint.bpmn"))).to_be_focused()

    # The edited form goes into the check: its change is in the diff.
    page.get_by_role("button", name="Periksa").click()
    expect(page.locator("#modeler-status")).to_contain_text("Pemeriksaan lolos")
    expect(page.locator("#diff-changed")).to_contain_text("verify.schema.json")
    # The diagram was only opened, not edited: it is sent as it was and shows no change.
    expect(page.locator("#diff-moved li")).to_have_count(0)
    expect(page.locator("#diff li", has_text="complaint.bpmn")).to_have_count(0)
    page.get_by_role("tab", name=re.compile("verify.schema.json")).click()
    screenshot(page, "designer-modeler-form")
    assert axe_violations(page) == []

    # The toolbar is one tab stop too, arrow keys between its tools.
    check = page.get_by_role("button", name="Periksa")
    check.focus()
    page.keyboard.press("ArrowRight")
    expect(page.get_by_role("button", name="Paskan diagram")).to_be_focused()
    expect(check).to_have_attribute("tabindex", "-1")

    # In English.
    page.goto(server.url + "/bahasa/en?next=/desain/modeler")
    expect(page.locator("#modeler-status")).to_contain_text("files loaded", timeout=30_000)
    expect(page.get_by_role("button", name="Check")).to_be_visible()
    diagram_tab = page.get_by_role("tab", name=re.compile("complaint.bpmn"))
    expect(diagram_tab).to_contain_text("Process diagram")
    select_on_canvas(page, "verification_overdue")
    expect(page.get_by_label("Timer expression")).to_have_value("working_days(3)")
    screenshot(page, "designer-modeler")
    assert axe_violations(page) == []
    assert errors == []
