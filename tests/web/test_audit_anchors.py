"""``/jejak-audit``: the published audit anchors for everyone, as a page and as JSON."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import timedelta

from engine import anchors
from engine.models import AuditAnchor
from tests.conftest import NOW
from tests.factories import submit
from tests.web.pages import links
from tests.web.pages import text


def publish(session_factory, days: int) -> list[AuditAnchor]:
    """An anchor on each of ``days`` consecutive days, a new ticket before each."""
    made = []
    for n in range(days):
        submit(session_factory, now=NOW + timedelta(days=n))
        made.append(anchors.anchor_today(session_factory, now=NOW + timedelta(days=n)).anchor)
    return made


def hashes_on(page: str) -> list[str]:
    return re.findall(r'<code class="hash">([0-9a-f]{64})</code>', page)


def test_the_page_without_anchors_explains_and_says_none_yet(client):
    response = client.get("/jejak-audit")
    assert response.status_code == 200
    page = text(response)
    assert "Apa yang dibuktikan" in page
    assert "Belum ada jangkar yang diterbitkan." in page
    assert "/jejak-audit.json" in links(page)


def test_the_page_lists_anchors_newest_first_without_signing_in(client, session_factory):
    first, second = publish(session_factory, 2)
    page = text(client.get("/jejak-audit"))
    shown = hashes_on(page)
    # newest first: its root, its hash, then the previous hash (the first anchor's)
    assert shown == [second.root, second.hash, first.hash, first.root, first.hash]
    assert "(jangkar pertama)" in page
    assert "Selasa, 24 November 2026" in page  # the Jakarta day, in Indonesian
    assert page.index("Selasa, 24 November 2026") < page.index("Senin, 23 November 2026")


def test_the_page_goes_back_thirty_anchors_at_a_time_without_overlap(client, session_factory):
    made = publish(session_factory, 33)
    page = text(client.get("/jejak-audit"))
    assert page.count('<li class="anchor">') == 30
    older = [u for u in links(page) if "sebelum=" in u]
    assert len(older) == 1
    rest = text(client.get(older[0]))
    assert rest.count('<li class="anchor">') == 3
    seen = [h for h in hashes_on(page) + hashes_on(rest) if h in {a.hash for a in made}]
    assert {a.hash for a in made} <= set(seen)
    assert not [u for u in links(rest) if "sebelum=" in u]


def test_a_meaningless_cursor_shows_the_first_page(client, session_factory):
    publish(session_factory, 1)
    for cursor in ("abc", "-1", "0", "99999999999999999999"):
        response = client.get(f"/jejak-audit?sebelum={cursor}")
        assert response.status_code == 200
        assert '<li class="anchor">' in text(response)


def test_the_json_gives_every_anchor_and_each_hash_can_be_recomputed_from_it(
    client, session_factory
):
    made = publish(session_factory, 3)
    body = client.get("/jejak-audit.json").get_json()
    listed = body["anchors"]
    assert [a["hash"] for a in listed] == [a.hash for a in reversed(made)]
    prev = body["genesis"]
    for a in reversed(listed):  # oldest first, as an archivist would check them
        assert a["prev_hash"] == prev
        fields = [a["day"], a["created_at"], a["last_event_id"], a["chains"], a["root"]]
        encoded = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert hashlib.sha256((prev + encoded).encode()).hexdigest() == a["hash"]
        prev = a["hash"]
    assert listed[0]["chains"] == 3


def test_the_page_is_in_english_on_the_switch_and_linked_from_every_footer(client):
    home = text(client.get("/"))
    assert "/jejak-audit" in links(home)
    client.get("/bahasa/en")
    page = text(client.get("/jejak-audit"))
    assert "What it proves" in page
    assert "No anchor has been published yet." in page
