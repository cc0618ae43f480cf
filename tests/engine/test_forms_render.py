"""Each deployed form schema read as a form (engine.forms.form_of) and its errors named per field
(engine.forms.problems): what the task page and GET /api/v1/tasks/{id} render."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import pytest

from engine import definitions
from engine import forms
from engine.errors import InvalidInput
from engine.settings import REPO_ROOT


@functools.cache
def deployed() -> Mapping[str, dict[str, Any]]:
    """The form schemas of the bundle workflows/ deploys."""
    return definitions.compile_files(definitions.read_files(REPO_ROOT / "workflows")).forms


FORMS = sorted(deployed())


def field(form: forms.Form, name: str) -> forms.FormField:
    (found,) = [f for f in form.fields if f.name == name]
    return found


def form(name: str, lang: str = "id") -> forms.Form:
    return forms.form_of(name, deployed()[name], lang)


def test_the_bundle_has_the_eight_forms():
    assert FORMS == [
        "acknowledge.schema.json",
        "acknowledge_reopened.schema.json",
        "after_photo.schema.json",
        "follow_up.schema.json",
        "handle.schema.json",
        "review.schema.json",
        "route.schema.json",
        "verify.schema.json",
    ]


@pytest.mark.parametrize("name", FORMS)
def test_every_form_has_a_title_in_both_languages(name):
    indonesian, english = form(name, "id"), form(name, "en")
    assert indonesian.name == english.name == name
    assert indonesian.title
    assert english.title
    assert indonesian.title != english.title
    assert name not in (indonesian.title, english.title)
    assert indonesian.description
    assert english.description


@pytest.mark.parametrize("name", FORMS)
def test_every_field_has_a_label_in_both_languages(name):
    schema = deployed()[name]
    indonesian, english = form(name, "id"), form(name, "en")
    assert [f.name for f in indonesian.fields] == list(schema["properties"])
    assert [f.name for f in english.fields] == list(schema["properties"])
    for id_field, en_field in zip(indonesian.fields, english.fields, strict=True):
        assert id_field.title.strip(), f"{name}: {id_field.name} has no Indonesian label"
        assert en_field.title.strip(), f"{name}: {en_field.name} has no English label"
        assert en_field.title != en_field.name
        assert id_field.title != id_field.name
        assert id_field.title == schema["properties"][id_field.name]["x-laksa-title"]["id"]
        assert en_field.title == schema["properties"][en_field.name]["x-laksa-title"]["en"]
        assert id_field.description
        assert en_field.description


@pytest.mark.parametrize("name", FORMS)
def test_every_choice_has_a_label_in_both_languages(name):
    schema = deployed()[name]
    for lang in ("id", "en"):
        for f in form(name, lang).fields:
            enum = schema["properties"][f.name].get("enum")
            if enum is None:
                assert f.options == []
                continue
            assert f.widget == "choice"
            assert [o.value for o in f.options] == enum
            labels = schema["properties"][f.name]["x-laksa-options"]
            for option in f.options:
                assert option.title != option.value, f"{name}: {f.name}={option.value}"
                assert option.title == labels[option.value]["title"][lang]
                assert option.description


def test_english_and_indonesian_choices_differ():
    decision = field(form("verify.schema.json", "id"), "decision")
    english = field(form("verify.schema.json", "en"), "decision")
    titles = {o.value: o.title for o in decision.options}
    assert titles["duplicate"] == "Duplikat laporan lain"
    assert {o.value: o.title for o in english.options}["duplicate"] == (
        "Duplicate of another report"
    )


def test_the_verify_form():
    verify = form("verify.schema.json")
    assert verify.title == "Verifikasi laporan"
    assert form("verify.schema.json", "en").title == "Verify the complaint"
    decision = field(verify, "decision")
    assert (decision.widget, decision.required, decision.shown_when) == ("choice", True, {})
    duplicate_of = field(verify, "duplicate_of")
    assert duplicate_of.widget == "ticket"
    assert duplicate_of.required is False
    assert duplicate_of.shown_when == duplicate_of.required_when == {"decision": ["duplicate"]}
    assert duplicate_of.pattern == "^LK-[0-9A-HJKMNP-TV-Z]{8}$"
    reason = field(verify, "reason")
    assert (
        reason.shown_when == reason.required_when == {"decision": ["reject", "not_our_authority"]}
    )
    assert (reason.min_length, reason.max_length) == (3, 2000)  # the branch tightens it
    assert reason.widget == "textarea"


def test_the_handle_form():
    handle = form("handle.schema.json")
    assert handle.title == "Tangani laporan"
    question = field(handle, "question")
    assert question.shown_when == {"decision": ["need_info"]}
    assert question.required_when == {"decision": ["need_info"]}
    assert question.required is False
    assert question.min_length == 3
    after = field(handle, "after_photo")
    assert (after.widget, after.attachment) == ("photo", "after")
    assert after.shown_when == {"decision": ["resolve"]}
    assert after.required_when == {}  # optional: infrastructure adds a task for it instead
    days = field(handle, "follow_up_days")
    assert (days.widget, days.minimum, days.maximum) == ("integer", 1, 120)
    assert days.required_when == {"decision": ["follow_up"]}
    resolution = field(handle, "resolution")
    assert (resolution.widget, resolution.min_length, resolution.max_length) == (
        "textarea",
        3,
        4000,
    )
    assert resolution.required_when == {"decision": ["resolve"]}
    assert [o.value for o in field(handle, "decision").options] == [
        "resolve",
        "need_info",
        "follow_up",
        "wrongly_routed",
    ]


def test_the_after_photo_form_requires_its_photo_always():
    after = field(form("after_photo.schema.json"), "after_photo")
    assert (after.widget, after.attachment, after.required) == ("photo", "after", True)
    assert after.shown_when == {}


def test_widgets_follow_the_schema_kinds():
    assert forms.form_of("x", {"properties": {"flag": {"type": "boolean"}}}, "id").fields[
        0
    ].widget == ("boolean")
    fields = forms.form_of(
        "x",
        {
            "title": "Plain",
            "properties": {
                "short": {"type": "string", "maxLength": 200},
                "long": {"type": "string", "maxLength": 201},
                "n": {"type": "integer"},
                "bare": {"type": "string"},
            },
        },
        "en",
    )
    assert fields.title == "Plain"
    assert fields.description is None
    assert [(f.name, f.widget, f.title) for f in fields.fields] == [
        ("short", "text", "short"),
        ("long", "textarea", "long"),
        ("n", "integer", "n"),
        ("bare", "text", "bare"),
    ]


# -- problems -----------------------------------------------------------------------------------


def kinds(name: str, data: dict[str, Any]) -> list[tuple[str, str]]:
    return [(p.field, p.kind) for p in forms.problems(deployed()[name], data)]


def test_an_empty_handle_form_misses_its_decision():
    assert kinds("handle.schema.json", {}) == [("decision", "required")]


def test_asking_the_reporter_needs_a_question():
    assert kinds("handle.schema.json", {"decision": "need_info"}) == [("question", "required")]
    problems = forms.problems(
        deployed()["handle.schema.json"], {"decision": "need_info", "question": "ab"}
    )
    assert [(p.field, p.kind, p.limit) for p in problems] == [("question", "minLength", 3)]
    assert kinds("handle.schema.json", {"decision": "need_info", "question": "Di mana?"}) == []


def test_each_decision_needs_its_own_fields():
    assert kinds("handle.schema.json", {"decision": "resolve"}) == [("resolution", "required")]
    assert kinds("handle.schema.json", {"decision": "wrongly_routed"}) == [
        ("handback_reason", "required")
    ]
    assert kinds("verify.schema.json", {"decision": "duplicate"}) == [("duplicate_of", "required")]
    assert kinds("verify.schema.json", {"decision": "route"}) == []


def test_every_missing_required_field_is_named():
    # follow_up requires follow_up_reason and follow_up_days: both are missing.
    assert sorted(kinds("handle.schema.json", {"decision": "follow_up"})) == [
        ("follow_up_days", "required"),
        ("follow_up_reason", "required"),
    ]


def test_validated_names_every_missing_required_field():
    with pytest.raises(forms.FormInvalid) as refused:
        forms.validated(deployed()["handle.schema.json"], {"decision": "follow_up"})
    assert set(refused.value.fields) == {"follow_up_reason", "follow_up_days"}


def test_problems_name_the_broken_keyword_and_its_limit():
    handle = deployed()["handle.schema.json"]
    found = forms.problems(
        handle, {"decision": "follow_up", "follow_up_reason": "anggaran", "follow_up_days": 121}
    )
    assert [(p.field, p.kind, p.limit) for p in found] == [("follow_up_days", "maximum", 120)]
    assert kinds("handle.schema.json", {"decision": "bogus"}) == [("decision", "enum")]
    assert kinds("verify.schema.json", {"decision": "duplicate", "duplicate_of": "X"}) == [
        ("duplicate_of", "pattern")
    ]
    assert kinds("handle.schema.json", {"decision": "resolve", "resolution": 5}) == [
        ("resolution", "type")
    ]
    assert kinds("handle.schema.json", {"decision": "route", "extra": 1})[0] == (
        "extra",
        "unexpected",
    )


def test_validated_raises_with_the_same_problems():
    handle = deployed()["handle.schema.json"]
    with pytest.raises(forms.FormInvalid) as refused:
        forms.validated(handle, {"decision": "need_info"})
    assert set(refused.value.fields) == {"question"}
    assert refused.value.problems == forms.problems(handle, {"decision": "need_info"})
    assert isinstance(refused.value, InvalidInput)
    data = {"decision": "need_info", "question": "Di mana?"}
    assert forms.validated(handle, data) == data


def test_a_task_without_a_form_takes_no_data():
    assert forms.validated(None, {}) == {}
    with pytest.raises(InvalidInput) as refused:
        forms.validated(None, {"note": "x"})
    assert set(refused.value.fields) == {"note"}


def test_field_title_falls_back_to_title_then_name():
    verify = deployed()["verify.schema.json"]
    assert forms.field_title(verify, "duplicate_of", "en") == "Number of the original report"
    assert forms.field_title(verify, "duplicate_of", "id") == "Nomor laporan asli"
    assert forms.field_title(verify, "duplicate_of", "fr") == "Original ticket number"
    assert forms.field_title(verify, "nothing", "id") == "nothing"
    assert forms.field_title(None, "nothing", "id") == "nothing"
