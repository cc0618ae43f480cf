"""Builders the tests share: a road complaint, submitting it, finding its open task."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from engine import commands
from engine.identity import Actor
from engine.models import HumanTask
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


def open_task(session: Session, number: str) -> HumanTask:
    """The one open human task of a ticket."""
    return session.scalars(
        select(HumanTask)
        .join(Ticket, Ticket.id == HumanTask.ticket_id)
        .where(Ticket.number == number, HumanTask.completed_at.is_(None))
    ).one()
