"""The supervisors' read side (engine/oversight.py) on SQLite and PostgreSQL: the OPD table
and the trends read the kept counts, overdue tasks the task projection's index."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from engine import oversight
from tests.conftest import NOW
from tests.engine.test_tally import DPUPR
from tests.engine.test_tally import VERIFIER
from tests.engine.test_tally import Lifecycle

OCTOBER = NOW - timedelta(days=40)  # 2026-10-14


def small_city(factory: sessionmaker[Session]) -> dict[str, str]:
    life = Lifecycle(factory)
    tickets = {
        "october_road": life.submit(now=OCTOBER, kecamatan="Karawaci"),
        "november_road": life.submit(now=NOW, kecamatan="Karawaci"),
        "november_rubbish": life.submit(now=NOW, category="sampah", kecamatan="Cipondoh"),
    }
    life.complete(tickets["october_road"], VERIFIER, {"decision": "route"}, now=OCTOBER)
    life.complete(
        tickets["october_road"],
        DPUPR,
        {"decision": "accept", "complexity": "simple"},
        now=OCTOBER,
    )
    return tickets


def test_trends_per_month_category_kecamatan_and_opd(backend_factory):
    small_city(backend_factory)
    with backend_factory() as session:
        city = oversight.trend(session, first="2026-09", last="2026-11")
        assert [(m, f.received) for m, f in city.months] == [
            ("2026-09", 0),
            ("2026-10", 1),
            ("2026-11", 2),
        ]
        assert city.total.received == 3
        assert {k: f.received for k, f in city.by_category.items()} == {
            "jalan_rusak": 2,
            "sampah": 1,
        }
        assert {k: f.received for k, f in city.by_kecamatan.items()} == {
            "Karawaci": 2,
            "Cipondoh": 1,
        }
        road = oversight.trend(session, first="2026-10", last="2026-11", category="jalan_rusak")
        assert [f.received for _, f in road.months] == [1, 1]
        cipondoh = oversight.trend(session, first="2026-10", last="2026-11", kecamatan="Cipondoh")
        assert [f.received for _, f in cipondoh.months] == [0, 1]
        dpupr = oversight.trend(
            session, first="2026-10", last="2026-11", opds=frozenset({"dpupr"}), breakdowns=False
        )
        assert [f.received for _, f in dpupr.months] == [1, 0]
        assert dpupr.by_category == {}
        november = oversight.trend(session, first="2026-11", last="2026-11")
        assert {k: f.received for k, f in november.by_category.items()} == {
            "jalan_rusak": 1,
            "sampah": 1,
        }


def test_the_opd_table_and_overdue_tasks(backend_factory):
    tickets = small_city(backend_factory)
    with backend_factory() as session:
        table = oversight.opd_table(session, None, known=["dpupr", "dlh"])
        assert {k: (f.received, f.open) for k, f in table.rows.items()} == {
            "": (2, 2),
            "dpupr": (1, 1),
            "dlh": (0, 0),
        }
        assert table.total.received == 3
        head = oversight.opd_table(session, frozenset({"dpupr"}), known=["dpupr", "dlh"])
        assert list(head.rows) == ["dpupr"]
        groups = oversight.task_groups(session, None)
        assert groups == ["dpupr", "verifier"]
        assert oversight.task_groups(session, frozenset({"dpupr"})) == ["dpupr"]
        late = NOW + timedelta(days=30)  # every deadline has passed
        assert oversight.overdue_counts(session, groups, now=late) == {"dpupr": 1, "verifier": 2}
        rows, more = oversight.overdue_page(session, groups, now=late, limit=2)
        assert [r.ticket for r in rows] == [tickets["october_road"], tickets["november_road"]]
        assert more is not None
        assert oversight.overdue_page(session, [], now=late) == ([], None)


def test_months_and_sorting():
    assert oversight.parse_month("2026-02") == "2026-02"
    assert oversight.parse_month("2026-13") is None
    assert oversight.parse_month("26-01") is None
    assert oversight.shift("2026-01", -1) == "2025-12"
    assert oversight.shift("2025-12", 1) == "2026-01"
    assert oversight.months_between("2025-11", "2026-02") == [
        "2025-11",
        "2025-12",
        "2026-01",
        "2026-02",
    ]
    assert oversight.months_between("2026-02", "2026-01") == []
