"""The reporter's capability (rule 12), nearby tickets, followers and ratings (engine/reporter.py).

The private link's secret is handed out once at submission; only its SHA-256 is kept on the
ticket, and the one other copy is the undelivered e-mail in the outbox, erased once sent.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import math
import zlib
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from engine import notify
from engine import outbox
from engine import reporter
from engine import ticket_view
from engine.db import Base
from engine.errors import Conflict
from engine.errors import InvalidInput
from engine.errors import NotFound
from engine.identity import Actor
from engine.models import Follower
from engine.models import OutboxMessage
from engine.models import Rating
from engine.models import Ticket
from engine.models import TicketUpdate
from tests.conftest import NOW
from tests.factories import ROAD
from tests.factories import complete
from tests.factories import submit
from tests.factories import submit_with_secret

CONTACT = "budi@example.org"
FOLLOWER = "siti@example.org"
SAMPAH = replace(ROAD, category="sampah", title="Sampah menumpuk", description="Tiga hari")
# A point in Kota Tangerang and the metres per degree there.
LAT, LON = -6.1783, 106.6319
M_PER_DEG_LAT = 6_371_000.0 * math.pi / 180
M_PER_DEG_LON = M_PER_DEG_LAT * math.cos(math.radians(LAT))
NEED_INFO = {"decision": "need_info", "question": "Di depan rumah nomor berapa?"}


class Recording:
    """A sender that keeps the messages it was given."""

    name = "recording"

    def __init__(self) -> None:
        self.messages: list[outbox.Message] = []

    def send(self, message: outbox.Message) -> None:
        self.messages.append(message)


# -- helpers ----------------------------------------------------------------------------------


def at(north_m: float = 0.0, east_m: float = 0.0) -> dict[str, float]:
    return {"latitude": LAT + north_m / M_PER_DEG_LAT, "longitude": LON + east_m / M_PER_DEG_LON}


def every_value(session: Session) -> dict[str, list[str]]:
    """Every column of every row of every table as text (compressed state decompressed)."""
    found: dict[str, list[str]] = {}
    for table in Base.metadata.sorted_tables:
        texts = []
        for row in session.execute(select(table)).all():
            for value in row:
                if isinstance(value, bytes):
                    with contextlib.suppress(zlib.error):
                        value = zlib.decompress(value)
                    texts.append(value.decode("utf-8", "replace"))
                elif isinstance(value, dict | list):
                    texts.append(json.dumps(value))
                else:
                    texts.append(str(value))
        found[table.name] = texts
    return found


def tables_holding(session: Session, needle: str) -> dict[str, int]:
    return {
        name: sum(needle in text for text in texts)
        for name, texts in every_value(session).items()
        if any(needle in text for text in texts)
    }


def ticket_of(session: Session, number: str) -> Ticket:
    return session.scalars(select(Ticket).where(Ticket.number == number)).one()


def handling(
    factory: sessionmaker[Session], actors: dict[str, Actor], data: Any = ROAD
) -> tuple[str, str, Actor]:
    """A ticket routed to its OPD and accepted as simple: waiting at ``handle``."""
    number, secret = submit_with_secret(factory, data)
    officer = actors["petugas_dlh" if data.category == "sampah" else "petugas_dpupr"]
    complete(factory, actors["verifikator"], number, {"decision": "route"})
    complete(factory, officer, number, {"decision": "accept", "complexity": "simple"})
    return number, secret, officer


def resolved(factory: sessionmaker[Session], actors: dict[str, Actor]) -> tuple[str, str]:
    number, secret, officer = handling(factory, actors, SAMPAH)
    complete(factory, officer, number, {"decision": "resolve", "resolution": "Sudah diangkut"})
    return number, secret


def reporter_rows(factory: sessionmaker[Session], template: str) -> list[OutboxMessage]:
    with factory() as session:
        return [
            r
            for r in session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
            if r.payload.get("template") == template
        ]


# -- the secret -------------------------------------------------------------------------------


def test_submission_hands_out_a_secret_of_at_least_128_bits(session_factory):
    _, secret = submit_with_secret(session_factory)
    raw = base64.urlsafe_b64decode(secret + "=" * (-len(secret) % 4))
    assert len(raw) * 8 >= 128
    assert len(raw) == 32  # token_urlsafe(32): 256 bits
    assert set(secret) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    _, other = submit_with_secret(session_factory)
    assert other != secret


def test_only_the_secrets_sha256_is_stored_on_the_ticket(session_factory, session):
    number, secret = submit_with_secret(session_factory)
    ticket = ticket_of(session, number)
    assert ticket.reporter_secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert ticket.reporter_secret_hash != secret


def test_the_secret_is_in_no_table_but_the_undelivered_private_link_row(session_factory):
    number, secret = submit_with_secret(session_factory)
    with session_factory() as session:
        # the grep reads every table, the compressed workflow state included
        assert {"ticket", "process_instance", "audit_event"} <= tables_holding(
            session, number
        ).keys()
        assert tables_holding(session, secret) == {"outbox_message": 1}
        [row] = session.scalars(select(OutboxMessage)).all()
    assert row.delivered_at is None
    assert row.topic == outbox.TOPIC_REPORTER
    assert row.payload["template"] == outbox.PRIVATE_LINK_TEMPLATE
    assert row.payload["recipients"] == [CONTACT]
    assert row.payload["ticket"] == number
    assert row.payload[outbox.SECRET] == secret


def test_sending_the_private_link_erases_the_secret_from_its_row(session_factory):
    number, secret = submit_with_secret(session_factory)
    sender = Recording()
    result = outbox.deliver_due(session_factory, now=NOW, sender=sender)
    assert result.delivered == 1
    [sent] = sender.messages
    assert sent.payload[outbox.SECRET] == secret  # the e-mail itself carries the link
    with session_factory() as session:
        [row] = session.scalars(select(OutboxMessage)).all()
        assert row.delivered_at == NOW
        assert outbox.SECRET not in row.payload
        assert secret not in json.dumps(row.payload)
        assert row.payload["ticket"] == number  # the rest is kept
        assert tables_holding(session, secret) == {}


def test_the_secret_stays_in_its_row_while_delivery_fails(session_factory):
    _, secret = submit_with_secret(session_factory)

    class Failing:
        name = "failing"

        def send(self, message: outbox.Message) -> None:
            raise ConnectionRefusedError("SMTP down")

    outbox.deliver_due(session_factory, now=NOW, sender=Failing())
    with session_factory() as session:
        [row] = session.scalars(select(OutboxMessage)).all()
        assert row.delivered_at is None
        assert row.payload[outbox.SECRET] == secret  # still there for the retry


@pytest.mark.parametrize("contact", ["081234567890", "+62 812 3456 7890", None])
def test_no_private_link_row_for_a_phone_contact_or_none(session_factory, session, contact):
    number, secret = submit_with_secret(session_factory, replace(ROAD, reporter_contact=contact))
    assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
    assert tables_holding(session, secret) == {}
    # the reporter still holds a working link (shown once on the confirmation page)
    assert reporter.ticket_for_reporter(session, number, secret).number == number


def test_ticket_for_reporter_opens_the_ticket_with_its_secret_in_any_case(session_factory):
    number, secret = submit_with_secret(session_factory)
    with session_factory() as session:
        assert reporter.ticket_for_reporter(session, number, secret).number == number
        assert reporter.ticket_for_reporter(session, number.lower(), secret).number == number


def test_a_wrong_secret_and_an_unknown_number_answer_the_same(session_factory):
    number, secret = submit_with_secret(session_factory)
    other_number, other_secret = submit_with_secret(session_factory)
    unknown = "LK-00000000"
    messages = []
    with session_factory() as session:
        for asked, given in [
            (number, secret[:-1] + ("A" if secret[-1] != "A" else "B")),  # one character off
            (number, other_secret),  # another ticket's secret
            (number, ""),
            (number, None),
            (number, reporter.secret_hash(secret)),  # the stored hash is not the key
            (unknown, secret),
        ]:
            with pytest.raises(NotFound) as error:
                reporter.ticket_for_reporter(session, asked, given)
            messages.append(error.value.message.replace(asked, "<number>"))
    assert len(set(messages)) == 1
    assert other_number != number


def test_the_public_view_with_a_wrong_secret_is_not_found(session_factory):
    number, _ = submit_with_secret(session_factory)
    with session_factory() as session, pytest.raises(NotFound):
        ticket_view.ticket_view(session, number, secret="not-the-secret")


# -- nearby tickets -----------------------------------------------------------------------------


def test_nearby_finds_open_public_tickets_of_the_category_within_100_m_nearest_first(
    session_factory, actors
):
    def road(title: str, **where: Any) -> str:
        return submit(session_factory, replace(ROAD, title=title, **where))

    sixty_north = road("60 m utara", **at(north_m=60))
    twenty_east = road("20 m timur", **at(east_m=20))
    ninety_five_west = road("95 m barat", **at(east_m=-95))
    road("150 m selatan", **at(north_m=-150))
    road("140 m timur", **at(east_m=140))
    road("tanpa koordinat")
    submit(session_factory, replace(SAMPAH, **at(north_m=10)))  # another category
    road("rahasia", confidential=True, **at(north_m=5))
    closed = road("ditolak", **at(east_m=5))
    complete(
        session_factory, actors["verifikator"], closed, {"decision": "reject", "reason": "x" * 5}
    )

    with session_factory() as session:
        found = reporter.nearby(session, category="jalan_rusak", latitude=LAT, longitude=LON)
    assert [t.number for t in found] == [twenty_east, sixty_north, ninety_five_west]
    assert [round(t.distance_m) for t in found] == [20, 60, 95]
    assert [t.title for t in found] == ["20 m timur", "60 m utara", "95 m barat"]
    assert all(t.status == "verification" for t in found)


def test_nearby_honours_the_radius_and_the_limit(session_factory):
    for metres in (10, 20, 30, 120):
        submit(session_factory, replace(ROAD, **at(north_m=metres)))
    with session_factory() as session:
        wide = reporter.nearby(
            session, category="jalan_rusak", latitude=LAT, longitude=LON, radius_m=150
        )
        two = reporter.nearby(session, category="jalan_rusak", latitude=LAT, longitude=LON, limit=2)
        none = reporter.nearby(session, category="drainase", latitude=LAT, longitude=LON)
    assert [round(t.distance_m) for t in wide] == [10, 20, 30, 120]
    assert [round(t.distance_m) for t in two] == [10, 20]
    assert none == []


def test_distance_is_the_great_circle_distance():
    assert reporter.distance_m(LAT, LON, LAT, LON) == 0
    assert reporter.distance_m(0, 0, 1, 0) == pytest.approx(M_PER_DEG_LAT)
    assert reporter.distance_m(LAT, LON, LAT + 100 / M_PER_DEG_LAT, LON) == pytest.approx(100)


# -- following ----------------------------------------------------------------------------------


def test_following_makes_a_follower_once(session_factory):
    number = submit(session_factory)
    with session_factory.begin() as session:
        assert reporter.follow(session, number=number, contact=FOLLOWER, now=NOW) is True
    with session_factory.begin() as session:
        assert reporter.follow(session, number=number.lower(), contact=FOLLOWER, now=NOW) is False
        assert reporter.follow(session, number=number, contact=f"  {FOLLOWER} ", now=NOW) is False
    with session_factory() as session:
        ticket = ticket_of(session, number)
        assert list(reporter.followers(session, ticket.id)) == [FOLLOWER]
        assert reporter.follower_count(session, ticket.id) == 1
        assert session.scalar(select(func.count()).select_from(Follower)) == 1


def test_following_needs_a_contact(session_factory):
    number = submit(session_factory)
    with session_factory() as session, pytest.raises(InvalidInput) as error:
        reporter.follow(session, number=number, contact="  ", now=NOW)
    assert "contact" in error.value.fields


def test_a_confidential_or_unknown_ticket_cannot_be_followed(session_factory):
    secret_ticket = submit(session_factory, replace(ROAD, confidential=True))
    with session_factory() as session:
        for number in (secret_ticket, "LK-00000000"):
            with pytest.raises(NotFound):
                reporter.follow(session, number=number, contact=FOLLOWER, now=NOW)
        assert session.scalar(select(func.count()).select_from(Follower)) == 0


def test_a_closed_ticket_cannot_be_followed(session_factory, actors):
    number = submit(session_factory)
    complete(
        session_factory, actors["verifikator"], number, {"decision": "reject", "reason": "spam"}
    )
    with session_factory() as session, pytest.raises(Conflict):
        reporter.follow(session, number=number, contact=FOLLOWER, now=NOW)


def test_a_follower_is_notified_whenever_the_reporter_is(session_factory, actors):
    number, _, officer = handling(session_factory, actors)
    with session_factory.begin() as session:
        reporter.follow(session, number=number, contact=FOLLOWER, now=NOW)
    complete(session_factory, officer, number, NEED_INFO)

    rows = reporter_rows(session_factory, "info_requested")
    assert [(r.topic, r.payload["recipients"], r.payload.get("follower")) for r in rows] == [
        (outbox.TOPIC_REPORTER, [CONTACT], None),
        (outbox.TOPIC_REPORTER, [FOLLOWER], True),
    ]
    assert rows[0].payload | {"recipients": [FOLLOWER], "follower": True} == rows[1].payload
    assert all(outbox.SECRET not in r.payload for r in rows)


def test_followers_are_told_of_the_resolution_too(session_factory, actors):
    number, _, officer = handling(session_factory, actors, SAMPAH)
    with session_factory.begin() as session:
        reporter.follow(session, number=number, contact=FOLLOWER, now=NOW)
        reporter.follow(session, number=number, contact="0812 3456 7890", now=NOW)
    complete(session_factory, officer, number, {"decision": "resolve", "resolution": "Diangkut"})
    rows = reporter_rows(session_factory, "resolved")
    assert [r.payload["recipients"] for r in rows] == [[CONTACT], [FOLLOWER], ["0812 3456 7890"]]


def test_a_follower_is_notified_even_when_the_reporter_left_no_contact(session_factory, actors):
    number, _, officer = handling(session_factory, actors, replace(ROAD, reporter_contact=None))
    with session_factory.begin() as session:
        reporter.follow(session, number=number, contact=FOLLOWER, now=NOW)
    complete(session_factory, officer, number, NEED_INFO)
    rows = reporter_rows(session_factory, "info_requested")
    assert [(r.payload["recipients"], r.payload.get("follower")) for r in rows] == [
        ([FOLLOWER], True)
    ]


# -- rating -------------------------------------------------------------------------------------


def test_rating_waits_for_the_resolution(session_factory, actors):
    number, _, _ = handling(session_factory, actors, SAMPAH)
    with session_factory() as session:
        with pytest.raises(Conflict):
            reporter.rate(
                session, ticket=ticket_of(session, number), score=5, comment=None, now=NOW
            )
        assert session.scalar(select(func.count()).select_from(Rating)) == 0


@pytest.mark.parametrize("score", [0, 6, -1, 10])
def test_a_rating_is_1_to_5(session_factory, actors, score):
    number, _ = resolved(session_factory, actors)
    with session_factory() as session, pytest.raises(InvalidInput) as error:
        reporter.rate(
            session, ticket=ticket_of(session, number), score=score, comment=None, now=NOW
        )
    assert "score" in error.value.fields


def test_a_rating_after_resolution_is_kept_and_written_to_the_timeline(session_factory, actors):
    number, _ = resolved(session_factory, actors)
    with session_factory.begin() as session:
        ticket = ticket_of(session, number)
        assert (ticket.status, ticket.closed_at) == ("resolved", None)
        reporter.rate(session, ticket=ticket, score=4, comment="  Cepat  ", now=NOW)
    with session_factory() as session:
        ticket = ticket_of(session, number)
        rating = reporter.rating_of(session, ticket.id)
        assert rating is not None
        assert (rating.score, rating.comment, rating.at) == (4, "Cepat", NOW)
        [entry] = session.scalars(
            select(TicketUpdate).where(
                TicketUpdate.ticket_id == ticket.id, TicketUpdate.kind == "rating"
            )
        ).all()
        assert (entry.audience, entry.author, entry.text) == ("reporter", "reporter", "4/5: Cepat")


def test_rating_again_replaces_the_earlier_rating(session_factory, actors):
    number, secret = resolved(session_factory, actors)
    later = NOW.replace(hour=5)
    with session_factory.begin() as session:
        reporter.rate(
            session, ticket=ticket_of(session, number), score=2, comment="Lambat", now=NOW
        )
    with session_factory.begin() as session:
        reporter.rate(session, ticket=ticket_of(session, number), score=5, comment=" ", now=later)
    with session_factory() as session:
        [rating] = session.scalars(select(Rating)).all()
        assert (rating.score, rating.comment, rating.at) == (5, None, later)
        texts = session.scalars(
            select(TicketUpdate.text).where(TicketUpdate.kind == "rating").order_by(TicketUpdate.id)
        ).all()
        assert texts == ["2/5: Lambat", "5/5"]
        mine = ticket_view.ticket_view(session, number, secret=secret)
        public = ticket_view.ticket_view(session, number)
    assert (mine.rating, mine.rating_comment) == (5, None)
    assert public.rating is None
    assert not [e for e in public.entries if e.kind == "rating"]


def test_a_closed_ticket_can_be_rated(session_factory, actors):
    number = submit(session_factory)
    complete(
        session_factory, actors["verifikator"], number, {"decision": "reject", "reason": "spam"}
    )
    with session_factory.begin() as session:
        reporter.rate(session, ticket=ticket_of(session, number), score=1, comment=None, now=NOW)
    with session_factory() as session:
        assert session.scalars(select(Rating.score)).one() == 1


def test_a_rating_comment_is_at_most_2000_characters(session_factory, actors):
    number, _ = resolved(session_factory, actors)
    with session_factory() as session, pytest.raises(InvalidInput) as error:
        reporter.rate(
            session, ticket=ticket_of(session, number), score=3, comment="x" * 2001, now=NOW
        )
    assert "comment" in error.value.fields


# -- the private link on its way out ------------------------------------------------------------


def private_link_message(factory: sessionmaker[Session]) -> tuple[outbox.Message, str, str]:
    number, secret = submit_with_secret(factory)
    with factory() as session:
        [row] = session.scalars(select(OutboxMessage)).all()
    message = outbox.Message(row.id, row.topic, row.payload, row.created_at, row.attempts)
    return message, number, secret


def test_the_private_link_email_carries_the_link_once(session_factory):
    message, number, secret = private_link_message(session_factory)
    subject, body = notify.email_text(message, "https://laksa.example")
    assert number in subject
    assert secret not in subject
    assert body.count(secret) == 1
    assert f"https://laksa.example/laporan/{number}/k/{secret}" in body


def test_the_webhook_never_receives_the_private_links_secret(session_factory):
    message, _, secret = private_link_message(session_factory)
    body = notify.WebhookSender("http://127.0.0.1:9/hook", secret="k").body(message)
    assert secret.encode() not in body


def test_the_private_link_follows_a_public_url_template(session_factory):
    message, number, secret = private_link_message(session_factory)
    _, body = notify.email_text(message, "https://laksa.example/laporan/{number}")
    assert f"https://laksa.example/laporan/{number}/k/{secret}" in body
