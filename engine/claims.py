"""Claim, release and take over a task: who is working on it, for colleagues to see.

A claim does not lock anyone out (any member of the group may still complete the task; the
version check decides a race). Taking over a colleague's claim needs ``take_over=True`` (the
page asks for a confirmation first). Every move is written to the ticket's audit trail, without
changing the workflow's version.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Session

from engine import audit
from engine.errors import Conflict
from engine.errors import Forbidden
from engine.errors import NotFound
from engine.identity import Actor
from engine.models import HumanTask
from engine.models import ProcessInstance
from engine.models import Ticket


def _open_task(session: Session, task_id: int, actor: Actor) -> tuple[HumanTask, str]:
    found = session.execute(
        select(HumanTask, Ticket.number)
        .join(Ticket, Ticket.id == HumanTask.ticket_id)
        .where(HumanTask.id == task_id)
    ).first()
    if found is None:
        raise NotFound(f"no task {task_id}")
    task, number = found
    if task.candidate_group not in actor.groups:
        raise Forbidden(f"task {task_id} belongs to group '{task.candidate_group}'")
    # The instance row first, as every command locks it, then the task row: the same order
    # as complete_task, so a claim racing a completion waits instead of deadlocking.
    session.execute(
        select(ProcessInstance.id).where(ProcessInstance.id == task.instance_id).with_for_update()
    )
    session.refresh(task)
    if task.completed_at is not None:
        raise Conflict(f"task {task_id} is no longer open")
    return task, number


def claim(
    session: Session, *, task_id: int, actor: Actor, now: datetime, take_over: bool = False
) -> str | None:
    """Claim a task for ``actor``; returns the colleague it was taken from, if any."""
    task, number = _open_task(session, task_id, actor)
    previous = task.claimed_by
    if previous == actor.name:
        return None
    if previous is not None and not take_over:
        raise Conflict(f"task {task_id} is claimed by {previous}")
    same_holder = (
        HumanTask.claimed_by.is_(None) if previous is None else HumanTask.claimed_by == previous
    )
    changed = session.execute(
        update(HumanTask)
        .where(HumanTask.id == task.id, same_holder)
        .values(claimed_by=actor.name, claimed_at=now)
        .execution_options(synchronize_session="fetch")
    )
    if not getattr(changed, "rowcount", 1):
        raise Conflict(f"task {task_id} was claimed by someone else meanwhile")
    action = "task_taken_over" if previous else "task_claimed"
    data = {"task": task.id, "from": previous} if previous else {"task": task.id}
    audit.note(
        session,
        task.instance_id,
        number,
        [audit.Entry(actor.name, action, task.element_id, data, via=actor.via)],
        at=now,
    )
    return previous


def release(session: Session, *, task_id: int, actor: Actor, now: datetime) -> None:
    """Give one's claim back; the task is free for the group again."""
    task, number = _open_task(session, task_id, actor)
    if task.claimed_by != actor.name:
        raise Conflict(f"task {task_id} is not claimed by you")
    session.execute(
        update(HumanTask)
        .where(HumanTask.id == task.id, HumanTask.claimed_by == actor.name)
        .values(claimed_by=None, claimed_at=None)
        .execution_options(synchronize_session="fetch")
    )
    audit.note(
        session,
        task.instance_id,
        number,
        [
            audit.Entry(
                actor.name, "task_released", task.element_id, {"task": task.id}, via=actor.via
            )
        ],
        at=now,
    )
