"""Helpers of the officer and admin page tests: sign in through /masuk, post page forms with
their CSRF token, read what a page shows, and find a ticket's tasks."""

from __future__ import annotations

import html
import re
from typing import Any
from urllib.parse import parse_qs
from urllib.parse import urlsplit

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker
from werkzeug.datastructures import MultiDict

from engine.identity import create_user
from engine.models import HumanTask
from engine.models import ProcessInstance
from engine.models import Ticket
from tests.conftest import NOW
from tests.web import pages

# One set of page helpers for all page tests (tests/web/pages.py), under the names these
# tests use.
page = pages.text
csrf_of = pages.csrf
post_multipart = pages.post_form
field_error = pages.field_error
input_value = pages.input_value
textarea_value = pages.textarea_value
ticket_of = pages.ticket_row
version_of = pages.version_of
ADMIN_PASSWORD = "password-admin"


def post_page(
    client: FlaskClient,
    path: str,
    data: dict[str, Any] | None = None,
    *,
    token_from: str | None = None,
) -> Any:
    """POST a page form (urlencoded, a list value sends the field repeatedly)."""
    body = MultiDict()
    body.add("csrf_token", csrf_of(client, token_from or path))
    for key, value in (data or {}).items():
        for item in value if isinstance(value, list) else [value]:
            body.add(key, item)
    return client.post(path, data=body)


def sign_in(
    client: FlaskClient, username: str, password: str | None = None, *, next: str | None = None
) -> Any:
    """Sign in through /masuk (the demo users' password is 'password-<name>')."""
    path = "/masuk" + (f"?next={next}" if next else "")
    data = {"username": username, "password": password or f"password-{username}"}
    if next:
        data["next"] = next
    return post_page(client, "/masuk", data, token_from=path)


def signed_in_client(app: Any, username: str, password: str | None = None) -> FlaskClient:
    client: FlaskClient = app.test_client()
    response = sign_in(client, username, password)
    assert response.status_code == 302, page(response)[:500]
    return client


def location(response: Any) -> str:
    """The redirect target as path?query."""
    parts = urlsplit(response.headers["Location"])
    return parts.path + (f"?{parts.query}" if parts.query else "")


def query_of(response: Any) -> dict[str, list[str]]:
    return parse_qs(urlsplit(response.headers["Location"]).query)


def is_sign_in_redirect(response: Any) -> bool:
    return response.status_code == 302 and urlsplit(response.headers["Location"]).path == "/masuk"


def checked_radio(text: str, name: str) -> str | None:
    for tag in re.findall(rf'<input[^>]*\bname="{re.escape(name)}"[^>]*>', text):
        if re.search(r"\bchecked\b", tag):
            value = re.search(r'\bvalue="([^"]*)"', tag)
            return html.unescape(value.group(1)) if value else None
    return None


def jpeg(colour: tuple[int, int, int] = (40, 140, 40), size: tuple[int, int] = (64, 48)) -> bytes:
    return pages.jpeg(colour, size)


# -- the database -------------------------------------------------------------------------------


def open_task_of(factory: sessionmaker[Session], number: str) -> HumanTask:
    """The ticket's one open task (detached)."""
    with factory() as session:
        task = session.scalars(
            select(HumanTask)
            .join(Ticket, Ticket.id == HumanTask.ticket_id)
            .where(Ticket.number == number, HumanTask.completed_at.is_(None))
        ).one()
        session.expunge(task)
        return task


def make_admin(factory: sessionmaker[Session], username: str = "admin") -> str:
    """An admin (role admin, groups verifier and supervisor); returns the password."""
    with factory.begin() as session:
        create_user(
            session,
            username=username,
            password=ADMIN_PASSWORD,
            role="admin",
            groups=["verifier", "supervisor"],
            now=NOW,
        )
    return ADMIN_PASSWORD


def fire_timers(factory: sessionmaker[Session], number: str, *, now: Any) -> None:
    """Fire the ticket's timers due at ``now`` in their own transaction."""
    from engine import commands

    with factory.begin() as session:
        instance_id = session.scalars(
            select(ProcessInstance.id)
            .join(Ticket, Ticket.id == ProcessInstance.ticket_id)
            .where(Ticket.number == number)
        ).one()
        commands.fire_timers(session, instance_id=instance_id, now=now)
