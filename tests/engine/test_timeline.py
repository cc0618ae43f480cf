"""The ticket's timeline (engine/timeline.py) and one ticket as each viewer may see it
(engine/ticket_view.py), decided by engine/visibility.py alone.

Who sees what (the table of engine/visibility.py):

| viewer                         | confidential | name, contact    | updates | unlinked uploads |
|--------------------------------|--------------|------------------|---------|------------------|
| public, officer of another OPD | no           | never            | public  | no               |
| reporter (secret, own account) | yes          | always           | all     | no               |
| verifier desk, admin           | yes          | always           | all     | yes              |
| routed OPD, its head           | yes          | unless anonymous | all     | yes              |
| supervisor, auditor            | yes          | unless anonymous | all     | yes              |
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from engine import attachments
from engine import ticket_view
from engine import timeline
from engine import visibility
from engine.errors import NotFound
from engine.identity import Actor
from engine.identity import actor_for
from engine.identity import create_user
from engine.models import Ticket
from engine.models import TicketUpdate
from tests.conftest import NOW
from tests.factories import ROAD
from tests.factories import complete
from tests.factories import correlate
from tests.factories import fake_image
from tests.factories import submit_with_secret

NAME = "Budi Santoso"
CONTACT = "budi@example.org"
NAMED = replace(ROAD, reporter_name=NAME, reporter_contact=CONTACT)
SAMPAH = replace(NAMED, category="sampah", title="Sampah menumpuk")
QUESTION = "Di depan rumah nomor berapa?"
NEED_INFO = {"decision": "need_info", "question": QUESTION}
ADMIN = Actor(name="admin", role="admin", groups=frozenset({"verifier", "supervisor"}))
AUDITOR = Actor(name="auditor", role="auditor")


# -- helpers ----------------------------------------------------------------------------------


def view(
    factory: sessionmaker[Session],
    number: str,
    *,
    actor: Actor | None = None,
    secret: str | None = None,
    lang: str = "id",
) -> ticket_view.TicketView:
    with factory() as session:
        return ticket_view.ticket_view(session, number, actor=actor, secret=secret, lang=lang)


def statuses(v: ticket_view.TicketView) -> list[str | None]:
    return [e.status for e in v.entries if e.kind == "status"]


def routed(
    factory: sessionmaker[Session], actors: dict[str, Actor], data: Any = NAMED
) -> tuple[str, str]:
    """A ticket routed to dpupr (roads) or dlh (rubbish), not yet acknowledged."""
    number, secret = submit_with_secret(factory, data)
    complete(factory, actors["verifikator"], number, {"decision": "route"})
    return number, secret


def handling(
    factory: sessionmaker[Session], actors: dict[str, Actor], data: Any = SAMPAH
) -> tuple[str, str, Actor]:
    number, secret = routed(factory, actors, data)
    officer = actors["petugas_dlh" if data.category == "sampah" else "petugas_dpupr"]
    complete(factory, officer, number, {"decision": "accept", "complexity": "simple"})
    return number, secret, officer


def asked(factory: sessionmaker[Session], actors: dict[str, Actor]) -> tuple[str, str, Actor]:
    number, secret, officer = handling(factory, actors)
    complete(factory, officer, number, NEED_INFO)
    return number, secret, officer


# -- what the timeline records ----------------------------------------------------------------


def test_a_new_tickets_public_timeline_starts_received_then_verification(session_factory):
    number, _ = submit_with_secret(session_factory)
    assert statuses(view(session_factory, number)) == ["received", "verification"]


def test_a_new_tickets_timeline_holds_only_system_status_entries_up_to_verification(
    session_factory,
):
    number, _ = submit_with_secret(session_factory)
    entries = view(session_factory, number).entries
    assert entries, "a new ticket has a timeline"
    assert all(e.kind == "status" and e.author == "system" for e in entries)
    assert all(e.audience == "public" and e.at == NOW for e in entries)
    assert entries[-1].status == "verification"
    assert entries[-1].status_label == "Verifikasi"
    assert entries[-1].status_colour == "red"
    assert view(session_factory, number, lang="en").entries[-1].status_label == "Verification"


def test_every_status_the_lifecycle_passes_is_a_public_entry_in_order(session_factory, actors):
    number, _, officer = asked(session_factory, actors)
    correlate(session_factory, number, "reporter_reply", {"text": "Nomor 12"})
    complete(session_factory, officer, number, {"decision": "resolve", "resolution": "Diangkut"})
    correlate(session_factory, number, "reporter_confirms")
    public = view(session_factory, number, lang="en")
    assert statuses(public)[-7:] == [
        "verification",
        "dispatched",
        "in_progress",
        "waiting_info",
        "in_progress",
        "resolved",
        "confirmed",
    ]
    assert [e.status_label for e in public.entries if e.kind == "status"][-1] == (
        "Resolved, confirmed by the reporter"
    )
    times = [e.at for e in public.entries]
    assert times == sorted(times)


@pytest.mark.parametrize(
    ("lang", "label"), [("id", "Pertanyaan petugas"), ("en", "The officer's question")]
)
def test_need_info_writes_the_question_for_the_reporter_labelled_in_their_language(
    session_factory, actors, lang, label
):
    number, secret, _ = asked(session_factory, actors)
    mine = view(session_factory, number, secret=secret, lang=lang)
    [note] = [e for e in mine.entries if e.kind == "note"]
    assert (note.audience, note.author, note.text) == ("reporter", "officer", QUESTION)
    assert note.field == "handle.schema.json#question"
    assert note.label == label
    assert mine.status == "waiting_info"


def test_the_resolution_is_a_public_note(session_factory, actors):
    number, _, officer = handling(session_factory, actors)
    complete(
        session_factory,
        officer,
        number,
        {"decision": "resolve", "resolution": "  Sampah sudah diangkut  "},
    )
    public = view(session_factory, number)
    [note] = [e for e in public.entries if e.kind == "note"]
    assert (note.audience, note.author) == ("public", "officer")
    assert note.label == "Tindakan yang dilakukan"
    assert note.text == "Sampah sudah diangkut"
    assert view(session_factory, number, lang="en").entries[-2].label == "What was done"


def test_internal_reasons_stay_out_of_the_timeline(session_factory, actors):
    number, _, officer = handling(session_factory, actors)
    complete(
        session_factory,
        officer,
        number,
        {"decision": "wrongly_routed", "handback_reason": "Bukan kami"},
    )
    with session_factory() as session:
        texts = session.scalars(select(TicketUpdate.text)).all()
    assert "Bukan kami" not in texts


def test_the_reporters_reply_is_a_message_for_the_reporter_and_staff(session_factory, actors):
    number, secret, _ = asked(session_factory, actors)
    correlate(session_factory, number, "reporter_reply", {"text": "  Nomor 12, pagar hijau "})
    mine = view(session_factory, number, secret=secret)
    [message] = [e for e in mine.entries if e.kind == "message"]
    assert (message.audience, message.author) == ("reporter", "reporter")
    assert (message.field, message.label) == ("reporter_reply", "reporter_reply")
    assert message.text == "Nomor 12, pagar hijau"
    desk = view(session_factory, number, actor=actors["verifikator"])
    assert [e.text for e in desk.entries if e.kind == "message"] == ["Nomor 12, pagar hijau"]


def test_a_message_relayed_by_the_desk_is_written_as_its_author(session_factory, actors):
    from engine import commands

    number, _, _ = asked(session_factory, actors)
    with session_factory.begin() as session:
        commands.correlate_message(
            session,
            ticket_number=number,
            message="reporter_reply",
            payload={"text": "lewat telepon"},
            actor=actors["verifikator"],
            now=NOW,
            author="officer",
        )
    with session_factory() as session:
        row = session.scalars(select(TicketUpdate).where(TicketUpdate.kind == "message")).one()
    assert (row.author, row.audience, row.text) == ("officer", "reporter", "lewat telepon")


def test_the_public_view_never_contains_reporter_entries_the_secret_holders_does(
    session_factory, actors
):
    number, secret, officer = asked(session_factory, actors)
    correlate(session_factory, number, "reporter_reply", {"text": "Nomor 12"})
    complete(session_factory, officer, number, {"decision": "resolve", "resolution": "Diangkut"})
    public = view(session_factory, number)
    mine = view(session_factory, number, secret=secret)
    other_opd = view(session_factory, number, actor=actors["petugas_dpupr"])
    assert {e.audience for e in public.entries} == {"public"}
    assert {e.audience for e in other_opd.entries} == {"public"}
    assert QUESTION not in [e.text for e in public.entries]
    assert "Nomor 12" not in [e.text for e in public.entries]
    assert {e.audience for e in mine.entries} == {"public", "reporter"}
    reporter_texts = [e.text for e in mine.entries if e.audience == "reporter"]
    assert reporter_texts == [QUESTION, "Nomor 12"]
    assert [e for e in mine.entries if e.audience == "public"] == list(public.entries)


def test_updates_of_filters_by_audience(session_factory):
    number, _ = submit_with_secret(session_factory)
    with session_factory.begin() as session:
        ticket = session.scalars(select(Ticket).where(Ticket.number == number)).one()
        timeline.write(
            session,
            ticket.id,
            [timeline.Update("note", "reporter", "officer", text="hanya pelapor")],
            at=NOW,
        )
    with session_factory() as session:
        public = timeline.updates_of(session, ticket.id, visibility.AUDIENCES_PUBLIC)
        everyone = timeline.updates_of(session, ticket.id, visibility.AUDIENCES_ALL)
    assert "hanya pelapor" not in [u.text for u in public]
    assert [u.text for u in everyone][-1] == "hanya pelapor"


def test_shared_fields_takes_only_non_empty_text_of_fields_with_an_audience():
    schema = {
        "properties": {
            "a": {"type": "string", "x-laksa-audience": "public"},
            "b": {"type": "string", "x-laksa-audience": "reporter"},
            "c": {"type": "string"},
            "d": {"type": "string", "x-laksa-audience": "everyone"},
            "e": {"type": "string", "x-laksa-audience": "public"},
            "f": {"type": "integer", "x-laksa-audience": "public"},
        }
    }
    data = {"a": " terlihat ", "b": "tanya", "c": "internal", "d": "x", "e": "  ", "f": 3}
    assert timeline.shared_fields("f.json", schema, data) == [
        timeline.Update("note", "public", "officer", field="f.json#a", text="terlihat"),
        timeline.Update("note", "reporter", "officer", field="f.json#b", text="tanya"),
    ]
    assert timeline.shared_fields("f.json", None, data) == []


# -- awaiting ---------------------------------------------------------------------------------


def test_awaiting_names_the_messages_the_ticket_can_take_now(session_factory, actors):
    number, secret = submit_with_secret(session_factory, SAMPAH)
    assert view(session_factory, number).awaiting == frozenset()
    complete(session_factory, actors["verifikator"], number, {"decision": "route"})
    complete(
        session_factory,
        actors["petugas_dlh"],
        number,
        {"decision": "accept", "complexity": "simple"},
    )
    complete(session_factory, actors["petugas_dlh"], number, NEED_INFO)
    assert view(session_factory, number, secret=secret).awaiting == {"reporter_reply"}
    correlate(session_factory, number, "reporter_reply", {"text": "Nomor 12"})
    assert view(session_factory, number, secret=secret).awaiting == frozenset()
    complete(
        session_factory, actors["petugas_dlh"], number, {"decision": "resolve", "resolution": "OK!"}
    )
    awaiting = view(session_factory, number, secret=secret).awaiting
    assert {"reporter_confirms", "reporter_disputes"} <= awaiting
    assert "reporter_reply" not in awaiting
    correlate(session_factory, number, "reporter_confirms")
    closed = view(session_factory, number, secret=secret)
    assert closed.awaiting == frozenset()
    assert (closed.status, closed.outcome) == ("confirmed", "fixed")


# -- who sees what ----------------------------------------------------------------------------


def test_a_confidential_ticket_is_not_found_for_the_public_but_open_with_the_secret(
    session_factory, actors
):
    number, secret = submit_with_secret(session_factory, replace(NAMED, confidential=True))
    with pytest.raises(NotFound):
        view(session_factory, number)
    with pytest.raises(NotFound):
        view(session_factory, number, actor=actors["petugas_dpupr"])  # not routed yet
    with pytest.raises(NotFound):
        view(session_factory, number, actor=actors["petugas_dlh"])
    with pytest.raises(NotFound):
        view(session_factory, number, secret="wrong")
    mine = view(session_factory, number, secret=secret)
    assert (mine.confidential, mine.access.who) == (True, "reporter")
    assert (mine.reporter_name, mine.reporter_contact) == (NAME, CONTACT)
    assert view(session_factory, number, actor=actors["verifikator"]).access.who == "desk"


def test_a_confidential_ticket_reaches_the_routed_opd_its_head_and_oversight_only(
    session_factory, actors
):
    number, _ = routed(session_factory, actors, replace(NAMED, confidential=True))
    for name in ("petugas_dpupr", "kepala_dpupr"):
        assert view(session_factory, number, actor=actors[name]).access.who == "opd"
    assert view(session_factory, number, actor=actors["pengawas"]).access.who == "oversight"
    assert view(session_factory, number, actor=AUDITOR).access.who == "oversight"
    assert view(session_factory, number, actor=ADMIN).access.who == "desk"
    for viewer in (None, actors["petugas_dlh"]):
        with pytest.raises(NotFound):
            view(session_factory, number, actor=viewer)


VIEWERS = [
    "public",
    "reporter",
    "verifikator",
    "admin",
    "petugas_dpupr",
    "kepala_dpupr",
    "pengawas",
    "auditor",
    "petugas_dlh",
]
# viewer -> (who, sees a named reporter's name, contact; an anonymous one's name, contact;
#            reads reporter entries, sees unlinked uploads)
EXPECTED = {
    "public": ("public", False, False, False, False, False, False),
    "reporter": ("reporter", True, True, True, True, True, False),
    "verifikator": ("desk", True, True, True, True, True, True),
    "admin": ("desk", True, True, True, True, True, True),
    "petugas_dpupr": ("opd", True, True, False, False, True, True),
    "kepala_dpupr": ("opd", True, True, False, False, True, True),
    "pengawas": ("oversight", True, True, False, False, True, True),
    "auditor": ("oversight", True, True, False, False, True, True),
    "petugas_dlh": ("public", False, False, False, False, False, False),
}


def viewer_of(name: str, actors: dict[str, Actor], secret: str) -> dict[str, Any]:
    if name == "public":
        return {}
    if name == "reporter":
        return {"secret": secret}
    if name == "admin":
        return {"actor": ADMIN}
    if name == "auditor":
        return {"actor": AUDITOR}
    return {"actor": actors[name]}


@pytest.mark.parametrize("viewer", VIEWERS)
def test_the_visibility_table_for_each_viewer(session_factory, actors, viewer):
    who, named_name, named_contact, anon_name, anon_contact, reads_reporter, staff = EXPECTED[
        viewer
    ]
    named, named_secret = routed(session_factory, actors)
    anonymous, anon_secret = routed(session_factory, actors, replace(NAMED, anonymous=True))
    for number in (named, anonymous):
        with session_factory.begin() as session:
            ticket = session.scalars(select(Ticket).where(Ticket.number == number)).one()
            timeline.write(
                session,
                ticket.id,
                [timeline.Update("note", "reporter", "officer", text="untuk pelapor")],
                at=NOW,
            )
            attachments.add(
                session,
                ticket_id=ticket.id,
                purpose="report",
                uploader="public",
                images=[fake_image(1)],
                now=NOW,
                linked=True,
            )
            attachments.add(
                session,
                ticket_id=ticket.id,
                purpose="after",
                uploader="petugas_dpupr",
                images=[fake_image(2)],
                now=NOW,
                linked=False,
            )

    seen = view(session_factory, named, **viewer_of(viewer, actors, named_secret))
    anon = view(session_factory, anonymous, **viewer_of(viewer, actors, anon_secret))

    assert seen.access.who == anon.access.who == who
    assert (seen.reporter_name == NAME, seen.reporter_contact == CONTACT) == (
        named_name,
        named_contact,
    )
    assert (anon.reporter_name == NAME, anon.reporter_contact == CONTACT) == (
        anon_name,
        anon_contact,
    )
    assert seen.reporter_name in (NAME, None)
    assert seen.reporter_contact in (CONTACT, None)
    assert ("untuk pelapor" in [e.text for e in seen.entries]) == reads_reporter
    assert [p.purpose for p in seen.photos] == (["report", "after"] if staff else ["report"])
    assert [p.on_record for p in seen.photos] == ([True, False] if staff else [True])


def test_an_anonymous_reporters_name_reaches_only_the_desk_and_the_reporter(
    session_factory, actors
):
    number, secret = routed(session_factory, actors, replace(NAMED, anonymous=True))
    assert view(session_factory, number).reporter_name is None
    assert view(session_factory, number, actor=actors["petugas_dpupr"]).reporter_name is None
    assert view(session_factory, number, actor=actors["kepala_dpupr"]).reporter_name is None
    assert view(session_factory, number, actor=actors["pengawas"]).reporter_name is None
    assert view(session_factory, number, actor=actors["verifikator"]).reporter_name == NAME
    assert view(session_factory, number, secret=secret).reporter_name == NAME
    assert view(session_factory, number).anonymous is True


def test_the_public_and_other_opds_never_see_the_reporters_name_or_contact(session_factory, actors):
    number, _ = routed(session_factory, actors, NAMED)
    for viewer in (None, actors["petugas_dlh"]):
        seen = view(session_factory, number, actor=viewer)
        assert (seen.reporter_name, seen.reporter_contact) == (None, None)
        assert seen.anonymous is False


def test_the_account_that_filed_reads_the_ticket_as_its_reporter(session_factory):
    from engine import commands

    with session_factory.begin() as session:
        user = create_user(
            session, username="warga", password="password-warga", role="citizen", groups=[], now=NOW
        )
        session.flush()
        citizen = actor_for(session, user)
        number = commands.submit_ticket(
            session,
            data=replace(NAMED, anonymous=True, confidential=True),
            actor=citizen,
            now=NOW,
        ).ticket.number
    mine = view(session_factory, number, actor=citizen)
    assert mine.access.who == "reporter"
    assert (mine.reporter_name, mine.reporter_contact) == (NAME, CONTACT)
    stranger = Actor(name="tetangga", role="citizen", user_id=citizen.user_id + 1000)
    with pytest.raises(NotFound):
        view(session_factory, number, actor=stranger)


def test_access_is_one_rule_for_a_ticket_row():
    ticket = Ticket(
        number="LK-TEST0000",
        opd="dpupr",
        anonymous=True,
        confidential=True,
        reporter_user_id=None,
    )
    assert visibility.access(ticket).sees_ticket is False
    mine = visibility.access(ticket, reporter=True)
    assert (mine.sees_update("public"), mine.sees_update("reporter")) == (True, True)
    assert (mine.sees_name, mine.sees_contact, mine.staff) == (True, True, False)
    desk = visibility.access(ticket, actor=Actor("v", "verifier", frozenset({"verifier"})))
    assert (desk.sees_name, desk.sees_contact, desk.staff) == (True, True, True)
    head = visibility.access(ticket, actor=Actor("k", "opd_head", frozenset({"dpupr_head"})))
    assert (head.who, head.sees_name, head.staff) == ("opd", False, True)
    other = visibility.access(ticket, actor=Actor("d", "officer", frozenset({"dlh"})))
    assert other.sees_ticket is False
    assert other.sees_update("public") is False
