"""The `laksa` console script through click's CliRunner, on a SQLite file in a temporary home."""

from __future__ import annotations

import os
import re
import uuid
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from click.testing import Result
from sqlalchemy import create_engine
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import text

from engine.db import make_engine
from engine.db import make_session_factory
from engine.identity import check_password
from engine.models import Definition
from engine.models import Membership
from engine.models import User
from engine.settings import Settings
from tests.engine.conftest import POSTGRES_ENV
from tests.engine.conftest import postgres_schema_url
from tests.factories import submit
from web.cli import main


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        "LAKSA_HOME": str(tmp_path),
        "LAKSA_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "LAKSA_SECRET_KEY": "cli-test-secret",
        "LAKSA_REDIS_URL": "",
    }


@pytest.fixture
def laksa(env: dict[str, str]):
    runner = CliRunner()

    def run(*args: str, input: str | None = None) -> Result:
        return runner.invoke(main, list(args), env=env, input=input, catch_exceptions=False)

    return run


@pytest.fixture
def factory(env: dict[str, str]):
    engine = make_engine(env["LAKSA_DATABASE_URL"])
    yield make_session_factory(engine)
    engine.dispose()


@pytest.fixture
def initialised(laksa) -> Result:
    result = laksa("init", "--demo")
    assert result.exit_code == 0, result.output
    return result


def demo_passwords(output: str) -> dict[str, str]:
    found = {}
    for line in output.splitlines():
        match = re.match(r"^\s+(\w+)\s+(\S+)\s+(\w+)\s", line)
        if match:
            found[match.group(1)] = match.group(2)
    return found


def test_init_demo_prints_every_demo_user_with_a_password_that_works(initialised, factory):
    passwords = demo_passwords(initialised.output)
    assert {"verifikator", "petugas_dpupr", "admin", "warga"} <= set(passwords)
    with factory() as session:
        user = session.scalars(select(User).where(User.username == "verifikator")).one()
        assert check_password(passwords["verifikator"], user.password_hash)
    assert "deployed: complaint v1" in initialised.output


def test_init_demo_twice_is_idempotent(initialised, laksa, factory):
    with factory() as session:
        users = session.scalar(select(func.count()).select_from(User))
        definitions = session.scalar(select(func.count()).select_from(Definition))
    again = laksa("init", "--demo")
    assert again.exit_code == 0, again.output
    assert demo_passwords(again.output) == demo_passwords(initialised.output)
    assert "unchanged, still live: complaint v1" in again.output
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(User)) == users
        assert session.scalar(select(func.count()).select_from(Definition)) == definitions


def test_deploy_twice_says_unchanged_the_second_time(initialised, laksa):
    first = laksa("deploy")
    assert first.exit_code == 0, first.output
    assert "unchanged" in first.output  # init already deployed workflows/
    second = laksa("deploy")
    assert second.exit_code == 0
    assert second.output.strip() == "unchanged, still live: complaint v1"


def test_deploy_of_a_broken_file_exits_non_zero_with_one_line(initialised, laksa, tmp_path):
    broken = tmp_path / "broken.bpmn"
    broken.write_text("<bpmn:definitions")
    result = laksa("deploy", str(broken))
    assert result.exit_code != 0
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1
    assert "broken.bpmn" in lines[0]
    assert "Traceback" not in result.output


def test_deploy_prints_every_problem_of_a_model_one_per_line(initialised, laksa):
    model = Path(__file__).parent.parent / "fixtures/bpmn_spec/multi/three_problems.bpmn"
    result = laksa("deploy", str(model))
    assert result.exit_code != 0
    lines = [line.strip() for line in result.output.splitlines() if line.strip()]
    assert re.search(r"not deployed, \d+ problems:$", lines[0])
    for element in ("start", "choice", "late"):
        assert any(
            re.match(rf"three_problems\.bpmn:\d+: element '{element}': BPMN 2\.0\.2 §", line)
            for line in lines[1:]
        ), result.output
    assert "Traceback" not in result.output


def test_a_token_from_tokens_create_opens_the_verifiers_inbox(initialised, laksa, env, factory):
    result = laksa("tokens", "create", "verifikator")
    assert result.exit_code == 0, result.output
    token = result.output.strip()
    number = submit(factory)
    from web.app import create_app

    app = create_app({"SETTINGS": Settings.from_env(env), "TESTING": True})
    client = app.test_client()
    response = client.get("/api/v1/tasks", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert [t["ticket"] for t in response.get_json()] == [number]
    refused = client.get("/api/v1/tasks", headers={"Authorization": f"Bearer {token}x"})
    assert refused.status_code == 401


def test_tokens_create_for_an_unknown_user_fails(initialised, laksa):
    result = laksa("tokens", "create", "nobody")
    assert result.exit_code != 0
    assert "nobody" in result.output


def test_users_create_reads_the_password_from_stdin(initialised, laksa, factory):
    result = laksa(
        "users",
        "create",
        "petugas_dishub",
        "--role",
        "officer",
        "--group",
        "dishub",
        "--password-stdin",
        input="rahasia-sekali\n",
    )
    assert result.exit_code == 0, result.output
    assert "rahasia-sekali" not in result.output
    with factory() as session:
        user = session.scalars(select(User).where(User.username == "petugas_dishub")).one()
        assert user.role == "officer"
        assert check_password("rahasia-sekali", user.password_hash)
        groups = session.scalars(select(Membership.group_code).where(Membership.user_id == user.id))
        assert list(groups) == ["dishub"]


def test_users_create_refuses_a_short_password(initialised, laksa, factory):
    result = laksa(
        "users", "create", "x_user", "--role", "officer", "--password-stdin", input="short\n"
    )
    assert result.exit_code != 0
    with factory() as session:
        assert session.scalar(select(User).where(User.username == "x_user")) is None


# -- audit verify --------------------------------------------------------------------------------


def audit_ids(factory, number: str) -> list[int]:
    with factory() as session:
        return list(
            session.scalars(
                text(
                    "SELECT a.id FROM audit_event a"
                    " JOIN process_instance p ON p.id = a.instance_id"
                    " JOIN ticket t ON t.id = p.ticket_id"
                    " WHERE t.number = :n ORDER BY a.seq"
                ),
                {"n": number},
            )
        )


def tamper(factory, sql: str, **params: object) -> None:
    with factory.begin() as session:
        assert session.execute(text(sql), params).rowcount == 1


@pytest.fixture
def two_tickets(initialised, factory) -> tuple[str, str]:
    return submit(factory), submit(factory)


def test_audit_verify_passes_on_an_untouched_trail(two_tickets, laksa):
    result = laksa("audit", "verify")
    assert result.exit_code == 0, result.output
    assert "intact" in result.output


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE audit_event SET actor = 'pengawas' WHERE id = :id",
        'UPDATE audit_event SET data = \'{"category":"sampah"}\' WHERE id = :id',
    ],
    ids=["actor", "data"],
)
def test_audit_verify_fails_naming_the_ticket_after_a_row_is_edited(
    two_tickets, laksa, factory, sql
):
    tampered, untouched = two_tickets
    tamper(factory, sql, id=audit_ids(factory, tampered)[0])
    result = laksa("audit", "verify")
    assert result.exit_code == 1
    assert tampered in result.output
    assert untouched not in result.output


@pytest.mark.parametrize("which", ["middle", "last"])
def test_audit_verify_fails_naming_the_ticket_after_a_row_is_deleted(
    two_tickets, laksa, factory, which
):
    tampered, untouched = two_tickets
    ids = audit_ids(factory, tampered)
    assert len(ids) >= 3
    victim = ids[len(ids) // 2] if which == "middle" else ids[-1]
    tamper(factory, "DELETE FROM audit_event WHERE id = :id", id=victim)
    result = laksa("audit", "verify")
    assert result.exit_code == 1
    assert tampered in result.output
    assert untouched not in result.output


# -- audit anchor --------------------------------------------------------------------------------


def test_audit_anchor_publishes_once_a_day_and_verify_checks_it(two_tickets, laksa):
    first = laksa("audit", "anchor")
    assert first.exit_code == 0, first.output
    assert re.search(r"anchor of \d{4}-\d\d-\d\d published: 2 chain\(s\)", first.output)
    again = laksa("audit", "anchor")
    assert again.exit_code == 0
    assert "already published; nothing to do" in again.output
    result = laksa("audit", "verify")
    assert result.exit_code == 0, result.output
    assert "audit trail intact; 1 anchor(s) match it" in result.output


def test_audit_verify_names_the_anchor_day_and_ticket_of_a_rewritten_chain(
    two_tickets, laksa, factory
):
    """A chain recomputed consistently passes the chain check; the published anchor catches it."""
    from engine import anchors
    from engine import audit
    from engine.calendar import JAKARTA
    from tests.engine.test_anchors import rewrite_chain

    tampered, untouched = two_tickets
    assert laksa("audit", "anchor").exit_code == 0
    rewrite_chain(factory, tampered)
    with factory() as session:
        assert audit.verify(session) == []
    result = laksa("audit", "verify")
    assert result.exit_code == 1
    day = datetime.now(JAKARTA).date().isoformat()
    assert f"TAMPERED anchor of {day}: ticket {tampered}" in result.output
    assert untouched not in result.output
    assert anchors.GENESIS not in result.output


# -- migrate ---------------------------------------------------------------------------------------


@pytest.fixture
def second_version(two_tickets, laksa, tmp_path) -> tuple[str, str]:
    """workflows/ deployed again with verification in 2 working days instead of 3."""
    import shutil

    from tests.conftest import WORKFLOWS

    folder = tmp_path / "workflows-v2"
    shutil.copytree(WORKFLOWS, folder, ignore=shutil.ignore_patterns("node_modules"))
    bpmn = folder / "complaint.bpmn"
    bpmn.write_text(
        bpmn.read_text().replace("working_days(3)", "working_days(2)", 1), encoding="utf-8"
    )
    result = laksa("deploy", str(folder))
    assert "complaint v2" in result.output, result.output
    return two_tickets


def versions_of(factory) -> list[int]:
    with factory() as session:
        return list(
            session.scalars(
                text(
                    "SELECT d.version FROM process_instance p"
                    " JOIN definition d ON d.id = p.definition_id ORDER BY p.id"
                )
            )
        )


def test_migrate_dry_run_lists_each_ticket_and_changes_nothing(second_version, laksa, factory):
    first, second = second_version
    result = laksa("migrate", "complaint", "--to", "2")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith(f"{first}  v1  movable  timer 'verification_overdue' is recomputed")
    assert lines[1].startswith(f"{second}  v1  movable")
    assert "2 running ticket(s): 2 movable to v2, 0 not" in result.output
    assert versions_of(factory) == [1, 1]


def test_migrate_apply_moves_the_tickets_in_batches_and_back(second_version, laksa, factory):
    first, second = second_version
    result = laksa("migrate", "complaint", "--to", "2", "--apply", "--batch", "1")
    assert result.exit_code == 0, result.output
    assert f"{first}  moved" in result.output
    assert f"{second}  moved" in result.output
    assert "2 ticket(s): 2 moved to v2, 0 not movable, 0 conflict(s)" in result.output
    assert versions_of(factory) == [2, 2]
    back = laksa("migrate", "complaint", "--to", "1", "--from", "2", "--apply")
    assert "2 moved to v1" in back.output
    assert versions_of(factory) == [1, 1]
    assert "intact" in laksa("audit", "verify").output


def test_migrate_to_an_unknown_version_fails_with_one_line(second_version, laksa):
    result = laksa("migrate", "complaint", "--to", "7")
    assert result.exit_code == 1
    assert "has no version 7" in result.output


# -- heatmap rebuild -----------------------------------------------------------------------------


def test_heatmap_rebuild_recounts_the_stays_from_the_audit_trail(two_tickets, laksa, factory):
    from engine import stays
    from engine.models import ElementStay

    with factory() as session:
        kept = stays.stored(session)
    assert kept.stays
    tamper(
        factory,
        "DELETE FROM element_stay WHERE element_id = 'received' AND dimension = 'all'"
        " AND span = 'd'",
    )
    result = laksa("heatmap", "rebuild")
    assert result.exit_code == 0, result.output
    stays_counted = sum(n for k, n in kept.stays.items() if k[1] == "all" and k[3] == "d")
    assert f"{stays_counted} element stays" in result.output
    with factory() as session:
        assert stays.stored(session) == kept
        assert session.scalar(select(func.count()).select_from(ElementStay)) >= 2


def test_init_counts_the_stays_of_a_database_that_never_kept_them(two_tickets, laksa, factory):
    from engine import stays

    with factory.begin() as session:
        kept = stays.stored(session)
        session.execute(text("DELETE FROM element_stay"))
    result = laksa("init")
    assert result.exit_code == 0, result.output
    assert "heatmap:" in result.output
    with factory() as session:
        assert stays.stored(session) == kept


@pytest.mark.parametrize(
    "args", [("tokens", "create", "admin"), ("timers", "run-due"), ("audit", "verify")]
)
def test_a_command_before_init_says_so_in_one_line_and_creates_no_database(env, args):
    result = CliRunner().invoke(main, list(args), env=env)
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"Error: the database at {env['LAKSA_DATABASE_URL']} is not set up: run `laksa init` first"
    ]
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert not Path(env["LAKSA_DATABASE_URL"].removeprefix("sqlite:///")).exists()


def test_a_command_on_an_empty_database_file_says_to_run_init(laksa, env):
    Path(env["LAKSA_DATABASE_URL"].removeprefix("sqlite:///")).touch()
    result = CliRunner().invoke(main, ["tokens", "list"], env=env)
    assert result.exit_code == 1
    assert "run `laksa init` first" in result.output
    assert "Traceback" not in result.output
    assert laksa("init").exit_code == 0
    assert laksa("tokens", "list").exit_code == 0


@pytest.mark.postgres
def test_a_command_on_an_empty_postgresql_database_says_to_run_init(env):
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(f"{POSTGRES_ENV} is not set")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base)
    with admin.begin() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        url = postgres_schema_url(base, schema)
        on_postgres = {**env, "LAKSA_DATABASE_URL": url}
        result = CliRunner().invoke(main, ["timers", "run-due"], env=on_postgres)
        assert result.exit_code == 1
        assert result.output.strip().endswith("is not set up: run `laksa init` first")
        assert len(result.output.strip().splitlines()) == 1
    finally:
        with admin.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.dispose()
