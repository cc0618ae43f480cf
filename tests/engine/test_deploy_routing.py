"""Deploy refuses a routing.dmn that sends an active category to no known OPD (issue 3).

The decision is evaluated through the runtime's sandboxed script engine for every active
category, without a kecamatan; the live version stays live when a deploy is refused.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from engine import definitions
from engine.models import Category
from engine.models import DefinitionBundle
from engine.runtime import DefinitionError
from tests.conftest import NOW
from tests.conftest import WORKFLOWS

ENVIRONMENT = ("pohon_tumbang", "sampah", "taman")  # the categories of rule_environment


def copy_workflows(tmp_path: Path) -> Path:
    folder = tmp_path / "workflows"
    shutil.copytree(WORKFLOWS, folder)
    return folder


def edit_routing(folder: Path, old: str, new: str, *, regex: bool = False) -> None:
    path = folder / "routing.dmn"
    text = path.read_text(encoding="utf-8")
    changed = re.sub(old, new, text, flags=re.S) if regex else text.replace(old, new)
    assert changed != text, old
    path.write_text(changed, encoding="utf-8")


def without_rule(folder: Path, rule_id: str) -> None:
    edit_routing(folder, rf'\s*<rule id="{rule_id}">.*?</rule>', "", regex=True)


def deploy(factory: sessionmaker[Session], folder: Path) -> definitions.DeployResult:
    with factory.begin() as session:
        return definitions.deploy(session, definitions.read_files(folder), actor="test", now=NOW)


def live_state(factory: sessionmaker[Session]) -> tuple[int, int]:
    with factory() as session:
        bundles = session.scalar(select(func.count()).select_from(DefinitionBundle)) or 0
        return bundles, definitions.latest_definition(session, "complaint").version


def test_a_missing_rule_is_refused_naming_the_categories_and_the_live_version_stays(
    session_factory, tmp_path
):
    folder = copy_workflows(tmp_path)
    without_rule(folder, "rule_environment")
    before = live_state(session_factory)
    with pytest.raises(DefinitionError) as refused:
        deploy(session_factory, folder)
    message = str(refused.value)
    assert "\n" not in message
    assert message.startswith("routing.dmn:3: element 'routing':")
    assert "no known OPD for active categories pohon_tumbang, sampah, taman" in message
    assert live_state(session_factory) == before == (1, 1)


def test_a_rule_to_an_unknown_group_is_refused(session_factory, tmp_path):
    folder = copy_workflows(tmp_path)
    edit_routing(folder, '<text>"disdukcapil"</text>', '<text>"dukcapil"</text>')
    with pytest.raises(DefinitionError, match=r"active category adminduk \("):
        deploy(session_factory, folder)
    assert live_state(session_factory) == (1, 1)


def test_inactive_categories_need_no_rule(session_factory, tmp_path):
    folder = copy_workflows(tmp_path)
    without_rule(folder, "rule_environment")
    with session_factory.begin() as session:
        session.execute(update(Category).where(Category.code.in_(ENVIRONMENT)).values(active=False))
    result = deploy(session_factory, folder)
    assert (result.created, result.versions) == (True, {"complaint": 2})


def test_a_new_category_without_a_rule_blocks_the_next_deploy(session_factory, tmp_path):
    folder = copy_workflows(tmp_path)
    edit_routing(folder, 'name="Route a complaint to its OPD"', 'name="Route to the OPD"')
    with session_factory.begin() as session:
        session.add(Category(code="banjir", name="Banjir", infrastructure=True, active=True))
    with pytest.raises(DefinitionError, match="active category banjir "):
        deploy(session_factory, folder)
    edit_routing(  # the designer adds the rule: deployed
        folder,
        '? in ("jalan_rusak", "drainase", "penerangan_jalan")',
        '? in ("jalan_rusak", "drainase", "penerangan_jalan", "banjir")',
    )
    assert deploy(session_factory, folder).versions == {"complaint": 2}


def test_a_kecamatan_rule_does_not_cover_a_report_without_one(session_factory, tmp_path):
    folder = copy_workflows(tmp_path)
    edit_routing(
        folder,
        '<inputEntry id="rule_civil_registration_kecamatan"><text>-</text></inputEntry>',
        '<inputEntry id="rule_civil_registration_kecamatan"><text>"Cipondoh"</text></inputEntry>',
    )
    with pytest.raises(DefinitionError, match="active category adminduk "):
        deploy(session_factory, folder)


def test_a_table_reading_data_known_only_at_run_time_is_left_to_the_process(
    session_factory, tmp_path
):
    folder = copy_workflows(tmp_path)
    edit_routing(  # a note a form sets at run time, unknown at deploy
        folder, "<text>kecamatan</text>", "<text>verifier_note</text>"
    )
    edit_routing(
        folder,
        '<inputEntry id="rule_environment_kecamatan"><text>-</text>',
        '<inputEntry id="rule_environment_kecamatan"><text>"urgent"</text>',
    )
    assert deploy(session_factory, folder).created


def test_the_cli_refuses_in_one_line(settings, session_factory, tmp_path, monkeypatch):
    from web import cli

    folder = copy_workflows(tmp_path)
    without_rule(folder, "rule_traffic")
    env = {"LAKSA_HOME": str(settings.home), "LAKSA_DATABASE_URL": settings.database_url}
    made: list[sessionmaker[Session]] = []
    real_factory = cli._factory

    def factory(s: object) -> sessionmaker[Session]:
        made.append(real_factory(s))  # type: ignore[arg-type]
        return made[-1]

    monkeypatch.setattr(cli, "_factory", factory)
    try:
        result = CliRunner().invoke(cli.main, ["deploy", str(folder)], env=env)
    finally:
        for f in made:
            f.kw["bind"].dispose()
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert lines == [
        "Error: not deployed: routing.dmn:3: element 'routing': decision 'routing' routes no "
        "known OPD for active categories angkutan_umum, lalu_lintas, parkir_liar (add a rule, "
        "or deactivate the categories)"
    ]
    assert live_state(session_factory) == (1, 1)
