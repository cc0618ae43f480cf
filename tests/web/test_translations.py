"""The English catalog: every string of web/ translated, placeholders kept, the switch works.

The pages' message ids are Indonesian; web/translations/en/LC_MESSAGES/messages.po holds the
English. When a test below names missing strings: ``make messages``, translate them, then
``make translations``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask.testing import FlaskClient

from engine.settings import REPO_ROOT

WEB = REPO_ROOT / "web"
BABEL_CFG = WEB / "babel.cfg"
PO = WEB / "translations" / "en" / "LC_MESSAGES" / "messages.po"
MO = PO.with_suffix(".mo")
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None}  # as `pybabel extract -k _l` (see the Makefile)

# A %-placeholder: "%(name)s", "%(num)d", "%(days).1f", or a positional "%s"; "%%" is a literal.
PLACEHOLDER = re.compile(r"%(?:\([^)]*\))?[#0 +-]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[hlL]?[a-zA-Z%]")

Key = tuple[str, str | None]  # (msgid, msgctxt)


def placeholders(text: str) -> set[str]:
    return {p for p in PLACEHOLDER.findall(text) if p != "%%"}


def read_catalog() -> Catalog:
    with PO.open("rb") as f:
        return read_po(f, locale="en")


def extracted() -> dict[Key, list[str]]:
    """The messages of web/ by (msgid, context), each with where it is used."""
    with BABEL_CFG.open(encoding="utf-8") as f:
        method_map, options_map = parse_mapping_cfg(f, str(BABEL_CFG))
    found: dict[Key, list[str]] = {}
    for filename, lineno, message, _comments, context in extract_from_dir(
        str(WEB), method_map, options_map, keywords=KEYWORDS
    ):
        msgid = message[0] if isinstance(message, tuple | list) else message
        if msgid:
            found.setdefault((msgid, context), []).append(f"web/{filename}:{lineno}")
    return found


def test_extraction_finds_the_pages_strings() -> None:
    messages = extracted()
    # One from each kind of source: Python gettext, a lazy form label, a template, ngettext.
    for msgid in ("hari ini", "Pengaduan", "Laporkan sekarang", "terlambat %(num)d hari"):
        assert (msgid, None) in messages, msgid


def test_every_string_has_an_english_translation() -> None:
    catalog = read_catalog()
    missing = []
    for (msgid, context), where in sorted(extracted().items(), key=lambda i: i[1][0]):
        entry = catalog.get(msgid, context)
        if entry is None:
            missing.append(f"{where[0]}: {msgid!r} is not in the catalog")
            continue
        forms = entry.string if isinstance(entry.string, tuple | list) else (entry.string,)
        if entry.fuzzy:
            missing.append(f"{where[0]}: {msgid!r} is marked fuzzy")
        elif not all(form and form.strip() for form in forms):
            missing.append(f"{where[0]}: {msgid!r} has no English")
    assert not missing, (
        f"{len(missing)} string(s) of web/ lack English in {PO} "
        "(run `make messages`, translate, `make translations`):\n" + "\n".join(missing)
    )


def test_translations_keep_the_placeholders() -> None:
    wrong = []
    for entry in read_catalog():
        if not entry.id:
            continue  # the header
        ids = entry.id if isinstance(entry.id, tuple | list) else (entry.id,)
        forms = entry.string if isinstance(entry.string, tuple | list) else (entry.string,)
        for index, form in enumerate(forms):
            if not form:
                continue  # reported by the test above
            source = ids[min(index, len(ids) - 1)]  # msgstr[0] ~ msgid, the rest ~ msgid_plural
            if placeholders(form) != placeholders(source):
                wrong.append(
                    f"{source!r}: {sorted(placeholders(source))} but "
                    f"msgstr[{index}] {form!r} has {sorted(placeholders(form))}"
                )
    assert not wrong, "placeholders differ:\n" + "\n".join(wrong)


def test_placeholder_pattern() -> None:
    assert placeholders("%(name)s is %(mb)d MB, %(days).1f, %s, 100%%") == {
        "%(name)s",
        "%(mb)d",
        "%(days).1f",
        "%s",
    }


@pytest.fixture(scope="session")
def compiled_catalog() -> Path:
    """The .mo Flask-Babel reads (``make translations`` builds it before the tests); compiled
    here when it is missing or older than the .po, so the tests do not depend on make."""
    if not MO.exists() or MO.stat().st_mtime < PO.stat().st_mtime:
        catalog = read_catalog()
        tmp = MO.with_name(f".messages-{os.getpid()}.mo")  # then renamed: never half-written
        try:
            with tmp.open("wb") as f:
                write_mo(f, catalog)
            tmp.replace(MO)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    return MO


@pytest.mark.usefixtures("compiled_catalog")
def test_home_in_english_on_request(client: FlaskClient) -> None:
    page = client.get("/?lang=en")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert '<html lang="en">' in html
    assert "Report" in html
    assert "Laporkan sekarang" not in html


@pytest.mark.usefixtures("compiled_catalog")
def test_home_in_indonesian_by_default(client: FlaskClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert '<html lang="id">' in html
    assert "Laporkan sekarang" in html


@pytest.mark.usefixtures("compiled_catalog")
def test_language_switch_sets_cookie_and_goes_back(client: FlaskClient) -> None:
    response = client.get("/bahasa/en?next=/statistik")
    assert response.status_code in (302, 303)
    location = urlsplit(response.headers["Location"])
    assert (location.scheme, location.netloc, location.path) in (
        ("", "", "/statistik"),
        ("http", "localhost", "/statistik"),
    )
    cookie = client.get_cookie("lang")
    assert cookie is not None
    assert cookie.value == "en"
    # The choice sticks: later pages are in English without ?lang=.
    html = client.get("/").get_data(as_text=True)
    assert "Laporkan sekarang" not in html
    assert "Report" in html


@pytest.mark.parametrize(
    "target",
    ["https://evil.example/", "//evil.example/", "evil.example", "https:/evil.example"],
)
def test_language_switch_never_leaves_the_site(client: FlaskClient, target: str) -> None:
    response = client.get("/bahasa/en", query_string={"next": target})
    assert response.status_code in (302, 303)
    location = urlsplit(response.headers["Location"])
    assert "evil" not in response.headers["Location"]
    assert location.path == "/"
    assert location.netloc in ("", "localhost")
