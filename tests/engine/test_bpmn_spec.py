"""Deploy refuses models that break the BPMN 2.0.2 specification, every problem at once, and
parses uploaded definitions safely (no DTD, no entities, size limits).

The corpus (tests/fixtures/bpmn_spec/, written by its generate.py) has one model per broken
rule; its first comment names the section and the element deploy must name.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from engine import definition_files
from engine import definitions
from engine import demo
from engine.db import Base
from engine.db import make_engine
from engine.db import make_session_factory
from engine.models import DefinitionBundle
from engine.runtime import DefinitionError
from engine.runtime import DefinitionProblems
from engine.runtime.compile import compile_bundle
from tests.conftest import NOW
from tests.conftest import WORKFLOWS

CORPUS = Path(__file__).resolve().parent.parent / "fixtures" / "bpmn_spec"
MODELS = sorted(CORPUS.glob("*.bpmn"))
VALID = sorted((CORPUS / "valid").glob("*.bpmn"))
UNSAFE = sorted((CORPUS / "unsafe").glob("*"))
_EXPECT = re.compile(r"<!-- BPMN 2\.0\.2 §([\d.]+): .*? Expect: element '([^']+)' -->")


@pytest.fixture(scope="module")
def factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sessionmaker[Session]]:
    """One SQLite database for the whole corpus: a refused deploy leaves it unchanged."""
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('spec') / 'laksa.db'}")
    Base.metadata.create_all(engine)
    made = make_session_factory(engine)
    with made.begin() as session:
        demo.ensure_reference_data(session)
        definitions.deploy(session, definitions.read_files(WORKFLOWS), actor="test", now=NOW)
    yield made
    engine.dispose()


def deploy(factory: sessionmaker[Session], files: dict[str, str]) -> definitions.DeployResult:
    with factory.begin() as session:
        return definitions.deploy(session, files, actor="test", now=NOW)


def refused(factory: sessionmaker[Session], files: dict[str, str]) -> list[DefinitionError]:
    """Deploy must refuse with DefinitionError (any other exception fails the test)."""
    with pytest.raises(DefinitionError) as error:
        deploy(factory, files)
    problems = getattr(error.value, "problems", [error.value])
    assert problems
    assert all(isinstance(p, DefinitionError) for p in problems)
    return list(problems)


def bundles(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return int(session.scalar(select(func.count()).select_from(DefinitionBundle)) or 0)


def lines_of(text: str, element_id: str) -> set[int]:
    """The lines from an element's start tag to its last child (of any element with that id,
    for a duplicate id): where a problem about it may point."""
    root = definition_files.parse_xml(text, "model.bpmn")
    lines: set[int] = set()
    for element in root.xpath("//*[@id=$id]", id=element_id):
        lines.update(range(element.sourceline, max(e.sourceline for e in element.iter()) + 1))
    return lines


def test_the_corpus_has_at_least_sixty_models_each_naming_its_section_and_element():
    assert len(MODELS) >= 60
    for model in MODELS:
        assert _EXPECT.search(model.read_text(encoding="utf-8")), model.name


def test_the_corpus_files_are_what_generate_py_writes():
    spec = importlib.util.spec_from_file_location("bpmn_spec_corpus", CORPUS / "generate.py")
    assert spec is not None
    assert spec.loader is not None
    generate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generate)
    written = {m.name: m.read_text(encoding="utf-8") for m in MODELS}
    expected = {
        f"s{section.replace('.', '_')}__{name}.bpmn": generate.render(name)
        for name, (section, *_rest) in generate.CASES.items()
    }
    assert written == expected


@pytest.mark.parametrize("model", MODELS, ids=[m.stem for m in MODELS])
def test_each_model_breaking_the_specification_is_refused_naming_file_line_and_element(
    factory, model
):
    text = model.read_text(encoding="utf-8")
    match = _EXPECT.search(text)
    assert match is not None
    section, element_id = match.groups()
    before = bundles(factory)
    problems = refused(factory, {model.name: text})
    spec = [p for p in problems if p.message.startswith("BPMN 2.0.2 §")]
    assert len(spec) == 1, [str(p) for p in problems]  # one rule broken, no false positive
    problem = spec[0]
    assert problem.message.startswith(f"BPMN 2.0.2 §{section}: ")
    assert problem.file == model.name
    assert problem.element_id == element_id
    assert problem.line in lines_of(text, element_id)
    assert str(problem).startswith(f"{model.name}:{problem.line}: element '{element_id}':")
    assert bundles(factory) == before


@pytest.mark.parametrize("model", VALID, ids=[m.stem for m in VALID])
def test_tricky_valid_models_deploy(backend_factory, model):
    text = model.read_text(encoding="utf-8")
    if model.stem == "compensation":
        # Valid BPMN that SpiffWorkflow 3.2 cannot run (no compensation boundary events): its
        # parser refuses it, the specification checks do not.
        problems = refused(backend_factory, {model.name: text})
        assert [p.element_id for p in problems] == ["undo"]
        assert not problems[0].message.startswith("BPMN 2.0.2")
        return
    result = deploy(backend_factory, {model.name: text})
    assert result.created
    assert result.versions == {model.stem: 1}


def test_the_complaint_workflow_and_every_test_fixture_pass_the_specification_checks():
    from engine import bpmn_rules

    files = [*WORKFLOWS.glob("*.bpmn"), *CORPUS.parent.glob("*.bpmn"), *VALID]
    for file in files:
        root = definition_files.parse_xml(file.read_text(encoding="utf-8"), file.name)
        assert bpmn_rules.check_file(root, file.name, process_ids={"complaint"}) == []


def test_a_model_with_three_problems_reports_all_three(backend_factory):
    model = CORPUS / "multi" / "three_problems.bpmn"
    problems = refused(backend_factory, {model.name: model.read_text(encoding="utf-8")})
    named = {p.element_id for p in problems if p.message.startswith("BPMN 2.0.2 §")}
    assert named == {"choice", "start", "late"}
    assert all(p.file == model.name and p.line for p in problems if p.element_id in named)


def test_problems_of_several_files_and_checks_are_all_reported(factory):
    files = definitions.read_files(WORKFLOWS)
    files["complaint.bpmn"] = files["complaint.bpmn"].replace(
        'value="handle.schema.json"', 'value="nope.schema.json"'
    )
    files["forms/broken.schema.json"] = "{not json"
    bad = MODELS[0]
    files[bad.name] = bad.read_text(encoding="utf-8")
    problems = refused(factory, files)
    where = {(p.file, p.element_id) for p in problems}
    assert ("complaint.bpmn", "handle") in where  # LAKSA's form check
    assert any(p.file == "forms/broken.schema.json" for p in problems)
    assert any(p.file == bad.name and p.message.startswith("BPMN 2.0.2 §") for p in problems)


def test_definition_problems_reads_as_its_first_problem_with_the_count():
    first = DefinitionError("first", file="a.bpmn", line=3, element_id="x")
    error = DefinitionProblems([first, DefinitionError("second", file="b.bpmn")])
    assert isinstance(error, DefinitionError)
    assert (error.file, error.line, error.element_id) == ("a.bpmn", 3, "x")
    assert str(error) == "a.bpmn:3: element 'x': first (1 of 2 problems)"
    assert str(DefinitionProblems([first])) == str(first)


@pytest.mark.parametrize("file", UNSAFE, ids=[f.name for f in UNSAFE])
def test_a_dtd_or_entity_is_refused_before_any_parser_resolves_it(factory, file):
    files = definitions.read_files(WORKFLOWS)
    files[file.name] = file.read_text(encoding="utf-8")
    problems = refused(factory, files)
    assert len(problems) == 1
    assert problems[0].file == file.name
    lines = files[file.name].splitlines()
    assert problems[0].line == next(n for n, t in enumerate(lines, 1) if "<!DOCTYPE" in t)
    assert "declaration is not allowed" in problems[0].message
    assert "root:" not in str(problems[0])  # nothing of /etc/passwd


@pytest.mark.parametrize("file", UNSAFE, ids=[f.name for f in UNSAFE])
def test_the_runtime_never_hands_text_with_a_dtd_to_spiffworkflow(file):
    with pytest.raises(DefinitionError, match="declaration is not allowed"):
        compile_bundle({file.name: file.read_text(encoding="utf-8")})


def test_the_safe_parser_does_not_expand_entities_even_without_the_text_check():
    text = '<!DOCTYPE r [<!ENTITY s SYSTEM "file:///etc/passwd">]><r>&s;</r>'
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    parsed = etree.fromstring(text.encode(), parser)
    assert "root:" not in etree.tostring(parsed, encoding="unicode")
    with pytest.raises(DefinitionError, match="DOCTYPE"):
        definition_files.parse_xml(text.replace("<!DOCTYPE", "<!doctype"), "x.bpmn")


def test_an_oversized_file_is_refused_naming_it(factory):
    files = definitions.read_files(WORKFLOWS)
    padding = "x" * (definition_files.MAX_FILE_BYTES + 1)
    files["forms/huge.schema.json"] = '{"description": "' + padding + '"}'
    problems = refused(factory, files)
    assert [p.file for p in problems] == ["forms/huge.schema.json"]
    assert "at most 2.0 MB" in problems[0].message


def test_an_oversized_bundle_is_refused(factory):
    files = definitions.read_files(WORKFLOWS)
    part = "<!-- " + "y" * (definition_files.MAX_FILE_BYTES - 100) + " -->"
    for n in range(6):
        files[f"extra{n}.dmn"] = part
    problems = refused(factory, files)
    assert len(problems) == 1
    assert problems[0].file is None
    assert "at most 10.0 MB" in problems[0].message


def test_an_oversized_file_on_disk_is_refused_unread(tmp_path):
    big = tmp_path / "big.bpmn"
    big.write_bytes(b" " * (definition_files.MAX_FILE_BYTES + 1))
    with pytest.raises(DefinitionError, match="at most") as error:
        definitions.read_files(tmp_path)
    assert error.value.file == "big.bpmn"


def test_an_already_deployed_bundle_still_loads_without_the_specification_checks():
    model = CORPUS / "s10_5_2__task_never_reached.bpmn"
    files = {model.name: model.read_text(encoding="utf-8")}
    with pytest.raises(DefinitionProblems):
        definitions.compile_files(files)
    bundle = definitions.compile_files(files, check_spec=False)
    assert set(bundle.processes) == {"proc"}
