"""Who may open what: every role (and the public) against every page and endpoint.

The routes come from the app's own route table, so a new route without a line in EXPECTED
fails here until someone decides who may use it. Each request is sent as a browser or a
partner would send it (a signed-in session with its CSRF token for pages, a bearer token for
the API) to a real object: one ticket in the dpupr OPD's hands, with a photo, an incident,
a reporter's private link. "Allowed" means the request got past the checks of who is asking
(it may still be refused for its content: an empty form is shown again with its errors);
"forbidden" is a 403; "sign in" is the sign-in page for pages and a 401 for the API. The
public holds the reporter's private link (its secret in the path or the X-Reporter-Secret
header) where a route takes one.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.routing import Rule

from engine import definitions
from engine import demo
from engine import partner_hooks
from engine import partners
from engine.db import Base
from engine.db import make_engine
from engine.db import make_session_factory
from engine.identity import create_token
from engine.identity import create_user
from engine.models import ApiToken
from engine.models import Attachment
from engine.models import HumanTask
from engine.models import Incident
from engine.models import ProcessInstance
from engine.models import Ticket
from engine.models import User
from engine.partners import SUBMIT
from engine.partners import create_key
from engine.partners import create_partner
from engine.settings import Settings
from tests.conftest import NOW
from tests.conftest import WORKFLOWS
from tests.web.pages import Driven
from tests.web.pages import jpeg

ALLOWED, FORBIDDEN, SIGN_IN = "allowed", "forbidden", "sign in"

# username -> (role, groups); one user per role. "public" is nobody signed in.
PEOPLE: dict[str, tuple[str, list[str]]] = {
    "warga": ("citizen", []),
    "verifikator": ("verifier", ["verifier"]),
    "petugas_dpupr": ("officer", ["dpupr"]),
    "petugas_dlh": ("officer", ["dlh"]),
    "kepala_dpupr": ("opd_head", ["dpupr", "dpupr_head"]),
    "pengawas": ("supervisor", ["supervisor"]),
    "perancang": ("designer", []),
    "auditor": ("auditor", []),
    "admin": ("admin", ["verifier", "supervisor"]),
}
WHO = ("public", *PEOPLE)
STAFF = frozenset(PEOPLE)  # anyone signed in

# Who may use each endpoint: "public" (everyone, signed in or not), or the set of usernames
# allowed (everyone else signed in: 403; the public: the sign-in page or a 401).
Rule_ = str | frozenset[str]
PUBLIC: Rule_ = "public"
# The dpupr task: its group acts on it (the officer, the head); supervisors and auditors read
# it; an admin is not in the OPD's group.
TASK_ACT = frozenset({"petugas_dpupr", "kepala_dpupr"})
TASK_READ = TASK_ACT | {"pengawas", "auditor"}
# Staff entitled to the whole ticket: the desk (and admins, who sit at it), the routed OPD
# and its head, supervisors, auditors. The desk and the OPD act; the others read.
TICKET_ACT = frozenset({"verifikator", "petugas_dpupr", "kepala_dpupr", "admin"})
OVERSIGHT = frozenset({"kepala_dpupr", "pengawas", "auditor", "admin"})
ADMIN = frozenset({"admin"})
DESIGN = frozenset({"perancang", "admin"})
AUDIT = frozenset({"auditor", "admin"})
PARTNER_KEYS: frozenset[str] = frozenset()  # none of the people here holds a partner key
EXPECTED: dict[str, Rule_] = {
    # The public's pages, and the reporter's private link (a capability: the secret is enough).
    "static": PUBLIC,
    "public.home": PUBLIC,
    "public.language": PUBLIC,
    "public.photo": PUBLIC,
    "public.photo_thumb": PUBLIC,
    "public.gallery": PUBLIC,
    "public.track": PUBLIC,
    "public.report": PUBLIC,
    "public.report_post": PUBLIC,
    "public.submitted": PUBLIC,
    "public.ticket": PUBLIC,
    "public.statistics": PUBLIC,
    "public.statistics_csv": PUBLIC,
    "public.statistics_json": PUBLIC,
    "public.audit_anchors": PUBLIC,
    "public.audit_anchors_json": PUBLIC,
    "reporter.ticket": PUBLIC,
    "reporter.reply": PUBLIC,
    "reporter.photo": PUBLIC,
    "reporter.photo_thumb": PUBLIC,
    "reporter.confirm": PUBLIC,
    "reporter.rate": PUBLIC,
    "reporter.dispute": PUBLIC,
    # Open311 GeoReport v2: the public's reads; filing takes a partner's api_key in the form
    # (sent here as a partner would; without one it is a 403 for everybody,
    # tests/web/test_open311.py).
    "open311.discovery": PUBLIC,
    "open311.services": PUBLIC,
    "open311.service_definition": PUBLIC,
    "open311.requests": PUBLIC,
    "open311.create_request": PUBLIC,
    "open311.service_request": PUBLIC,
    "open311.token": PUBLIC,
    "open311.service_request_updates": PUBLIC,
    "officer.sign_in": PUBLIC,
    "api-docs.openapi_json": PUBLIC,
    "api_docs": PUBLIC,  # the API's documentation page (Swagger UI)
    "tickets.Tickets": PUBLIC,  # filing a report needs no account
    "tickets.Ticket": PUBLIC,  # the public view of a ticket
    "tickets.ReporterView": PUBLIC,  # with the reporter's secret
    "replies.TicketMessages": PUBLIC,  # with the reporter's secret
    "tickets.Timeline": PUBLIC,  # the public timeline (more with the secret or a token)
    "reference.Categories": PUBLIC,  # what a partner's screens need
    "reference.KecamatanList": PUBLIC,
    "reference.Statuses": PUBLIC,
    # Operators' machines: liveness, readiness, and the metrics (loopback, as here, or a token:
    # tests/web/test_ops.py).
    "ops.healthz": PUBLIC,
    "ops.readyz": PUBLIC,
    "ops.metrics": PUBLIC,
    # Every signed-in user: their own account, their inbox (empty when they have no group).
    "officer.sign_out": PUBLIC,  # signed out already: back to the home page
    "officer.password": STAFF,
    "officer.inbox": STAFF,
    "tasks.Tasks": STAFF,
    "officer.task": TASK_READ,
    "officer.complete": TASK_ACT,
    "officer.claim": TASK_ACT,
    "officer.take_over": TASK_ACT,
    "officer.release": TASK_ACT,
    "tasks.Task": TASK_READ,
    "tasks.ClaimTask": TASK_ACT,
    "tasks.CompleteTask": TASK_ACT,
    "tasks.ReleaseTask": TASK_ACT,
    # A ticket's staff page: any signed-in user; what it shows follows the one visibility
    # rule (tests/web/test_visibility.py): this public ticket's public face for the others.
    "officer.ticket": STAFF,
    "tickets.Attachments": TICKET_ACT,  # the after-photo, by those who act on the ticket
    # Heads (their OPD), supervisors, auditors (read-only) and admins.
    "officer.oversight": OVERSIGHT,
    "officer.oversight_csv": OVERSIGHT,
    "officer.oversight_opds": OVERSIGHT,
    "officer.oversight_opds_csv": OVERSIGHT,
    "officer.oversight_trends": OVERSIGHT,
    "officer.oversight_trends_csv": OVERSIGHT,
    "oversight.Overdue": OVERSIGHT,
    "oversight.Stats": OVERSIGHT,
    # The verifier desk's incidents.
    "incidents.Incidents": frozenset({"verifikator", "admin"}),
    "incidents.ResolveIncident": frozenset({"verifikator", "admin"}),
    # Process designers (and admins): definitions, their files, checking and deploying.
    "designer.index": DESIGN,
    "designer.bundle": DESIGN,
    "designer.file": DESIGN,
    "designer.download": DESIGN,
    "designer.download_zip": DESIGN,
    "designer.upload": DESIGN,
    "designer.upload_check": DESIGN,
    "designer.upload_deploy": DESIGN,
    "designer.latest_bundle": DESIGN,
    "designer.check": DESIGN,
    "designer.deploy": DESIGN,
    "designer.preview_form": DESIGN,
    "designer.modeler": DESIGN,
    "designer.migration": DESIGN,
    "designer.migration_apply": DESIGN,
    "definitions.Definitions": DESIGN,
    "definitions.BundleFiles": DESIGN,
    "definitions.BundleFile": DESIGN,
    # Auditors (read-only) and admins.
    "auditor.search": AUDIT,
    "auditor.search_csv": AUDIT,
    "auditor.search_json": AUDIT,
    "auditor.ticket": AUDIT,
    "auditor.ticket_csv": AUDIT,
    "auditor.ticket_json": AUDIT,
    "auditor.reveal_reporter": AUDIT,
    # The heatmap: auditors, supervisors, designers and admins.
    "auditor.heatmap_page": frozenset({"auditor", "pengawas", "perancang", "admin"}),
    "auditor.heatmap_csv": frozenset({"auditor", "pengawas", "perancang", "admin"}),
    # Admins.
    "admin.index": ADMIN,
    "admin.users": ADMIN,
    "admin.user": ADMIN,
    "admin.add_group": ADMIN,
    "admin.tokens": ADMIN,
    "admin.revoke": ADMIN,
    "admin.partners_page": ADMIN,
    "admin.partner": ADMIN,
    "admin.add_webhook": ADMIN,
    "admin.partner_active": ADMIN,
    "admin.revoke_partner_key": ADMIN,
    "admin.webhook_active": ADMIN,
    "admin.webhook_replay": ADMIN,
    # A partner system's own endpoints: partner keys only (tests/web/test_partner_api.py);
    # users' tokens and sessions are refused, the public signs in.
    "partner.Me": PARTNER_KEYS,
    "partner.Tickets": PARTNER_KEYS,
    "partner.TicketByExternalId": PARTNER_KEYS,
}


@dataclass
class World:
    app: Flask
    values: dict[str, Any]  # a value for each URL variable
    pages: dict[str, FlaskClient]  # signed-in browsers by username, "public" not signed in
    tokens: dict[str, str]  # API tokens by username


_CSRF = re.compile(r'name="csrf_token"[^>]*\bvalue="([^"]+)"')


def _csrf(client: FlaskClient) -> str:
    found = _CSRF.search(client.get("/lapor").get_data(as_text=True))
    assert found, "no CSRF token on /lapor"
    return found[1]


def _sign_in(browser: FlaskClient, name: str) -> None:
    answer = browser.post(
        "/masuk",
        data={"username": name, "password": f"sandi-{name}-1", "csrf_token": _csrf(browser)},
    )
    assert answer.status_code == 302, name
    assert "/masuk" not in answer.location, name


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    home: Path = tmp_path_factory.mktemp("matrix")
    settings = Settings(
        home=home,
        database_url=f"sqlite:///{home / 'laksa.db'}",
        redis_url=None,
        secret_key="test-secret",
        workflows_dir=WORKFLOWS,
    )
    engine = make_engine(settings.database_url)
    Base.metadata.create_all(engine)
    factory = make_session_factory(engine)
    tokens: dict[str, str] = {}
    with factory.begin() as session:
        demo.ensure_reference_data(session)
        demo.ensure_demo_city(session)
        for name, (role, groups) in PEOPLE.items():
            create_user(
                session,
                username=name,
                password=f"sandi-{name}-1",
                role=role,
                groups=groups,
                now=NOW,
            )
        definitions.deploy(session, definitions.read_files(WORKFLOWS), actor="test", now=NOW)
        for name in PEOPLE:
            tokens[name] = create_token(session, username=name, name="matrix", now=NOW)
        create_token(session, username="admin", name="to revoke", now=NOW)
        partners.create_partner(session, code="kanal-kota", name="Kanal Kota", now=NOW)
        partner_key, _ = partners.create_key(
            session, partner_code="kanal-kota", scopes=partners.SCOPES, now=NOW
        )
        webhook = partner_hooks.create_webhook(
            session,
            partner_code="kanal-kota",
            url="http://127.0.0.1:9/hook",
            topics=partner_hooks.TOPICS,
            now=NOW,
        )
        partner_ids = {"key_id": partner_key.id, "webhook_id": webhook.id}
    from web.app import create_app

    app = create_app(
        {"SETTINGS": settings, "TESTING": True, "DB_ENGINE": engine, "RATELIMIT_ENABLED": False}
    )
    ticket = Driven(app.test_client(), tokens, photos=[jpeg()])
    ticket.to_handling()  # in the dpupr OPD's hands
    with factory.begin() as session:
        row = session.scalars(select(Ticket).where(Ticket.number == ticket.number)).one()
        task = session.scalars(
            select(HumanTask).where(HumanTask.ticket_id == row.id, HumanTask.completed_at.is_(None))
        ).one()
        photo = session.scalars(select(Attachment).where(Attachment.ticket_id == row.id)).first()
        instance = session.scalars(
            select(ProcessInstance).where(ProcessInstance.ticket_id == row.id)
        ).one()
        session.add(Incident(instance_id=instance.id, at=NOW, kind="timer", message="test"))
        session.flush()
        incident = session.scalars(select(Incident)).one()
        admin = session.scalars(select(User).where(User.username == "admin")).one()
        token = session.scalars(select(ApiToken).where(ApiToken.name == "to revoke")).one()
        create_partner(session, code="mitra-open311", name="Mitra Open311", now=NOW)
        _, open311_key = create_key(session, partner_code="mitra-open311", scopes=[SUBMIT], now=NOW)
        assert photo is not None
        values = {
            "task_id": task.id,
            "number": ticket.number,
            "secret": ticket.secret,
            "fmt": "json",
            "service_code": "jalan_rusak",
            "service_request_id": ticket.number,
            "token": ticket.number,
            "api_key": open311_key,  # not a URL variable: the key Open311 partners file with
            "attachment_id": photo.id,
            "incident_id": incident.id,
            "user_id": admin.id,
            "token_id": token.id,
            "lang": "en",
            "filename": "laksa.css",
            "bundle_id": 1,
            "name": "complaint.bpmn",
            "code": "kanal-kota",
            "external_id": "CHAT-1",
            **partner_ids,
        }
    pages = {"public": app.test_client()}
    for name in PEOPLE:
        pages[name] = app.test_client()
        _sign_in(pages[name], name)
    yield World(app, values, pages, tokens)
    engine.dispose()


def _routes(app: Flask) -> dict[str, list[tuple[Rule, str]]]:
    found: dict[str, list[tuple[Rule, str]]] = {}
    for rule in app.url_map.iter_rules():
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            found.setdefault(rule.endpoint, []).append((rule, method))
    return found


def _outcome(world: World, who: str, rule: Rule, method: str) -> str:
    path = rule.build({k: world.values[k] for k in rule.arguments})[1]  # type: ignore[index]
    api = path.startswith("/api/")
    browser = world.app.test_client() if api else world.pages[who]
    if rule.endpoint == "officer.sign_out" and who != "public":  # not the browser kept
        browser = world.app.test_client()
        _sign_in(browser, who)
    headers = {"Authorization": f"Bearer {world.tokens[who]}"} if api and who != "public" else {}
    if api and who == "public":  # the reporter's link, where a route takes it
        headers["X-Reporter-Secret"] = world.values["secret"]
    kwargs: dict[str, Any] = {"headers": headers}
    if path.startswith("/open311/"):  # a partner's system: no session, its key in the form
        browser = world.app.test_client()
        if method != "GET":
            kwargs["data"] = {"api_key": world.values["api_key"]}
    elif method != "GET":
        if api:
            kwargs["json"] = {}
        else:
            kwargs["data"] = {"csrf_token": _csrf(browser)}
    answer = browser.open(path, method=method, **kwargs)
    answer.close()  # a file sent (static, photos) is closed
    status = answer.status_code
    if rule.endpoint == "officer.sign_out" and status == 302:
        return ALLOWED  # signed out, on the sign-in page
    if status == 403:
        return FORBIDDEN
    if status == 401 or (status == 302 and "/masuk" in answer.location):
        return SIGN_IN
    assert status < 500, f"{method} {path} as {who}: {status}"
    return ALLOWED


def _expected(rule: Rule_, who: str) -> str:
    if rule == PUBLIC or who in rule:
        return ALLOWED
    return SIGN_IN if who == "public" else FORBIDDEN


def test_every_route_has_a_decision_on_who_may_use_it(world: World) -> None:
    routes = set(_routes(world.app))
    assert routes - set(EXPECTED) == set(), "routes nobody decided on: add them to EXPECTED"
    assert set(EXPECTED) - routes == set(), "EXPECTED names routes that no longer exist"


@pytest.mark.parametrize("endpoint", sorted(EXPECTED))
def test_each_role_and_the_public_get_what_the_matrix_says(world: World, endpoint: str) -> None:
    routes = _routes(world.app)
    if endpoint not in routes:
        pytest.fail(f"{endpoint} is not a route any more")
    wrong = []
    for rule, method in routes[endpoint]:
        for who in WHO:
            got = _outcome(world, who, rule, method)
            want = _expected(EXPECTED[endpoint], who)
            if got != want:
                wrong.append(f"{method} {rule.rule} as {who}: {got}, expected {want}")
    assert not wrong, "\n".join(wrong)
