"""Stays in elements kept by every command (engine/stays.py) and the heatmap's figures read
from them (engine/heatmap.py), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from engine import heatmap
from engine import stays
from engine.models import ElementStay
from tests.engine.test_tally import Lifecycle
from tests.engine.test_tally import city

H = 3600.0
DAY = 24 * H
ALL_OF_IT = heatmap.Filters(start=date(2026, 11, 1), end=date(2027, 1, 31))


class StayLifecycle(Lifecycle):
    """Checks after every command that the kept stays equal a rebuild from the audit trail."""

    def check(self) -> None:
        super().check()
        with self.factory() as session:
            kept = stays.stored(session)
            rebuilt = stays.recount(session)
        assert kept.stays == +rebuilt.stays, f"after command {self.commands}"
        assert kept.breaches == +rebuilt.breaches, f"after command {self.commands}"


@pytest.fixture
def life(backend_factory: sessionmaker[Session]) -> StayLifecycle:
    return StayLifecycle(backend_factory)


def at(b_seconds: float) -> float:
    """What the heatmap reports for a stay of ``b_seconds``: its bucket's value."""
    return stays.bucket_value(stays.bucket(b_seconds))


def figures(
    life: Lifecycle, filters: heatmap.Filters = ALL_OF_IT
) -> dict[str, heatmap.ElementFigures]:
    with life.factory() as session:
        return heatmap.read(session, filters)


def test_the_kept_stays_equal_a_rebuild_from_the_audit_trail_after_every_command(life):
    city(life)
    assert life.commands == 23
    with life.factory() as session:
        assert sum(stays.stored(session).stays.values()) > 50


def test_rebuild_replaces_the_kept_stays_with_the_same_counts(life):
    city(life)
    with life.factory.begin() as session:
        kept = stays.stored(session)
        session.execute(ElementStay.__table__.delete())
        counted = sum(n for k, n in kept.stays.items() if k[1] == "all" and k[3] == "d")
        assert stays.rebuild_if_missing(session) == counted
    with life.factory() as session:
        assert stays.stored(session) == kept
        assert stays.rebuild_if_missing(session) == 0  # kept already: nothing to do


def test_time_in_each_waiting_element_of_a_known_city(life):
    city(life)
    f = figures(life)
    # the verifier decided after 1, 2, 3, 5 and 50 hours; the overdue ticket still waits
    assert f["verify"].passed == 5
    assert f["verify"].median_seconds == at(3 * H)
    assert f["verify"].p90_seconds == at(50 * H)
    # four tickets acknowledged an hour after routing
    assert (f["acknowledge"].passed, f["acknowledge"].median_seconds) == (4, at(H))
    # the reporter confirmed after 6 hours; the other disputed after 1 (the boundary message
    # interrupts the wait: the ticket left the element then)
    assert f["await_confirmation"].passed == 2
    assert f["await_confirmation"].median_seconds == at(H)
    assert f["await_confirmation"].p90_seconds == at(6 * H)
    # no reply for 30 days less the 7 hours until the question: the timer ended the wait
    assert f["await_reply"].passed == 1
    assert f["await_reply"].median_seconds == at(30 * DAY - 7 * H)
    assert f["reply_overdue"].passed == 1
    assert f["reply_overdue"].median_seconds == 0  # an event passes at once
    # a gateway takes no time
    assert f["verification_outcome"].median_seconds == 0
    assert f["verification_outcome"].p90_seconds == 0
    assert f["received"].passed == 6


def test_a_breach_counts_for_the_element_the_deadline_sits_on(life):
    city(life)
    f = figures(life)
    # the one verification deadline missed (the reporter's reply window is no deadline)
    assert f["verify"].breaches == 1
    assert sum(x.breaches for x in f.values()) == 1
    assert f["verification_overdue"].breaches == 0
    assert f["await_reply"].breaches == 0


def test_the_range_counts_stays_by_the_day_they_ended_in_jakarta(life):
    city(life)
    # 23-26 Nov: the breach of 27 Nov and the reply window closed in December are outside
    f = figures(life, heatmap.Filters(start=date(2026, 11, 23), end=date(2026, 11, 26)))
    assert f["verify"].passed == 5
    assert f["verify"].breaches == 0
    assert "await_reply" not in f
    only_27 = figures(life, heatmap.Filters(start=date(2026, 11, 27), end=date(2026, 11, 27)))
    assert only_27["verify"].breaches == 1
    assert only_27["verify"].passed == 0
    assert figures(life, heatmap.Filters(start=date(2025, 1, 1), end=date(2025, 12, 31))) == {}


def test_filters_by_opd_and_category(life):
    city(life)
    dlh = figures(life, heatmap.Filters(start=ALL_OF_IT.start, end=ALL_OF_IT.end, opd="dlh"))
    # three tickets of dlh acknowledged; the verifier's work happened before routing
    assert dlh["acknowledge"].passed == 3
    assert "verify" not in dlh
    before_routing = figures(
        life, heatmap.Filters(start=ALL_OF_IT.start, end=ALL_OF_IT.end, opd="")
    )
    assert before_routing["verify"].passed == 5
    roads = figures(
        life, heatmap.Filters(start=ALL_OF_IT.start, end=ALL_OF_IT.end, category="jalan_rusak")
    )
    assert roads["verify"].passed == 1  # the follow-up one (50 hours); the other still waits
    assert roads["verify"].median_seconds == at(50 * H)
    assert roads["verify"].breaches == 1
    assert roads["acknowledge"].passed == 1
    with pytest.raises(ValueError, match="not both"):
        figures(
            life,
            heatmap.Filters(
                start=ALL_OF_IT.start, end=ALL_OF_IT.end, opd="dlh", category="jalan_rusak"
            ),
        )


def test_every_stay_counts_once_in_each_dimension(life):
    city(life)
    with life.factory() as session:
        kept = stays.stored(session)
    totals = {
        d: sum(n for k, n in kept.stays.items() if k[1] == d) for d in ("all", "opd", "category")
    }
    assert totals["all"] == totals["opd"] == totals["category"] > 0


# -- the histogram ------------------------------------------------------------------------------


@pytest.mark.parametrize("seconds", [0, 59.9, 60, 61, 3600, 7 * 86400, 400 * 86400])
def test_every_stay_lies_inside_its_bucket(seconds):
    lower, upper = stays.bucket_bounds(stays.bucket(seconds))
    assert lower <= seconds < upper


def test_a_bucket_is_a_quarter_octave_so_its_value_is_within_ten_percent():
    for seconds in range(60, 40 * 86400, 997):
        value = stays.bucket_value(stays.bucket(seconds))
        assert abs(value - seconds) / seconds < 0.1


def test_quantiles_of_a_hand_made_histogram():
    assert stays.quantile([], 0.5) is None
    assert stays.quantile([(3, 0)], 0.5) is None
    assert stays.quantile([(0, 9), (20, 1)], 0.5) == 0
    assert stays.quantile([(0, 9), (20, 1)], 0.9) == 0
    assert stays.quantile([(0, 8), (20, 2)], 0.9) == stays.bucket_value(20)
    assert stays.quantile([(20, 1), (5, 1), (9, 1)], 0.5) == stays.bucket_value(9)  # any order
