"""GET /api/v1/oversight/overdue and /stats: the supervisor's overdue list and the city's numbers.

Tickets are driven through the engine at a past time, then the timer sweep runs at the wall
clock, so their deadlines have passed and the escalations fired, as in production.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from engine import commands
from engine import timers
from engine.clock import now as wall_now
from engine.identity import Actor
from engine.identity import create_token
from engine.identity import create_user
from engine.models import HumanTask
from engine.models import Ticket
from tests.conftest import NOW
from tests.web.test_api import assert_error
from tests.web.test_api import bearer

PAST = wall_now() - timedelta(days=40)


def submit(factory: sessionmaker[Session], category: str, *, at: Any = PAST) -> str:
    data = commands.TicketInput(
        kind="complaint", category=category, title="Laporan warga", description="Tolong"
    )
    with factory.begin() as session:
        result = commands.submit_ticket(session, data=data, actor=Actor.public(), now=at)
        return result.ticket.number


def complete(
    factory: sessionmaker[Session], actor: Actor, number: str, data: dict[str, Any], *, at: Any
) -> None:
    with factory.begin() as session:
        task_id = session.scalars(
            select(HumanTask.id)
            .join(Ticket, Ticket.id == HumanTask.ticket_id)
            .where(
                Ticket.number == number,
                HumanTask.completed_at.is_(None),
                HumanTask.candidate_group.in_(actor.groups),
            )
        ).one()
        commands.complete_task(session, task_id=task_id, actor=actor, data=data, now=at)


def reply(factory: sessionmaker[Session], number: str, message: str, *, at: Any) -> None:
    with factory.begin() as session:
        commands.correlate_message(
            session, ticket_number=number, message=message, payload={}, actor=Actor.public(), now=at
        )


@pytest.fixture
def city(session_factory, actors) -> dict[str, str]:
    """Tickets in every state the overdue list and the statistics tell apart."""
    f, verifier, dpupr, dlh = (
        session_factory,
        actors["verifikator"],
        actors["petugas_dpupr"],
        actors["petugas_dlh"],
    )
    at = PAST
    tickets = {
        "verify_late": submit(f, "jalan_rusak"),  # never verified
        "ack_late": submit(f, "drainase"),  # routed to dpupr, never acknowledged
        "follow_up": submit(f, "taman"),  # dlh waits for follow-up
        "fixed": submit(f, "sampah"),  # resolved and confirmed
        "archived": submit(f, "jalan_rusak"),  # rejected at verification
        "fresh": submit(f, "jalan_rusak", at=wall_now()),  # nothing is late yet
    }
    for key in ("ack_late", "follow_up", "fixed"):
        complete(f, verifier, tickets[key], {"decision": "route"}, at=at)
    complete(f, verifier, tickets["archived"], {"decision": "reject", "reason": "spam"}, at=at)
    for key in ("follow_up", "fixed"):
        complete(f, dlh, tickets[key], {"decision": "accept", "complexity": "simple"}, at=at)
    complete(
        f,
        dlh,
        tickets["follow_up"],
        {"decision": "follow_up", "follow_up_reason": "anggaran", "follow_up_days": 10},
        at=at,
    )
    complete(f, dlh, tickets["fixed"], {"decision": "resolve", "resolution": "Diangkut"}, at=at)
    reply(f, tickets["fixed"], "reporter_confirms", at=at)
    assert dpupr.groups == {"dpupr"}
    timers.run_due(f, now=wall_now())  # the breaches of the past 40 days fire now
    return tickets


def overdue(client: FlaskClient, token: str, query: str = "") -> list[dict[str, Any]]:
    response = client.get(f"/api/v1/oversight/overdue{query}", headers=bearer(token))
    assert response.status_code == 200, response.get_json()
    rows: list[dict[str, Any]] = response.get_json()
    return rows


def stats(client: FlaskClient, token: str, query: str = "") -> dict[str, Any]:
    response = client.get(f"/api/v1/oversight/stats{query}", headers=bearer(token))
    assert response.status_code == 200, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def role_token(session_factory, name: str, role: str, groups: list[str]) -> str:
    with session_factory.begin() as session:
        create_user(
            session, username=name, password="password-x", role=role, groups=groups, now=NOW
        )
        return create_token(session, username=name, name="test", now=NOW)


# -- who may look ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/v1/oversight/overdue", "/api/v1/oversight/stats"])
def test_oversight_needs_a_token_and_an_oversight_role(client, tokens, session_factory, path):
    assert_error(client.get(path), 401, "unauthorized")
    for name in ("verifikator", "petugas_dpupr"):
        assert_error(client.get(path, headers=bearer(tokens[name])), 403, "forbidden")
    citizen = role_token(session_factory, "warga", "citizen", [])
    assert_error(client.get(path, headers=bearer(citizen)), 403, "forbidden")
    auditor = role_token(session_factory, "auditor", "auditor", [])
    admin = role_token(session_factory, "admin", "admin", [])
    for token in (tokens["pengawas"], tokens["kepala_dpupr"], auditor, admin):
        assert client.get(path, headers=bearer(token)).status_code == 200


# -- the overdue list --------------------------------------------------------------------------


def test_the_overdue_list_holds_escalated_and_late_open_tickets_most_overdue_first(
    client, tokens, city
):
    rows = overdue(client, tokens["pengawas"])
    assert [r["number"] for r in rows] == [
        city["verify_late"],  # due 3 working days after PAST
        city["ack_late"],  # 5 working days
        city["follow_up"],  # 10 working days
    ]
    first = rows[0]
    assert set(first) == {
        "number",
        "category",
        "opd",
        "status",
        "status_label",
        "due_at",
        "escalation_level",
        "overdue_by",
    }
    assert (first["category"], first["opd"], first["status"]) == (
        "jalan_rusak",
        None,
        "verification",
    )
    assert first["status_label"] == "Verifikasi"
    assert first["escalation_level"] >= 1  # the breach fired in the sweep
    assert first["due_at"] is not None  # the breached deadline, not cleared by the breach
    overdue_by = [r["overdue_by"] for r in rows]
    assert overdue_by == sorted(overdue_by, reverse=True)
    assert overdue_by[-1] > 0
    by_number = {r["number"]: r for r in rows}
    assert by_number[city["ack_late"]]["opd"] == "dpupr"
    assert by_number[city["follow_up"]]["status"] == "waiting_follow_up"
    assert by_number[city["follow_up"]]["status_label"] == "Menunggu tindak lanjut"


def test_labels_follow_lang(client, tokens, city):
    rows = overdue(client, tokens["pengawas"], "?lang=en")
    assert rows[0]["status_label"] == "Verification"


def test_the_overdue_list_filters_by_opd_and_level(client, tokens, city, session_factory):
    assert [r["number"] for r in overdue(client, tokens["pengawas"], "?opd=dlh")] == [
        city["follow_up"]
    ]
    assert overdue(client, tokens["pengawas"], "?opd=dishub") == []
    with session_factory.begin() as session:  # one ticket escalated to the supervisor
        session.get(Ticket, _id(session, city["ack_late"])).escalation_level = 2
    assert [r["number"] for r in overdue(client, tokens["pengawas"], "?level=2")] == [
        city["ack_late"]
    ]
    assert len(overdue(client, tokens["pengawas"], "?level=1")) == 3
    error = assert_error(
        client.get("/api/v1/oversight/overdue?level=x", headers=bearer(tokens["pengawas"])),
        422,
    )
    assert "level" in error["fields"]


def test_an_opd_head_sees_only_its_own_opds(client, tokens, city):
    rows = overdue(client, tokens["kepala_dpupr"])
    assert [r["number"] for r in rows] == [city["ack_late"]]
    assert overdue(client, tokens["kepala_dpupr"], "?opd=dpupr") == rows
    assert_error(
        client.get("/api/v1/oversight/overdue?opd=dlh", headers=bearer(tokens["kepala_dpupr"])),
        403,
        "forbidden",
    )


def test_an_escalated_ticket_whose_step_is_not_late_now_is_listed_with_zero(
    client, tokens, session_factory
):
    number = submit(session_factory, "jalan_rusak", at=wall_now())
    with session_factory.begin() as session:
        session.get(Ticket, _id(session, number)).escalation_level = 1
    (row,) = overdue(client, tokens["pengawas"])
    assert (row["number"], row["escalation_level"], row["overdue_by"]) == (number, 1, 0)


# -- statistics --------------------------------------------------------------------------------


def test_stats_keep_fixed_apart_from_every_other_closure(client, tokens, city):
    body = stats(client, tokens["pengawas"])
    assert body["totals"] == {
        "handled": 6,
        "closed": 2,
        "resolved": 1,
        "other_closures": {"rejected": 1},
        "in_process": 3,  # verify_late, ack_late, fresh
        "waiting_follow_up": 1,
        "resolution_rate": 0.5,
    }
    by_opd = {row["opd"]: row for row in body["by_opd"]}
    assert set(by_opd) == {None, "dpupr", "dlh"}
    assert by_opd["dlh"] == {
        "opd": "dlh",
        "handled": 2,
        "closed": 1,
        "resolved": 1,
        "other_closures": {},
        "in_process": 0,
        "waiting_follow_up": 1,
        "resolution_rate": 1.0,
    }
    assert by_opd["dpupr"]["in_process"] == 1
    assert by_opd["dpupr"]["resolution_rate"] is None  # nothing closed: no rate, not 0 %
    assert by_opd[None]["other_closures"] == {"rejected": 1}


def test_stats_for_an_opd_head_and_by_period(client, tokens, city):
    body = stats(client, tokens["kepala_dpupr"])
    assert [row["opd"] for row in body["by_opd"]] == ["dpupr"]
    assert body["totals"]["handled"] == 1
    assert_error(
        client.get("/api/v1/oversight/stats?opd=dlh", headers=bearer(tokens["kepala_dpupr"])),
        403,
    )
    today = wall_now().date()
    recent = stats(client, tokens["pengawas"], f"?since={today.isoformat()}")
    assert recent["totals"]["handled"] == 1  # only the fresh ticket
    older = stats(client, tokens["pengawas"], f"?until={today.isoformat()}")
    assert older["totals"]["handled"] == 5
    assert_error(
        client.get("/api/v1/oversight/stats?since=yesterday", headers=bearer(tokens["pengawas"])),
        422,
    )


def test_an_empty_city_has_zero_counts_and_no_rate(client, tokens):
    body = stats(client, tokens["pengawas"])
    assert body["totals"]["handled"] == 0
    assert body["totals"]["resolution_rate"] is None
    assert body["by_opd"] == []
    assert overdue(client, tokens["pengawas"]) == []


def test_the_endpoints_are_in_the_openapi_document(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert {"/api/v1/oversight/overdue", "/api/v1/oversight/stats"} <= set(spec["paths"])
    schemas = spec["components"]["schemas"]
    assert "overdue_by" in schemas["OverdueTicket"]["properties"]


def _id(session: Session, number: str) -> int:
    return session.scalars(select(Ticket.id).where(Ticket.number == number)).one()
