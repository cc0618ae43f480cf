"""The modeler page: for designers and admins only; it points its script at the designer
endpoints, carries the CSRF token for them and the words its script shows, in the page's
language; the script and styles it loads are built (make assets)."""

from __future__ import annotations

import json
import re

from flask import Flask
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from engine.identity import create_user
from engine.settings import REPO_ROOT
from tests.conftest import NOW
from tests.web.officer_helpers import signed_in_client


def add_user(factory: sessionmaker[Session], username: str, role: str) -> None:
    with factory.begin() as session:
        create_user(
            session,
            username=username,
            password="password-" + username,
            role=role,
            groups=[],
            now=NOW,
        )


def words_of(html: str) -> dict[str, object]:
    found = re.search(
        r'<script type="application/json" id="modeler-words">(.*?)</script>', html, re.S
    )
    assert found
    return json.loads(found.group(1))  # type: ignore[no-any-return]


def test_a_designer_gets_the_modeler_wired_to_the_designer_endpoints(
    app: Flask, session_factory: sessionmaker[Session]
) -> None:
    add_user(session_factory, "perancang", "designer")
    response = signed_in_client(app, "perancang").get("/desain/modeler")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    for attribute, url in (
        ("data-bundle-url", "/desain/api/bundle/latest"),
        ("data-check-url", "/desain/api/check"),
        ("data-deploy-url", "/desain/api/deploy"),
        ("data-preview-url", "/desain/api/preview-form"),
    ):
        assert f'{attribute}="{url}"' in html
    assert re.search(r'<meta name="csrf-token" content="[^"]+">', html)
    words = words_of(html)
    assert words["laksa"]["timer.expression"] == "Ekspresi timer"  # type: ignore[index]
    assert words["panel"]["General"] == "Umum"  # type: ignore[index]
    for asset in (
        "designer/modeler.js",
        "designer/modeler-style.css",
        "vendor/dmn-js/dmn-modeler.js",
    ):
        assert f"/static/{asset}" in html
        assert (REPO_ROOT / "web" / "static" / asset).is_file(), f"{asset}: run make assets"


def test_the_modeler_speaks_english_on_the_switch(
    app: Flask, session_factory: sessionmaker[Session]
) -> None:
    add_user(session_factory, "perancang", "designer")
    client = signed_in_client(app, "perancang")
    client.get("/bahasa/en?next=/desain/modeler")
    html = client.get("/desain/modeler").get_data(as_text=True)
    assert "Process modeler" in html
    words = words_of(html)
    assert words["laksa"]["timer.expression"] == "Timer expression"  # type: ignore[index]
    assert words["check_problems"] == "The check found {count} problems."


def test_an_admin_may_open_the_modeler(app: Flask, session_factory: sessionmaker[Session]) -> None:
    add_user(session_factory, "admin_kota", "admin")
    assert signed_in_client(app, "admin_kota").get("/desain/modeler").status_code == 200


def test_an_officer_is_refused_and_a_visitor_is_sent_to_sign_in(app: Flask) -> None:
    assert signed_in_client(app, "petugas_dpupr").get("/desain/modeler").status_code == 403
    response = app.test_client().get("/desain/modeler")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/masuk?next=/desain/modeler")


def test_the_bundle_carries_bpmnlint_recommended_rules_and_the_laksa_moddle() -> None:
    bundle = (REPO_ROOT / "web" / "static" / "designer" / "modeler.js").read_text()
    for rule in (
        "bpmnlint/no-implicit-split",
        "bpmnlint/superfluous-gateway",
        "bpmnlint/no-disconnected",
    ):
        assert rule in bundle
    assert "http://spiffworkflow.org/bpmn/schema/1.0/core" in bundle
