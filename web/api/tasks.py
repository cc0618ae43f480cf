"""Tasks: the officer's inbox over the API."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC
from datetime import datetime
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from engine import commands
from engine import queries
from web.api.schemas import TaskCompletedSchema
from web.api.schemas import TaskCompleteSchema
from web.api.schemas import TaskSchema
from web.auth import require_actor
from web.session import db

blp = Blueprint("tasks", __name__, description="Ready tasks of the caller's groups")


@blp.route("")
class Tasks(MethodView):
    @blp.response(200, TaskSchema(many=True))
    @blp.doc(security=[{"bearer": []}])
    def get(self) -> list[dict[str, Any]]:
        """Ready tasks of the groups the bearer belongs to, most urgent first."""
        actor = require_actor()
        return [asdict(t) for t in queries.inbox(db(), actor.groups)]


@blp.route("/<int:task_id>/complete")
class CompleteTask(MethodView):
    @blp.arguments(TaskCompleteSchema)
    @blp.response(200, TaskCompletedSchema)
    @blp.doc(security=[{"bearer": []}])
    def post(self, body: dict[str, Any], task_id: int) -> dict[str, Any]:
        """Complete a ready task with its form data (validated against the form's schema)."""
        actor = require_actor()
        session = db()
        result = commands.complete_task(
            session,
            task_id=task_id,
            actor=actor,
            data=body["data"],
            now=datetime.now(UTC),
            expected_version=body["version"],
        )
        session.commit()
        return {
            "ticket": result.ticket.number,
            "status": result.ticket.status,
            "version": result.instance.version,
        }
