"""The task page: the ticket in context and the form from the task's JSON Schema; claim,
release and take over."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from typing import Any

from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_babel import gettext
from werkzeug.wrappers import Response

from engine import attachments
from engine import claims
from engine import commands
from engine import links
from engine.errors import Conflict
from engine.errors import Forbidden
from engine.errors import InvalidInput
from engine.forms import FormInvalid
from engine.task_view import TaskView
from engine.task_view import task_view
from web import i18n
from web.auth import require_actor
from web.officer import blp
from web.officer import taskform
from web.officer.forms import ConfirmForm
from web.session import db


def _view(task_id: int) -> TaskView:
    return task_view(
        db(), task_id, actor=require_actor(), lang=i18n.current(), now=datetime.now(UTC)
    )


def _page(view: TaskView, **extra: Any) -> str:
    return render_template(
        "officer/task.html",
        task=view,
        t=view.ticket,
        form=view.form(i18n.current()),
        now=datetime.now(UTC),
        posted=extra.pop("posted", taskform.Posted()),
        kept=extra.pop("kept", {}),
        version=extra.pop("version", view.version),
        confirm=ConfirmForm(),
        staff=True,
        **extra,
    )


@blp.get("/petugas/tugas/<int:task_id>")
def task(task_id: int) -> str:
    return _page(_view(task_id))


@blp.post("/petugas/tugas/<int:task_id>")
def complete(task_id: int) -> Response | str | tuple[str, int]:
    actor = require_actor()
    session = db()
    now = datetime.now(UTC)
    view = _view(task_id)
    form = view.form(i18n.current())
    posted = taskform.read(form) if form is not None else taskform.Posted()
    version = request.form.get("version", type=int)
    if posted.errors:
        return _page(view, posted=posted, kept=taskform.kept(posted), version=version)
    data = dict(posted.data)
    try:
        for name, photo in posted.photos.items():
            purpose = next(f.attachment for f in form.fields if f.name == name) if form else None
            (row,) = attachments.add(
                session,
                ticket_id=view.ticket_id,
                purpose=purpose or "after",
                uploader=actor.name,
                images=[photo],
                now=now,
                linked=False,
            )
            data[name] = row.id
        commands.complete_task(
            session, task_id=task_id, actor=actor, data=data, now=now, expected_version=version
        )
        session.commit()
    except FormInvalid as exc:
        session.rollback()
        posted.errors = taskform.messages(form, exc.problems, posted.typed) if form else {}
        return _page(view, posted=posted, kept=taskform.kept(posted), version=version)
    except InvalidInput as exc:
        session.rollback()
        if isinstance(exc, links.SelfReference):
            said = gettext("Tulis nomor laporan lain, bukan nomor laporan ini sendiri.")
        else:
            said = gettext("Tidak ada laporan dengan nomor itu.")
        posted.errors = {name: [said] for name in exc.fields}
        return _page(view, posted=posted, kept=taskform.kept(posted), version=version)
    except Conflict:
        session.rollback()
        fresh = _view(task_id)
        page = _page(
            fresh, posted=posted, kept=taskform.kept(posted), conflict=True, version=fresh.version
        )
        return page, 409
    flash(gettext("Tugas untuk laporan %(n)s selesai.", n=view.ticket.number))
    return redirect(url_for("officer.inbox"))


@blp.post("/petugas/tugas/<int:task_id>/ambil")
def claim(task_id: int) -> Response:
    session = db()
    try:
        claims.claim(session, task_id=task_id, actor=require_actor(), now=datetime.now(UTC))
        session.commit()
        flash(gettext("Tugas ini kini Anda kerjakan."))
    except Conflict:
        session.rollback()
        return redirect(url_for("officer.take_over", task_id=task_id))
    return redirect(url_for("officer.task", task_id=task_id))


@blp.route("/petugas/tugas/<int:task_id>/ambil-alih", methods=["GET", "POST"])
def take_over(task_id: int) -> Response | str:
    view = _view(task_id)
    if view.candidate_group not in require_actor().groups:  # supervisors and auditors read
        raise Forbidden(f"task {task_id} belongs to group '{view.candidate_group}'")
    form = ConfirmForm()
    if request.method == "POST" and form.validate_on_submit():
        session = db()
        try:
            previous = claims.claim(
                session,
                task_id=task_id,
                actor=require_actor(),
                now=datetime.now(UTC),
                take_over=True,
            )
            session.commit()
        except Conflict:
            session.rollback()
            flash(gettext("Tugas ini sudah tidak terbuka."))
            return redirect(url_for("officer.inbox"))
        flash(gettext("Anda mengambil alih tugas ini dari %(who)s.", who=previous or "-"))
        return redirect(url_for("officer.task", task_id=task_id))
    return render_template("officer/take_over.html", task=view, form=form)


@blp.post("/petugas/tugas/<int:task_id>/lepas")
def release(task_id: int) -> Response:
    session = db()
    try:
        claims.release(session, task_id=task_id, actor=require_actor(), now=datetime.now(UTC))
        session.commit()
        flash(gettext("Tugas ini Anda lepaskan untuk rekan satu kelompok."))
    except Conflict:
        session.rollback()
    return redirect(url_for("officer.task", task_id=task_id))
