"""/audit/heatmap and /audit/heatmap.csv through the test client: who may see them, the
filters, the numbers in the table and the CSV, escaping."""

from __future__ import annotations

import csv
import html
import io
import json
import re
from dataclasses import replace
from datetime import UTC
from datetime import datetime
from datetime import timedelta

import pytest

from engine import definitions
from engine import stays
from engine.calendar import JAKARTA
from engine.identity import create_user
from engine.models import Category
from tests.conftest import NOW
from tests.conftest import WORKFLOWS
from tests.factories import ROAD
from tests.factories import complete
from tests.factories import submit
from tests.web.officer_helpers import is_sign_in_redirect
from tests.web.officer_helpers import page
from tests.web.officer_helpers import signed_in_client

H = timedelta(hours=1)
RANGE = "dari=2026-11-01&sampai=2026-11-30"


def make_user(factory, username: str, role: str) -> None:
    with factory.begin() as session:
        create_user(
            session,
            username=username,
            password=f"password-{username}",
            role=role,
            groups=[],
            now=NOW,
        )


@pytest.fixture
def city(session_factory, actors):
    """Three road tickets verified after 1, 2 and 4 hours; one sampah ticket still waiting."""
    for hours in (1, 2, 4):
        number = submit(session_factory)
        complete(
            session_factory,
            actors["verifikator"],
            number,
            {"decision": "route"},
            now=NOW + hours * H,
        )
    submit(session_factory, replace(ROAD, category="sampah"))
    return session_factory


@pytest.fixture
def auditor(app, session_factory):
    make_user(session_factory, "auditor1", "auditor")
    return signed_in_client(app, "auditor1")


def hours(h: float) -> str:
    """How the page writes the value of the bucket of ``h`` hours (in Indonesian)."""
    value = stays.bucket_value(stays.bucket(h * 3600)) / 3600
    return f"{value:.1f}".rstrip("0").rstrip(".").replace(".", ",") + " jam"


def rows_of(text: str) -> dict[str, list[str]]:
    """The table's rows by element id: [name, passed, median, p90, breaches]."""
    found = {}
    for row in re.findall(r"<tr>\s*<th scope=\"row\">(.*?)</tr>", text, re.S):
        element = re.search(r'<small class="element-id">([^<]*)</small>', row)
        cells = [
            html.unescape(re.sub(r"<[^>]+>", "", c)).strip()
            for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        ]
        name = re.sub(r"<[^>]+>", "", row.split("<small")[0]).strip()
        assert element is not None
        found[element.group(1)] = [name, *cells]
    return found


@pytest.mark.parametrize("role", ["auditor", "supervisor", "designer", "admin"])
def test_the_roles_that_oversee_the_lifecycle_see_the_heatmap(app, session_factory, role):
    make_user(session_factory, f"u_{role}", role)
    client = signed_in_client(app, f"u_{role}")
    assert client.get("/audit/heatmap").status_code == 200
    assert client.get("/audit/heatmap.csv").status_code == 200


@pytest.mark.parametrize("username", ["verifikator", "petugas_dpupr", "kepala_dpupr"])
def test_other_roles_get_403(app, username):
    client = signed_in_client(app, username)
    assert client.get("/audit/heatmap").status_code == 403
    assert client.get("/audit/heatmap.csv").status_code == 403


def test_the_public_is_sent_to_sign_in(client):
    assert is_sign_in_redirect(client.get("/audit/heatmap"))
    assert is_sign_in_redirect(client.get("/audit/heatmap.csv"))


def test_the_table_shows_passes_medians_and_the_element_names(city, auditor):
    text = page(auditor.get(f"/audit/heatmap?{RANGE}"))
    rows = rows_of(text)
    name, passed, median, p90, breaches = rows["verify"]
    assert name == "Verify complaint"
    assert passed == "3"
    assert median == hours(2)  # 1, 2 and 4 hours: the value of 2 hours' bucket
    assert p90 == hours(4)
    assert breaches == "0"
    assert rows["received"][1] == "4"
    assert rows["received"][2] == "< 1 menit"


def test_the_diagram_data_carries_the_deployed_bpmn_and_each_elements_numbers(city, auditor):
    text = page(auditor.get(f"/audit/heatmap?{RANGE}"))
    raw = re.search(r'<script type="application/json" id="heatmap-data">(.*?)</script>', text, re.S)
    assert raw is not None
    data = json.loads(raw.group(1))
    assert 'id="complaint"' in data["xml"]
    verify = data["elements"]["verify"]
    assert verify["passed"] == 3
    assert verify["median"] == stays.bucket_value(stays.bucket(2 * 3600))
    assert verify["level"] == 2  # between one and eight hours
    assert data["elements"]["received"]["level"] == 0
    assert "/static/heatmap.js" in text
    assert "/static/vendor/bpmn-js/bpmn-navigated-viewer.js" in text


def test_filters_narrow_the_numbers(city, auditor):
    roads = rows_of(page(auditor.get(f"/audit/heatmap?{RANGE}&kategori=jalan_rusak")))
    assert roads["received"][1] == "3"
    rubbish = rows_of(page(auditor.get(f"/audit/heatmap?{RANGE}&kategori=sampah")))
    assert rubbish["received"][1] == "1"
    assert "verify" not in rubbish
    desk = rows_of(page(auditor.get(f"/audit/heatmap?{RANGE}&opd=-")))
    assert desk["verify"][1] == "3"
    dpupr = rows_of(page(auditor.get(f"/audit/heatmap?{RANGE}&opd=dpupr")))
    assert "verify" not in dpupr  # verified before it reached the OPD
    assert dpupr["ack_clock_started"][1] == "3"
    empty = page(auditor.get("/audit/heatmap?dari=2025-01-01&sampai=2025-12-31"))
    assert rows_of(empty) == {}
    assert "Tidak ada laporan" in empty


def test_the_default_range_is_the_year_up_to_today(auditor):
    text = page(auditor.get("/audit/heatmap"))
    today = datetime.now(UTC).astimezone(JAKARTA).date()
    assert f'value="{today.isoformat()}"' in text
    assert f'value="{(today - timedelta(days=364)).isoformat()}"' in text


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("dari=kemarin", "dari"),
        ("sampai=2026-02-30", "sampai"),
        ("dari=2026-12-01&sampai=2026-11-01", "dari"),
        ("dari=2000-01-01&sampai=2026-11-01", "dari"),
        ("opd=tidak_ada", "opd"),
        ("kategori=%3Cscript%3E", "kategori"),
        ("opd=dpupr&kategori=jalan_rusak", "kategori"),
    ],
)
def test_a_bad_filter_is_a_400_naming_the_field(auditor, query, field):
    response = auditor.get(f"/audit/heatmap?{query}")
    assert response.status_code == 400
    text = page(response)
    assert f'href="#{field}"' in text
    assert f'id="{field}-error"' in text
    assert "<script>" not in text
    csv_response = auditor.get(f"/audit/heatmap.csv?{query}")
    assert csv_response.status_code == 400
    assert field in csv_response.get_data(as_text=True)


def test_the_csv_has_the_same_numbers_with_the_same_filters(city, auditor):
    response = auditor.get(f"/audit/heatmap.csv?{RANGE}&kategori=jalan_rusak")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    by_id = {r["element_id"]: r for r in rows}
    verify = by_id["verify"]
    assert verify["element_name"] == "Verify complaint"
    assert verify["passed"] == "3"
    assert verify["median_seconds"] == str(round(stays.bucket_value(stays.bucket(2 * 3600))))
    assert verify["p90_seconds"] == str(round(stays.bucket_value(stays.bucket(4 * 3600))))
    assert verify["breaches"] == "0"
    assert by_id["received"]["passed"] == "3"  # the sampah ticket is filtered out
    # the page links to the CSV with the same filters
    text = page(auditor.get(f"/audit/heatmap?{RANGE}&kategori=jalan_rusak"))
    link = re.search(r'href="(/audit/heatmap\.csv\?[^"]*)"', text)
    assert link is not None
    assert sorted(html.unescape(link.group(1)).split("?")[1].split("&")) == [
        "dari=2026-11-01",
        "kategori=jalan_rusak",
        "sampai=2026-11-30",
    ]


def test_a_breach_shows_in_the_table_and_the_csv(city, auditor, session_factory):
    from tests.web.officer_helpers import fire_timers

    number = submit(session_factory)
    fire_timers(session_factory, number, now=NOW + timedelta(days=4))
    rows = rows_of(page(auditor.get(f"/audit/heatmap?{RANGE}")))
    assert rows["verify"][4] == "1"
    csv_rows = list(
        csv.DictReader(io.StringIO(auditor.get(f"/audit/heatmap.csv?{RANGE}").get_data(True)))
    )
    assert {r["element_id"]: r["breaches"] for r in csv_rows}["verify"] == "1"


def test_names_from_the_deployed_diagram_and_the_city_are_escaped(auditor, session_factory, actors):
    hostile = "<script>alert(1)</script>"
    with session_factory.begin() as session:
        session.add(Category(code="usil", name=hostile, infrastructure=False, active=False))
        files = definitions.read_files(WORKFLOWS)
        files = {
            k: v.replace('name="Verify complaint"', 'name="Verify &lt;/script&gt;&lt;b&gt;x"')
            for k, v in files.items()
        }
        definitions.deploy(session, files, actor="test", now=NOW)
    number = submit(session_factory)
    complete(session_factory, actors["verifikator"], number, {"decision": "route"}, now=NOW + H)
    response = auditor.get(f"/audit/heatmap?{RANGE}")
    text = page(response)
    assert hostile not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "<b>x" not in text
    assert "Verify &lt;/script&gt;&lt;b&gt;x" in text
    # the JSON block ends where it should: nothing in the data closes it early
    block = text.split('id="heatmap-data">', 1)[1].split("</script>", 1)[0]
    assert json.loads(block)["elements"]["verify"]["passed"] == 1
    csv_text = auditor.get(f"/audit/heatmap.csv?{RANGE}").get_data(as_text=True)
    assert "Verify </script><b>x" in csv_text  # CSV is data, not a page


def test_a_csv_cell_that_looks_like_a_formula_is_defused():
    from web.auditor.heatmap import _cell

    assert _cell("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert _cell("Verify") == "Verify"


def test_the_page_in_english(city, auditor):
    auditor.get("/bahasa/en")
    text = page(auditor.get(f"/audit/heatmap?{RANGE}"))
    assert "Heatmap of the complaint lifecycle" in text
    assert "2 hours" in text
