"""Builders the tests share: a road complaint, submitting it, finding its open task."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Mapping
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from PIL import Image
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from engine import commands
from engine.attachments import StoredImage
from engine.identity import Actor
from engine.models import AuditEvent
from engine.models import HumanTask
from engine.models import ProcessInstance
from engine.models import Ticket
from tests.conftest import NOW

ROAD = commands.TicketInput(
    kind="complaint",
    category="jalan_rusak",
    title="Jalan berlubang",
    description="Lubang besar",
    reporter_contact="budi@example.org",
)


def submit(
    factory: sessionmaker[Session], data: commands.TicketInput = ROAD, *, now: datetime = NOW
) -> str:
    """Submit a ticket as the public in its own transaction; return its number."""
    with factory.begin() as session:
        return commands.submit_ticket(
            session, data=data, actor=Actor.public(), now=now
        ).ticket.number


def instance_of(factory: sessionmaker[Session], number: str) -> int:
    """The id of a ticket's process instance."""
    with factory() as session:
        return session.scalars(
            select(ProcessInstance.id)
            .join(Ticket, Ticket.id == ProcessInstance.ticket_id)
            .where(Ticket.number == number)
        ).one()


def move_version_behind(session: Session, instance_id: int) -> None:
    """Raise the instance row's version as another writer that skipped the lock would,
    without the session's objects knowing."""
    session.execute(
        update(ProcessInstance)
        .where(ProcessInstance.id == instance_id)
        .values(version=ProcessInstance.version + 1)
        .execution_options(synchronize_session=False)
    )


def open_task(session: Session, number: str) -> HumanTask:
    """The one open human task of a ticket."""
    return session.scalars(
        select(HumanTask)
        .join(Ticket, Ticket.id == HumanTask.ticket_id)
        .where(Ticket.number == number, HumanTask.completed_at.is_(None))
    ).one()


# -- driving a ticket through its lifecycle (engine tests of the timeline, reporter, tally) -----


def complete(
    factory: sessionmaker[Session],
    actor: Actor,
    number: str,
    data: Mapping[str, Any],
    *,
    now: datetime = NOW,
) -> None:
    """Complete the ticket's one open task as ``actor`` in its own transaction."""
    with factory.begin() as session:
        commands.complete_task(
            session, task_id=open_task(session, number).id, actor=actor, data=data, now=now
        )


def correlate(
    factory: sessionmaker[Session],
    number: str,
    message: str,
    payload: Mapping[str, Any] | None = None,
    *,
    now: datetime = NOW,
) -> None:
    """Deliver a reporter's BPMN message to the ticket in its own transaction."""
    with factory.begin() as session:
        commands.correlate_message(
            session,
            ticket_number=number,
            message=message,
            payload=payload or {},
            actor=Actor.public(),
            now=now,
        )


def fire(factory: sessionmaker[Session], number: str, *, now: datetime) -> None:
    """Fire the ticket's timers due at ``now`` in its own transaction."""
    with factory.begin() as session:
        instance_id = session.scalars(
            select(ProcessInstance.id)
            .join(Ticket, Ticket.id == ProcessInstance.ticket_id)
            .where(Ticket.number == number)
        ).one()
        commands.fire_timers(session, instance_id=instance_id, now=now)


def jpeg_bytes(
    size: tuple[int, int] = (64, 48), colour: tuple[int, int, int] = (200, 30, 30)
) -> bytes:
    """A small, plain JPEG."""
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "JPEG")
    return out.getvalue()


def fake_image(seed: int = 0) -> StoredImage:
    """A stored photo's record without bytes behind it (for tests that never read them)."""
    digest = hashlib.sha256(f"photo-{seed}".encode()).hexdigest()
    thumb = hashlib.sha256(f"thumb-{seed}".encode()).hexdigest()
    return StoredImage(digest, thumb, 1000, "image/jpeg", 64, 48)


def submit_with_secret(
    factory: sessionmaker[Session],
    data: commands.TicketInput = ROAD,
    *,
    now: datetime = NOW,
    photos: Sequence[StoredImage] = (),
) -> tuple[str, str]:
    """Submit a ticket as the public; return its number and the private link's secret."""
    with factory.begin() as session:
        result = commands.submit_ticket(
            session, data=data, actor=Actor.public(), now=now, photos=photos
        )
        assert result.reporter_secret is not None
        return result.ticket.number, result.reporter_secret


def audit_events(factory: sessionmaker[Session], number: str) -> list[AuditEvent]:
    """A ticket's audit events in chain order, detached from their session."""
    with factory() as session:
        rows = list(
            session.scalars(
                select(AuditEvent)
                .join(ProcessInstance, ProcessInstance.id == AuditEvent.instance_id)
                .join(Ticket, Ticket.id == ProcessInstance.ticket_id)
                .where(Ticket.number == number)
                .order_by(AuditEvent.seq)
            )
        )
        session.expunge_all()
        return rows
