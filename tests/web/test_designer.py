"""The designer's pages (/desain), the modeler's JSON endpoints (/desain/api/...) and the
definitions API (/api/v1/definitions): who may use them, checking with problems and a diff,
deploying with a note, the form preview, and bad input answered with a clear 4xx."""

from __future__ import annotations

import html
import io
import json
import re
import shutil
import zipfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import update

from engine import definitions
from engine.identity import create_token
from engine.identity import create_user
from engine.models import DefinitionBundle
from engine.models import HumanTask
from engine.models import ProcessInstance
from engine.models import Ticket
from tests.conftest import NOW
from tests.conftest import WORKFLOWS
from tests.factories import submit
from tests.web.officer_helpers import is_sign_in_redirect
from tests.web.officer_helpers import make_admin
from tests.web.officer_helpers import page
from tests.web.officer_helpers import signed_in_client
from tests.web.pages import multipart
from tests.web.test_api import bearer

FILES = definitions.read_files(WORKFLOWS)
BPMN = FILES["complaint.bpmn"]
TIMER_3 = "<bpmn:timeDuration>working_days(3)</bpmn:timeDuration>"
TWO_DAYS = BPMN.replace(TIMER_3, TIMER_3.replace("(3)", "(2)"), 1)
# A user task naming a form that is not deployed: deploy refuses it, naming file and element.
NO_FORM = BPMN.replace('value="verify.schema.json"', 'value="missing.schema.json"', 1)
PAGES = ["/desain", "/desain/unggah", "/desain/versi/1", "/desain/versi/1.zip"]
_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


@pytest.fixture
def designer(app, session_factory):
    """A signed-in designer's client, with the page's CSRF token for the JSON endpoints."""
    with session_factory.begin() as session:
        create_user(
            session,
            username="desainer",
            password="password-desainer",
            role="designer",
            groups=[],
            now=NOW,
        )
    client = signed_in_client(app, "desainer")
    client.csrf = csrf_meta(client)  # type: ignore[attr-defined]
    return client


@pytest.fixture
def designer_token(designer, session_factory) -> str:
    with session_factory.begin() as session:
        return create_token(session, username="desainer", name="test", now=NOW)


def csrf_meta(client) -> str:
    response = client.get("/desain")
    assert response.status_code == 200
    match = _META.search(page(response))
    assert match, "no csrf-token meta on /desain"
    return html.unescape(match.group(1))


def post_json(client, path: str, body: Any, **kwargs: Any):
    headers = {"X-CSRFToken": client.csrf, **kwargs.pop("headers", {})}
    return client.post(path, json=body, headers=headers, **kwargs)


def bundles(session_factory) -> int:
    with session_factory() as session:
        return session.scalar(select(func.count()).select_from(DefinitionBundle)) or 0


def assert_refused(response, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"error", "problems"}, body
    assert body["error"]["message"]
    assert "Traceback" not in response.get_data(as_text=True)
    if code:
        assert body["error"]["code"] == code
    return body


def verify_due(session_factory, number: str):
    with session_factory() as session:
        return session.scalars(
            select(HumanTask.due_at)
            .join(Ticket, Ticket.id == HumanTask.ticket_id)
            .where(Ticket.number == number, HumanTask.element_id == "verify")
        ).one()


# -- who may use them ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", PAGES)
def test_designer_pages_send_a_visitor_to_sign_in(client, path):
    assert is_sign_in_redirect(client.get(path))


def test_json_endpoints_answer_a_visitor_401_not_a_redirect(client):
    response = client.get("/desain/api/bundle/latest")
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthorized"


@pytest.mark.parametrize("name", ["verifikator", "petugas_dpupr", "kepala_dpupr", "pengawas"])
def test_other_roles_get_403(app, name):
    client = signed_in_client(app, name)
    for path in PAGES:
        response = client.get(path)
        assert response.status_code == 403, path
        assert "Anda tidak berhak membuka halaman ini" in page(response)
    response = client.get("/desain/api/bundle/latest")
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "forbidden"
    assert "/desain" not in page(client.get("/petugas"))  # no link in the navigation


def test_admins_and_designers_see_the_pages_and_the_navigation_link(app, session_factory, designer):
    make_admin(session_factory)
    admin = signed_in_client(app, "admin", "password-admin")
    for client in (designer, admin):
        for path in PAGES:
            assert client.get(path).status_code == 200, path
        assert 'href="/desain"' in page(client.get("/desain/unggah"))


# -- the list of versions ------------------------------------------------------------------------


def test_a_deploy_with_a_note_is_listed_with_its_note_and_ticket_counts(designer, session_factory):
    first = submit(session_factory)
    submit(session_factory)
    with session_factory.begin() as session:  # one ticket of version 1 has ended
        ticket_id = session.scalars(select(Ticket.id).where(Ticket.number == first)).one()
        session.execute(
            update(ProcessInstance)
            .where(ProcessInstance.ticket_id == ticket_id)
            .values(completed=True)
        )
    response = post_json(
        designer,
        "/desain/api/deploy",
        {"files": {"complaint.bpmn": TWO_DAYS}, "note": "Verifikasi 2 hari kerja (Perwal 12/2026)"},
    )
    assert response.status_code == 201, response.get_json()
    submit(session_factory)

    listed = page(designer.get("/desain"))

    rows = re.findall(r"<tr>\s*<th scope=\"row\">(.*?)</tr>", listed, re.DOTALL)

    def cell(row: str, name: str) -> str:
        match = re.search(rf'class="{name}">(.*?)<', row)
        assert match, name
        return match.group(1)

    assert "v2" in rows[0]
    assert "terbaru" in rows[0]
    assert cell(rows[0], "deployer") == "user:desainer"
    assert cell(rows[0], "note") == "Verifikasi 2 hari kerja (Perwal 12/2026)"
    assert (cell(rows[0], "number open-tickets"), cell(rows[0], "number all-tickets")) == ("1", "1")
    assert "v1" in rows[1]
    assert cell(rows[1], "note") == "\u2013"  # an en dash: no note
    assert (cell(rows[1], "number open-tickets"), cell(rows[1], "number all-tickets")) == ("1", "2")


# -- the JSON endpoints of the modeler -----------------------------------------------------------


def test_latest_bundle_gives_every_file_of_the_running_version(designer):
    body = designer.get("/desain/api/bundle/latest").get_json()
    assert body["bundle_id"] == 1
    assert body["files"] == FILES


def test_check_shows_the_changed_timer_in_the_diff_and_deploys_nothing(designer, session_factory):
    response = post_json(designer, "/desain/api/check", {"files": {"complaint.bpmn": TWO_DAYS}})

    assert response.status_code == 200
    body = response.get_json()
    assert body["ok"] is True
    assert body["problems"] == []
    assert body["diff"] == {
        "complaint.bpmn": {
            "added": [],
            "removed": [],
            "changed": ["verification_overdue"],
            "moved": [],
        }
    }
    assert body["base_bundle_id"] == 1
    assert bundles(session_factory) == 1


def test_check_names_the_problem_file_line_and_element(designer):
    response = post_json(designer, "/desain/api/check", {"files": {"complaint.bpmn": NO_FORM}})

    assert response.status_code == 200
    body = response.get_json()
    assert body["ok"] is False
    (problem,) = body["problems"]
    assert problem["file"] == "complaint.bpmn"
    assert problem["element_id"] == "verify"
    assert (
        NO_FORM.splitlines()[problem["line"] - 1].strip().startswith('<bpmn:userTask id="verify"')
    )
    assert "missing.schema.json" in problem["message"]
    assert body["diff"]["complaint.bpmn"]["changed"] == ["verify"]


def test_deploy_gives_new_tickets_the_new_deadline_and_older_ones_keep_theirs(
    designer, session_factory
):
    older = submit(session_factory)

    response = post_json(
        designer,
        "/desain/api/deploy",
        {
            "files": {"complaint.bpmn": TWO_DAYS},
            "note": "Verifikasi 2 hari kerja",
            "base_bundle_id": 1,
        },
    )

    assert response.status_code == 201
    assert response.get_json() == {"bundle_id": 2, "versions": {"complaint": 2}, "created": True}
    newer = submit(session_factory)
    assert verify_due(session_factory, newer) < verify_due(session_factory, older)
    with session_factory() as session:
        row = session.get(DefinitionBundle, 2)
        assert row is not None
        assert (row.deployed_by, row.note) == ("user:desainer", "Verifikasi 2 hari kerja")
        assert row.files == {**FILES, "complaint.bpmn": TWO_DAYS}  # the rest from version 1
    again = post_json(
        designer, "/desain/api/deploy", {"files": {"complaint.bpmn": TWO_DAYS}, "note": "lagi"}
    )
    assert again.status_code == 201
    assert again.get_json()["created"] is False


def test_deploy_refused_answers_422_with_its_problems_and_stores_nothing(designer, session_factory):
    response = post_json(
        designer, "/desain/api/deploy", {"files": {"complaint.bpmn": NO_FORM}, "note": "coba"}
    )

    body = assert_refused(response, 422, "definition_refused")
    assert [(p["file"], p["element_id"]) for p in body["problems"]] == [
        ("complaint.bpmn", "verify")
    ]
    assert body["error"]["fields"]["complaint.bpmn"]
    assert bundles(session_factory) == 1


@pytest.mark.parametrize("note", [None, "", "   ", "x" * 501, 5])
def test_deploy_needs_a_note_of_at_most_500_characters(designer, session_factory, note):
    body: dict[str, Any] = {"files": {"complaint.bpmn": TWO_DAYS}}
    if note is not None:
        body["note"] = note
    refused = assert_refused(post_json(designer, "/desain/api/deploy", body), 422)
    assert "note" in refused["error"]["fields"]
    assert bundles(session_factory) == 1


def test_deploy_against_a_stale_diff_is_a_conflict(designer, session_factory):
    body = {"files": {"complaint.bpmn": TWO_DAYS}, "note": "n", "base_bundle_id": 7}
    response = post_json(designer, "/desain/api/deploy", body)
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "conflict"
    assert bundles(session_factory) == 1


def test_preview_renders_the_form_as_the_officers_task_page_does(designer, app):
    schema = json.loads(FILES["forms/verify.schema.json"])

    response = post_json(designer, "/desain/api/preview-form", {"schema": schema})

    assert response.status_code == 200
    preview = response.get_json()["html"]
    assert "Verifikasi laporan" in preview  # the form's Indonesian title
    assert '<legend>Keputusan <span class="required">(wajib)</span></legend>' in preview
    assert re.search(r'<input type="radio" id="decision-1" name="decision" value="route"', preview)
    assert "data-when=" in preview  # conditional fields, as officer.js expects them
    english = post_json(
        designer, "/desain/api/preview-form?lang=en", {"schema": schema}
    ).get_json()["html"]
    assert "Verify the complaint" in english


@pytest.mark.parametrize("schema", [{"type": 5}, {"properties": []}, "text", None])
def test_preview_of_an_invalid_schema_is_422_with_problems(designer, schema):
    body = assert_refused(post_json(designer, "/desain/api/preview-form", {"schema": schema}), 422)
    if isinstance(schema, dict):
        assert body["problems"][0]["message"].startswith("not a JSON Schema")


# -- bad input -----------------------------------------------------------------------------------


def test_not_json_is_415_and_not_an_object_is_422(designer):
    response = designer.post(
        "/desain/api/check",
        data="files",
        content_type="text/plain",
        headers={"X-CSRFToken": designer.csrf},
    )
    assert_refused(response, 415, "unsupported_media_type")
    response = designer.post(
        "/desain/api/check",
        data="{not json",
        content_type="application/json",
        headers={"X-CSRFToken": designer.csrf},
    )
    assert_refused(response, 422)
    assert_refused(post_json(designer, "/desain/api/check", [1, 2]), 422)


@pytest.mark.parametrize(
    "files",
    [
        None,
        [],
        "complaint.bpmn",
        {"complaint.bpmn": 5},
        {"complaint.bpmn": None},
        {},
        {"virus.exe": "x"},
        {"../complaint.bpmn": BPMN},
        {"notes/readme.json": "{}"},
    ],
)
def test_files_that_are_not_definition_files_are_422(designer, files):
    body: dict[str, Any] = {"note": "n"}
    if files is not None:
        body["files"] = files
    for path in ("/desain/api/check", "/desain/api/deploy"):
        refused = assert_refused(post_json(designer, path, body), 422)
        assert refused["error"]["fields"]


def test_invalid_xml_is_422_naming_every_file_and_line(designer):
    body = {
        "files": {
            "complaint.bpmn": BPMN.replace("</bpmn:process>", "</bpmn:proces>", 1),
            "routing.dmn": "<definitions>\n<decision>",
        },
        "note": "n",
    }
    for path in ("/desain/api/check", "/desain/api/deploy"):
        refused = assert_refused(post_json(designer, path, body), 422, "definition_refused")
        assert [p["file"] for p in refused["problems"]] == ["complaint.bpmn", "routing.dmn"]
        assert all(p["line"] and "not well-formed" in p["message"] for p in refused["problems"])


def test_entities_are_refused_not_expanded(designer):
    bomb = (
        '<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
        '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>\n'
        "<definitions>&lol2;</definitions>"
    )
    refused = assert_refused(
        post_json(designer, "/desain/api/check", {"files": {"complaint.bpmn": bomb}}), 422
    )
    assert refused["problems"][0]["message"] == "a DOCTYPE or entity declaration is not allowed"


def test_huge_bodies_and_files_are_413(designer):
    huge = {"files": {"complaint.bpmn": "x" * (11 * 1024 * 1024)}}
    assert_refused(post_json(designer, "/desain/api/check", huge), 413, "too_large")
    big = {"files": {"complaint.bpmn": "x" * (1024 * 1024 + 1)}}
    assert_refused(post_json(designer, "/desain/api/check", big), 413, "too_large")


def test_json_endpoints_need_the_csrf_header(designer):
    response = designer.post("/desain/api/check", json={"files": {"complaint.bpmn": BPMN}})
    assert response.status_code == 400
    assert "CSRF" in response.get_json()["error"]["message"]


# -- a bundle's files ----------------------------------------------------------------------------


def test_a_bundle_page_lists_its_files_to_view_and_download(designer):
    bundle = page(designer.get("/desain/versi/1"))
    for name in FILES:
        assert f'href="/desain/versi/1/berkas/{name}"' in bundle
        assert f'href="/desain/versi/1/unduh/{name}"' in bundle

    shown = page(designer.get("/desain/versi/1/berkas/complaint.bpmn"))
    assert "&lt;bpmn:definitions" in shown  # shown as text, escaped
    assert BPMN.splitlines()[1] in html.unescape(shown)

    download = designer.get("/desain/versi/1/unduh/forms/verify.schema.json")
    assert download.headers["Content-Disposition"] == 'attachment; filename="verify.schema.json"'
    assert download.get_data(as_text=True) == FILES["forms/verify.schema.json"]

    archive = designer.get("/desain/versi/1.zip")
    assert archive.mimetype == "application/zip"
    with zipfile.ZipFile(io.BytesIO(archive.data)) as z:
        assert {n: z.read(n).decode() for n in z.namelist()} == FILES


@pytest.mark.parametrize(
    "path", ["/desain/versi/99", "/desain/versi/1/berkas/none.bpmn", "/desain/versi/1/unduh/x"]
)
def test_unknown_bundles_and_files_are_404_pages(designer, path):
    response = designer.get(path)
    assert response.status_code == 404
    assert response.mimetype == "text/html"


# -- deploying without JavaScript ----------------------------------------------------------------


def upload(client, files: dict[str, str]):
    body = {"csrf_token": client.csrf, "berkas": [(t.encode(), n) for n, t in files.items()]}
    return client.post("/desain/unggah", **multipart(body))


def test_upload_shows_the_diff_then_deploys_with_a_note(designer, session_factory):
    checked = upload(designer, {"complaint.bpmn": TWO_DAYS})

    assert checked.status_code == 200
    shown = page(checked)
    changed = re.search(r'<ul class="diff-changed">(.*?)</ul>', shown, re.DOTALL)
    assert changed
    assert "3 working days to verify (verification_overdue)" in changed.group(1)
    form = {
        "csrf_token": designer.csrf,
        "nama": re.findall(r'name="nama" value="([^"]*)"', shown),
        "isi": [html.unescape(v) for v in re.findall(r'name="isi" value="([^"]*)"', shown)],
        "dasar": "1",
    }
    assert form["nama"] == ["complaint.bpmn"]

    without_note = designer.post("/desain/unggah/terapkan", data=form)
    assert without_note.status_code == 422
    assert 'id="catatan-error"' in page(without_note)
    assert bundles(session_factory) == 1

    deployed = designer.post(
        "/desain/unggah/terapkan", data={**form, "catatan": "Verifikasi 2 hari kerja"}
    )
    assert deployed.status_code == 302
    assert deployed.headers["Location"].endswith("/desain/versi/2")
    with session_factory() as session:
        row = session.get(DefinitionBundle, 2)
        assert row is not None
        assert row.files["complaint.bpmn"] == TWO_DAYS
        assert row.note == "Verifikasi 2 hari kerja"
    assert "Definisi dipasang: complaint v2." in page(designer.get("/desain/versi/2"))


def test_upload_with_problems_lists_them_and_offers_no_deploy(designer):
    response = upload(designer, {"complaint.bpmn": NO_FORM, "verify.schema.json": "{}"})

    shown = page(response)
    assert response.status_code == 200
    assert "1 masalah: definisi ini tidak dapat dipasang" in shown
    assert "complaint.bpmn, baris" in shown
    assert "<code>verify</code>" in shown
    assert 'name="catatan"' not in shown


def test_upload_of_a_wrong_file_says_so(designer):
    response = upload(designer, {"virus.exe": "x"})
    assert response.status_code == 422
    assert "virus.exe" in page(response)
    response = designer.post("/desain/unggah", **multipart({"csrf_token": designer.csrf}))
    assert response.status_code == 422


def test_confirming_after_someone_else_deployed_shows_the_new_diff(designer, session_factory):
    form = {"csrf_token": designer.csrf, "nama": "complaint.bpmn", "isi": TWO_DAYS}
    with session_factory.begin() as session:
        definitions.deploy(
            session, {**FILES, "statuses.json": FILES["statuses.json"] + " "}, actor="x", now=NOW
        )
    response = designer.post("/desain/unggah/terapkan", data={**form, "dasar": "1", "catatan": "n"})
    assert response.status_code == 409
    assert "Ada versi baru sejak Anda memeriksa" in page(response)
    assert bundles(session_factory) == 2


# -- the definitions API -------------------------------------------------------------------------


def api_deploy(client, token: str | None, files: dict[str, str], note: str | None = "API"):
    body: dict[str, Any] = {"files": [(t.encode(), n) for n, t in files.items()]}
    if note is not None:
        body["note"] = note
    headers = bearer(token) if token else {}
    return client.post("/api/v1/definitions", headers=headers, **multipart(body))


def test_api_deploy_is_201_with_its_versions_and_location(client, designer_token, session_factory):
    response = api_deploy(client, designer_token, {"complaint.bpmn": TWO_DAYS}, "Lewat API")

    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body == {
        "bundle_id": 2,
        "created": True,
        "versions": {"complaint": 2},
        "files_url": "/api/v1/definitions/2/files",
    }
    assert response.headers["Location"].endswith("/api/v1/definitions/2/files")
    listed = client.get("/api/v1/definitions", headers=bearer(designer_token)).get_json()
    assert [(v["key"], v["version"], v["note"], v["deployed_by"]) for v in listed] == [
        ("complaint", 2, "Lewat API", "user:desainer"),
        ("complaint", 1, None, "test"),
    ]
    assert {"open_tickets", "all_tickets", "content_hash", "deployed_at"} <= set(listed[0])
    same = api_deploy(client, designer_token, {"complaint.bpmn": TWO_DAYS})
    assert same.status_code == 200
    assert same.get_json()["created"] is False


def test_api_deploy_refused_is_422_with_every_problem(client, designer_token, session_factory):
    response = api_deploy(
        client,
        designer_token,
        {"complaint.bpmn": "<bpmn:definitions>", "routing.dmn": "<definitions><x></definitions>"},
    )
    body = assert_refused(response, 422, "definition_refused")
    assert {(p["file"], p["line"]) for p in body["problems"]} == {
        ("complaint.bpmn", 1),
        ("routing.dmn", 1),
    }
    assert set(body["error"]["fields"]) == {"complaint.bpmn", "routing.dmn"}
    response = api_deploy(client, designer_token, {"complaint.bpmn": NO_FORM})
    (problem,) = assert_refused(response, 422)["problems"]
    assert (problem["file"], problem["element_id"]) == ("complaint.bpmn", "verify")
    assert isinstance(problem["line"], int)
    assert bundles(session_factory) == 1


def test_api_deploy_bad_requests(client, designer_token):
    assert_refused(api_deploy(client, designer_token, {"complaint.bpmn": TWO_DAYS}, None), 422)
    assert_refused(api_deploy(client, designer_token, {}), 422)
    assert_refused(api_deploy(client, designer_token, {"evil.sh": "x"}), 422)
    binary = client.post(
        "/api/v1/definitions",
        headers=bearer(designer_token),
        **multipart({"note": "n", "files": [(b"\xff\xfe\x00", "complaint.bpmn")]}),
    )
    assert binary.status_code in (400, 422)
    as_json = client.post("/api/v1/definitions", headers=bearer(designer_token), json={"files": {}})
    assert as_json.status_code == 415


def test_api_needs_a_designer_token(client, tokens):
    for method, path in (("get", "/api/v1/definitions"), ("get", "/api/v1/definitions/1/files")):
        response = getattr(client, method)(path)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert getattr(client, method)(path, headers=bearer(tokens["pengawas"])).status_code == 403
    assert api_deploy(client, None, {"complaint.bpmn": TWO_DAYS}).status_code == 401
    assert (
        api_deploy(client, tokens["petugas_dpupr"], {"complaint.bpmn": TWO_DAYS}).status_code == 403
    )


def test_api_gives_a_bundles_files(client, designer_token):
    listed = client.get("/api/v1/definitions/1/files", headers=bearer(designer_token)).get_json()
    assert listed["versions"] == {"complaint": 1}
    assert [f["name"] for f in listed["files"]] == sorted(FILES)
    url = next(f["url"] for f in listed["files"] if f["name"] == "forms/verify.schema.json")
    assert url == "/api/v1/definitions/1/files/forms/verify.schema.json"
    raw = client.get(url, headers=bearer(designer_token))
    assert raw.status_code == 200
    assert raw.mimetype == "application/json"
    assert raw.get_data(as_text=True) == FILES["forms/verify.schema.json"]
    missing = client.get("/api/v1/definitions/1/files/nope.bpmn", headers=bearer(designer_token))
    assert missing.status_code == 404
    assert (
        client.get("/api/v1/definitions/9/files", headers=bearer(designer_token)).status_code == 404
    )


def test_openapi_documents_the_definitions_api(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    post = spec["paths"]["/api/v1/definitions"]["post"]
    assert "multipart/form-data" in post["requestBody"]["content"]
    assert {"201", "422"} <= set(post["responses"])
    assert "/api/v1/definitions/{bundle_id}/files/{name}" in spec["paths"]


# -- laksa deploy --note -------------------------------------------------------------------------


def test_laksa_deploy_takes_a_note(settings, session_factory, tmp_path: Path):
    folder = tmp_path / "workflows"
    shutil.copytree(WORKFLOWS, folder)
    (folder / "complaint.bpmn").write_text(TWO_DAYS, encoding="utf-8")
    env = {
        "LAKSA_HOME": str(settings.home),
        "LAKSA_DATABASE_URL": settings.database_url,
        "LAKSA_SECRET_KEY": "x",
        "LAKSA_REDIS_URL": "",
    }
    from web.cli import main

    runner = CliRunner()
    too_long = runner.invoke(main, ["deploy", str(folder), "--note", "x" * 501], env=env)
    assert too_long.exit_code == 2
    result = runner.invoke(main, ["deploy", str(folder), "--note", "Perwal 12/2026"], env=env)

    assert result.exit_code == 0, result.output
    with session_factory() as session:
        row = session.get(DefinitionBundle, 2)
        assert row is not None
        assert (row.note, row.deployed_by) == ("Perwal 12/2026", "cli:deploy")
