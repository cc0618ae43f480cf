"""The admin's pages: users, groups and memberships, API tokens (as `laksa users|tokens`);
partner systems in web/admin/partners.py."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from datetime import timedelta

from flask import Blueprint
from flask import flash
from flask import redirect
from flask import render_template
from flask import url_for
from flask_babel import gettext
from werkzeug.wrappers import Response

from engine import identity
from engine.errors import Forbidden
from engine.errors import InvalidInput
from engine.models import User
from web.admin.forms import GroupForm
from web.admin.forms import TokenForm
from web.admin.forms import UserForm
from web.auth import require_actor
from web.officer import signed_in
from web.officer.forms import ConfirmForm
from web.public.forms import options
from web.session import db

blp = Blueprint("admin", __name__, url_prefix="/admin")
blp.before_request(signed_in)


@blp.before_request
def admins_only() -> None:
    if require_actor().role != "admin":
        raise Forbidden("for admins only")


@blp.after_request
def not_cached(response: Response) -> Response:
    response.headers["Cache-Control"] = "private, no-store"  # a new token is shown once
    return response


def _user_form(form: UserForm) -> UserForm:
    form.role.choices = options((r, r) for r in identity.ROLES)
    form.groups.choices = options(
        (g.code, f"{g.code} — {g.name}") for g in identity.list_groups(db())
    )
    return form


@blp.get("")
def index() -> Response:
    return redirect(url_for("admin.users"))


@blp.route("/pengguna", methods=["GET", "POST"])
def users() -> Response | str:
    session = db()
    form = _user_form(UserForm())
    group_form = GroupForm(prefix="group")
    group_form.kind.choices = options((k, k) for k in identity.GROUP_KINDS)
    if form.validate_on_submit() and not form.password.data:
        form.password.errors = [gettext("Pengguna baru perlu kata sandi.")]
    elif form.validate_on_submit():
        try:
            identity.create_user(
                session,
                username=(form.username.data or "").strip(),
                password=form.password.data or "",
                role=form.role.data or "",
                groups=list(form.groups.data or ()),
                now=datetime.now(UTC),
                display_name=(form.display_name.data or "").strip() or None,
            )
            session.commit()
            flash(gettext("Pengguna %(u)s dibuat.", u=form.username.data))
            return redirect(url_for("admin.users"))
        except InvalidInput as exc:
            session.rollback()
            for name in exc.fields:
                target = getattr(form, name, None) or form.username
                refused = gettext("Tidak dapat diterima: %(m)s", m=exc.message)
                target.errors = [*target.errors, refused]
    return render_template(
        "admin/users.html",
        users=identity.list_users(session),
        groups=identity.list_groups(session),
        form=form,
        group_form=group_form,
    )


@blp.post("/grup")
def add_group() -> Response | str:
    session = db()
    form = GroupForm(prefix="group")
    form.kind.choices = options((k, k) for k in identity.GROUP_KINDS)
    if form.validate_on_submit():
        try:
            identity.add_group(
                session,
                code=(form.code.data or "").strip(),
                name=(form.name.data or "").strip(),
                kind=form.kind.data or "",
            )
            session.commit()
            flash(gettext("Kelompok %(c)s dibuat.", c=form.code.data))
        except InvalidInput as exc:
            session.rollback()
            flash(gettext("Kelompok tidak dibuat: %(m)s", m=exc.message))
    else:
        flash(gettext("Kelompok tidak dibuat: isi kode dan nama."))
    return redirect(url_for("admin.users"))


@blp.route("/pengguna/<int:user_id>", methods=["GET", "POST"])
def user(user_id: int) -> Response | str:
    session = db()
    found = session.get(User, user_id)
    if found is None:
        return redirect(url_for("admin.users"))
    info = next(u for u in identity.list_users(session) if u.id == user_id)
    form = _user_form(
        UserForm(
            username=info.username,
            display_name=info.display_name,
            role=info.role,
            groups=list(info.groups),
            active=info.active,
        )
    )
    if form.validate_on_submit():
        try:
            identity.update_user(
                session,
                user_id=user_id,
                display_name=(form.display_name.data or "").strip(),
                role=form.role.data or "",
                groups=list(form.groups.data or ()),
                active=bool(form.active.data),
                password=form.password.data or None,
            )
            session.commit()
            flash(gettext("Pengguna %(u)s disimpan.", u=info.username))
            return redirect(url_for("admin.users"))
        except InvalidInput as exc:
            session.rollback()
            form.role.errors = [gettext("Tidak dapat diterima: %(m)s", m=exc.message)]
    return render_template("admin/user.html", form=form, info=info)


@blp.route("/token", methods=["GET", "POST"])
def tokens() -> Response | str:
    session = db()
    form = TokenForm()
    form.user.choices = options((u.username, u.username) for u in identity.list_users(session))
    created = None
    if form.validate_on_submit():
        created = identity.create_token(
            session,
            username=form.user.data or "",
            name=(form.name.data or "").strip(),
            now=datetime.now(UTC),
            lifetime=timedelta(days=form.days.data) if form.days.data else None,
        )
        session.commit()
    return render_template(
        "admin/tokens.html",
        tokens=identity.list_tokens(session),
        form=form,
        created=created,
        confirm=ConfirmForm(),
        now=datetime.now(UTC),
    )


@blp.post("/token/<int:token_id>/cabut")
def revoke(token_id: int) -> Response:
    ConfirmForm()
    session = db()
    if identity.revoke_token(session, token_id=token_id, now=datetime.now(UTC)):
        session.commit()
        flash(gettext("Token dicabut."))
    return redirect(url_for("admin.tokens"))


from web.admin import partners as _partners  # noqa: E402 (registers its routes on blp)

__all__ = ["_partners", "blp"]
