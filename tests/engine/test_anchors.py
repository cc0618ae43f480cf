"""Daily anchors over every audit chain's head: made once a day, chained, append-only in the
database, and they catch a chain rewritten consistently, which the chain check alone cannot."""

from __future__ import annotations

import random
from datetime import UTC
from datetime import datetime
from datetime import timedelta

import pytest
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from engine import anchors
from engine import audit
from engine import jobs
from engine.anchors import GENESIS
from engine.calendar import JAKARTA
from engine.models import AuditAnchor
from engine.models import AuditAnchorHead
from engine.models import AuditEvent
from engine.models import ProcessInstance
from tests.factories import instance_of
from tests.factories import submit

DAY = datetime(2026, 11, 23, 17, 5, tzinfo=UTC)  # 00:05 on 24 November in Jakarta


def note(factory: sessionmaker[Session], number: str, *, at: datetime) -> None:
    """Append one event to the ticket's chain, as a claim does."""
    with factory.begin() as session:
        audit.note(
            session,
            instance_of(factory, number),
            number,
            [audit.Entry(actor="petugas_dpupr", action="noted")],
            at=at,
        )


def heads_now(factory: sessionmaker[Session]) -> list[tuple[int, int, str]]:
    with factory() as session:
        return [
            tuple(r)  # type: ignore[misc]
            for r in session.execute(
                select(ProcessInstance.id, ProcessInstance.audit_seq, ProcessInstance.audit_head)
                .where(ProcessInstance.audit_seq > 0)
                .order_by(ProcessInstance.id)
            )
        ]


def rewrite_chain(factory: sessionmaker[Session], number: str) -> None:
    """What a forger with database access and the code does: change an event and recompute the
    whole chain and its head, so that the chain check passes."""
    instance_id = instance_of(factory, number)
    with factory.begin() as session:
        rows = list(
            session.scalars(
                select(AuditEvent)
                .where(AuditEvent.instance_id == instance_id)
                .order_by(AuditEvent.seq)
            )
        )
        rows[0].actor = "someone-else"
        prev = GENESIS
        for row in rows:
            row.prev_hash = prev
            row.hash = audit._digest(
                prev, number, row.seq, row.at.isoformat(), row.actor, row.action,
                row.element_id, row.data,
            )  # fmt: skip
            prev = row.hash
        session.flush()
        session.execute(
            text("UPDATE process_instance SET audit_head = :h WHERE id = :i"),
            {"h": prev, "i": instance_id},
        )


def anchor_problems(factory: sessionmaker[Session]) -> list[anchors.AnchorProblem]:
    with factory() as session:
        return anchors.verify(session)


def chain_problems(factory: sessionmaker[Session]) -> list[audit.Problem]:
    with factory() as session:
        return audit.verify(session)


# -- making anchors ------------------------------------------------------------------------------


def test_an_anchor_commits_to_every_chain_head_up_to_its_watermark(backend_factory):
    for _ in range(3):
        submit(backend_factory)
    outcome = anchors.anchor_today(backend_factory, now=DAY)
    assert outcome.created
    a = outcome.anchor
    heads = heads_now(backend_factory)
    with backend_factory() as session:
        assert a.last_event_id == session.scalar(select(func.max(AuditEvent.id)))
        kept = session.execute(
            select(AuditAnchorHead.instance_id, AuditAnchorHead.seq, AuditAnchorHead.hash)
            .where(AuditAnchorHead.anchor_id == a.id)
            .order_by(AuditAnchorHead.instance_id)
        ).all()
    assert a.day.isoformat() == "2026-11-24"  # the Jakarta day, not the UTC one
    assert a.chains == 3
    assert a.root == anchors.merkle_root(anchors.leaf_hash(*h) for h in heads)
    assert [tuple(k) for k in kept] == heads
    assert a.prev_hash == GENESIS
    assert a.hash == anchors.anchor_hash(
        GENESIS, a.day, a.created_at, a.last_event_id, a.chains, a.root
    )


def test_a_second_anchor_the_same_jakarta_day_does_nothing(backend_factory):
    submit(backend_factory)
    first = anchors.anchor_today(backend_factory, now=DAY)
    note(backend_factory, submit(backend_factory), at=DAY)
    again = anchors.anchor_today(backend_factory, now=DAY + timedelta(hours=16))  # 16:05 WIB
    assert again.created is False
    assert again.anchor.id == first.anchor.id
    assert anchors.anchor_if_missing(backend_factory, now=DAY + timedelta(hours=20)) is None
    with backend_factory() as session:
        assert anchors.count(session) == 1
    # 17:00 UTC is midnight in Jakarta: a new day, a new anchor
    assert anchors.anchor_if_missing(backend_factory, now=DAY + timedelta(hours=24)) is not None


def test_each_anchor_chains_to_the_one_before_and_keeps_only_the_heads_that_moved(
    backend_factory,
):
    old, moved = submit(backend_factory), submit(backend_factory)
    first = anchors.anchor_today(backend_factory, now=DAY).anchor
    note(backend_factory, moved, at=DAY + timedelta(hours=1))
    new = submit(backend_factory, now=DAY + timedelta(hours=2))
    second = anchors.anchor_today(backend_factory, now=DAY + timedelta(days=1)).anchor
    assert second.prev_hash == first.hash
    assert second.last_event_id > first.last_event_id
    assert second.chains == 3
    assert second.root == anchors.merkle_root(
        anchors.leaf_hash(*h) for h in heads_now(backend_factory)
    )
    with backend_factory() as session:
        kept = set(
            session.scalars(
                select(AuditAnchorHead.instance_id).where(AuditAnchorHead.anchor_id == second.id)
            )
        )
    assert kept == {instance_of(backend_factory, moved), instance_of(backend_factory, new)}
    assert instance_of(backend_factory, old) not in kept
    assert anchor_problems(backend_factory) == []


def test_an_anchor_made_with_a_jakarta_clock_verifies(backend_factory):
    submit(backend_factory)
    a = anchors.anchor_today(backend_factory, now=DAY.astimezone(JAKARTA)).anchor
    assert a.created_at == DAY.replace(second=0)
    assert anchor_problems(backend_factory) == []


def test_a_day_without_any_event_still_gets_its_anchor(backend_factory):
    a = anchors.anchor_today(backend_factory, now=DAY).anchor
    assert (a.chains, a.last_event_id, a.root) == (0, 0, anchors.EMPTY_ROOT)
    assert anchor_problems(backend_factory) == []


def test_the_sweep_job_publishes_the_days_anchor_once(backend_factory, backend_url, monkeypatch):
    monkeypatch.setenv("LAKSA_DATABASE_URL", backend_url)
    monkeypatch.setenv("LAKSA_REDIS_URL", "")
    submit(backend_factory, now=datetime.now(UTC))
    try:
        jobs.sweep_timers()
        jobs.sweep_timers()
    finally:
        jobs.close_engines()
    with backend_factory() as session:
        made = list(session.scalars(select(AuditAnchor)))
    assert [a.day for a in made] == [anchors.jakarta_day(datetime.now(UTC))]
    assert made[0].chains == 1


# -- append-only ---------------------------------------------------------------------------------

REFUSED = {
    "update anchor": "UPDATE audit_anchor SET root = 'x'",
    "delete anchor": "DELETE FROM audit_anchor",
    "update head": "UPDATE audit_anchor_head SET hash = 'x'",
    "delete head": "DELETE FROM audit_anchor_head",
}


@pytest.mark.parametrize("statement", sorted(REFUSED))
def test_the_database_refuses_to_change_or_remove_an_anchor(backend_factory, statement):
    submit(backend_factory)
    anchors.anchor_today(backend_factory, now=DAY)
    with pytest.raises(DBAPIError, match="append-only"), backend_factory.begin() as session:
        session.execute(text(REFUSED[statement]))
    assert anchor_problems(backend_factory) == []


def drop_triggers(factory: sessionmaker[Session]) -> None:
    """What someone with full control of the database can still do."""
    with factory.begin() as session:
        if session.get_bind().dialect.name == "sqlite":
            for table in ("audit_anchor", "audit_anchor_head"):
                session.execute(text(f"DROP TRIGGER {table}_no_update"))
        else:
            session.execute(text("ALTER TABLE audit_anchor DISABLE TRIGGER USER"))
            session.execute(text("ALTER TABLE audit_anchor_head DISABLE TRIGGER USER"))


# -- verifying -----------------------------------------------------------------------------------


def test_a_chain_rewritten_consistently_passes_the_chain_check_but_not_the_anchor(
    backend_factory,
):
    victim, bystander = submit(backend_factory), submit(backend_factory)
    anchors.anchor_today(backend_factory, now=DAY)
    note(backend_factory, bystander, at=DAY + timedelta(hours=1))
    anchors.anchor_today(backend_factory, now=DAY + timedelta(days=1))
    assert anchor_problems(backend_factory) == []

    rewrite_chain(backend_factory, victim)

    assert chain_problems(backend_factory) == []  # the old check alone is fooled
    found = anchor_problems(backend_factory)
    assert [(p.day.isoformat(), p.ticket_number) for p in found] == [("2026-11-24", victim)]
    assert "differs from the published" in found[0].reason


def test_heads_rewritten_along_with_the_chain_no_longer_give_the_published_root(
    backend_factory,
):
    victim = submit(backend_factory)
    submit(backend_factory)
    a = anchors.anchor_today(backend_factory, now=DAY).anchor
    rewrite_chain(backend_factory, victim)
    drop_triggers(backend_factory)
    instance_id = instance_of(backend_factory, victim)
    with backend_factory.begin() as session:
        head = session.scalar(
            select(ProcessInstance.audit_head).where(ProcessInstance.id == instance_id)
        )
        session.execute(
            text("UPDATE audit_anchor_head SET hash = :h WHERE instance_id = :i"),
            {"h": head, "i": instance_id},
        )
    found = anchor_problems(backend_factory)
    assert [(p.day, p.ticket_number) for p in found] == [(a.day, None)]
    assert "published root" in found[0].reason


def test_an_edited_anchor_breaks_the_anchor_chain(backend_factory):
    submit(backend_factory)
    a = anchors.anchor_today(backend_factory, now=DAY).anchor
    anchors.anchor_today(backend_factory, now=DAY + timedelta(days=1))
    drop_triggers(backend_factory)
    with backend_factory.begin() as session:
        session.execute(text("UPDATE audit_anchor SET chains = 7 WHERE id = :i"), {"i": a.id})
    reasons = [(p.day, p.reason) for p in anchor_problems(backend_factory)]
    assert (a.day, "anchor was edited (hash does not match)") in reasons


def test_events_removed_after_an_anchor_are_named_with_the_anchor_day(backend_factory):
    victim = submit(backend_factory)
    a = anchors.anchor_today(backend_factory, now=DAY).anchor
    with backend_factory.begin() as session:
        session.execute(
            text("DELETE FROM audit_event WHERE instance_id = :i"),
            {"i": instance_of(backend_factory, victim)},
        )
    found = anchor_problems(backend_factory)
    assert [(p.day, p.ticket_number) for p in found] == [(a.day, victim)]


# -- one ticket's proof --------------------------------------------------------------------------


def test_proof_for_a_ticket_shows_its_anchor_and_proves_inclusion(backend_factory):
    numbers = [submit(backend_factory) for _ in range(5)]
    target = instance_of(backend_factory, numbers[2])
    with backend_factory() as session:
        assert anchors.proof_for(session, target) is None  # nothing anchored yet
    a = anchors.anchor_today(backend_factory, now=DAY).anchor
    note(backend_factory, numbers[2], at=DAY + timedelta(hours=1))  # after the watermark
    later = instance_of(backend_factory, submit(backend_factory, now=DAY + timedelta(hours=2)))
    with backend_factory() as session:
        proof = anchors.proof_for(session, target, with_path=True)
        assert anchors.proof_for(session, later) is None
    assert proof is not None
    assert proof.anchor.id == a.id
    assert proof.matches
    assert proof.reason is None
    assert proof.path is not None
    assert anchors.root_from_path(proof.leaf, proof.path) == a.root
    forged = anchors.leaf_hash(target, proof.seq, "0" * 64)
    assert anchors.root_from_path(forged, proof.path) != a.root


def test_proof_for_a_rewritten_ticket_says_it_no_longer_matches(backend_factory):
    victim = submit(backend_factory)
    submit(backend_factory)
    anchors.anchor_today(backend_factory, now=DAY)
    rewrite_chain(backend_factory, victim)
    instance_id = instance_of(backend_factory, victim)
    with backend_factory() as session:
        proof = anchors.proof_for(session, instance_id)
    assert proof is not None
    assert not proof.matches
    assert proof.reason is not None


# -- the tree ------------------------------------------------------------------------------------


def leaves(n: int, salt: str = "") -> list[bytes]:
    return [anchors.leaf_hash(i, 1, f"{salt}{i}") for i in range(n)]


@pytest.mark.parametrize("n", [*range(0, 18), 31, 32, 33, 100])
def test_the_streamed_root_and_every_audit_path_agree_with_the_whole_tree(n):
    given = leaves(n)
    root = anchors.merkle_root(given)
    assert root == (anchors._levels(given)[-1][0].hex() if given else anchors.EMPTY_ROOT)
    for index, leaf in enumerate(given):
        assert anchors.root_from_path(leaf, anchors.audit_path(given, index)) == root


def test_the_kept_tree_rehashing_changed_paths_equals_a_fresh_one():
    rng = random.Random(8)
    tree = anchors._Tree()
    state: dict[int, bytes] = {}
    next_id = 1
    for round_ in range(40):
        changes: dict[int, bytes] = {}
        for _ in range(rng.randint(0, 6)):  # new chains, mostly at the end
            new_id = next_id + rng.randint(1, 3)
            changes[new_id] = anchors.leaf_hash(new_id, 1, str(round_))
            next_id = new_id
        for i in rng.sample(sorted(state), min(len(state), rng.randint(0, 4))):  # moved heads
            changes[i] = anchors.leaf_hash(i, 2, str(round_))
        if round_ % 9 == 8 and next_id > 1:  # a chain older than the newest one appears
            gap = next(i for i in range(1, next_id) if i not in state and i not in changes)
            changes[gap] = anchors.leaf_hash(gap, 1, "late")
        tree.update(sorted(changes.items()))
        state.update(changes)
        assert tree.root() == anchors.merkle_root(state[i] for i in sorted(state))
        assert tree.ids == sorted(state)
