"""Tasks: the officer's inbox over the API."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC
from datetime import datetime
from typing import Any

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint

from engine import claims
from engine import commands
from engine import queries
from engine.task_view import task_view
from web.api.http import request_lang
from web.api.idempotency import DOC_PARAMETER as IDEMPOTENCY_DOC
from web.api.idempotency import idempotent
from web.api.schemas import ClaimSchema
from web.api.schemas import TaskCompletedSchema
from web.api.schemas import TaskCompleteSchema
from web.api.schemas import TaskDetailSchema
from web.api.schemas import TaskSchema
from web.api.tickets import ticket_extras
from web.api.tickets import ticket_fields
from web.auth import authenticated
from web.auth import require_actor
from web.session import db

blp = Blueprint("tasks", __name__, description="Ready tasks of the caller's groups")


@blp.route("")
class Tasks(MethodView):
    @authenticated
    @blp.response(200, TaskSchema(many=True))
    @blp.doc(security=[{"bearer": []}])
    def get(self) -> list[dict[str, Any]]:
        """Ready tasks of the groups the bearer belongs to, most urgent first."""
        actor = require_actor()
        return [asdict(t) for t in queries.inbox(db(), actor.groups)]


@blp.route("/<int:task_id>")
class Task(MethodView):
    @authenticated
    @blp.response(200, TaskDetailSchema)
    @blp.doc(security=[{"bearer": []}])
    def get(self, task_id: int) -> dict[str, Any]:
        """One task with its form (the JSON Schema, and its fields as the page shows them in
        ``?lang=``) and its ticket in context, so a partner app can render the task too."""
        actor = require_actor()
        lang = request_lang()
        view = task_view(db(), task_id, actor=actor, lang=lang, now=datetime.now(UTC))
        form = view.form(lang)
        return {
            "id": view.id,
            "element_id": view.element_id,
            "title": form.title if form else view.title,
            "candidate_group": view.candidate_group,
            "created_at": view.created_at,
            "due_at": view.due_at,
            "completed_at": view.completed_at,
            "claimed_by": view.claimed_by,
            "version": view.version,
            "may_complete": view.may_complete,
            "form": view.form_name,
            "schema": view.schema,
            "fields": [asdict(f) for f in form.fields] if form else [],
            "ticket": {
                **ticket_fields(view.ticket),
                **ticket_extras(view.ticket),
                "reporter_name": view.ticket.reporter_name,
                "reporter_contact": view.ticket.reporter_contact,
                "latitude": view.ticket.latitude,
                "longitude": view.ticket.longitude,
                "anonymous": view.ticket.anonymous,
                "confidential": view.ticket.confidential,
            },
            "history": [asdict(h) for h in view.history],
            "likely_originals": [asdict(c) for c in view.candidates],
        }


@blp.route("/<int:task_id>/claim")
class ClaimTask(MethodView):
    @authenticated
    @blp.response(200, ClaimSchema)
    @blp.doc(security=[{"bearer": []}])
    def post(self, task_id: int) -> dict[str, Any]:
        """Claim a task (409 if a colleague holds it; ``?take_over=true`` takes it over)."""
        session = db()
        actor = require_actor()
        take_over = request.args.get("take_over", "").lower() in ("1", "true", "yes")
        previous = claims.claim(
            session, task_id=task_id, actor=actor, now=datetime.now(UTC), take_over=take_over
        )
        session.commit()
        return {"claimed_by": actor.name, "taken_from": previous}


@blp.route("/<int:task_id>/release")
class ReleaseTask(MethodView):
    @authenticated
    @blp.response(200, ClaimSchema)
    @blp.doc(security=[{"bearer": []}])
    def post(self, task_id: int) -> dict[str, Any]:
        """Give one's claim on a task back."""
        session = db()
        claims.release(session, task_id=task_id, actor=require_actor(), now=datetime.now(UTC))
        session.commit()
        return {"claimed_by": None, "taken_from": None}


@blp.route("/<int:task_id>/complete")
class CompleteTask(MethodView):
    @blp.doc(security=[{"bearer": []}], parameters=[IDEMPOTENCY_DOC])
    @authenticated
    @blp.response(200, TaskCompletedSchema)
    @idempotent(TaskCompletedSchema)
    @blp.arguments(TaskCompleteSchema)
    def post(self, body: dict[str, Any], task_id: int) -> dict[str, Any]:
        """Complete a ready task with its form data (validated against the form's schema).

        With ``Idempotency-Key``, a retry answers the first answer instead of a 409.
        """
        result = commands.complete_task(
            db(),
            task_id=task_id,
            actor=require_actor(),
            data=body["data"],
            now=datetime.now(UTC),
            expected_version=body["version"],
        )
        return {
            "ticket": result.ticket.number,
            "status": result.ticket.status,
            "version": result.instance.version,
        }
