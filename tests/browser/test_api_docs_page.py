"""The API's documentation page (/api/v1/docs, Swagger UI from the npm package) in a real
browser: it renders every operation of the document under the page's CSP, with no console
error, and axe-core finds no serious or critical violation; a screenshot under shots/en/."""

from __future__ import annotations

from playwright.sync_api import Page
from playwright.sync_api import expect

from tests.browser.conftest import Server
from tests.browser.conftest import axe_violations
from tests.browser.conftest import screenshot


def test_the_api_docs_page_renders_the_document_and_passes_axe(page: Page, server: Server):
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(server.url + "/api/v1/docs")
    expect(page.locator("#operations-tickets-createTicket")).to_be_visible()
    operations = server.app.test_client().get("/api/v1/openapi.json").get_json()["paths"]
    count = sum(len([m for m in item if m in ("get", "post")]) for item in operations.values())
    expect(page.locator(".opblock")).to_have_count(count)
    assert axe_violations(page) == []
    screenshot(page, "api-docs")
    assert errors == []
