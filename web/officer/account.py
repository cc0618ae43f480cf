"""Sign in, sign out, change one's own password."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime

from flask import current_app
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import session as cookie
from flask import url_for
from flask_babel import gettext
from flask_login import current_user
from flask_login import login_user
from flask_login import logout_user
from werkzeug.wrappers import Response

from engine.errors import InvalidInput
from engine.identity import VIA_SESSION
from engine.identity import actor_for
from engine.identity import authenticate
from engine.identity import change_password
from web import i18n
from web.auth import SignedIn
from web.extensions import limiter
from web.officer import blp
from web.officer.forms import ConfirmForm
from web.officer.forms import PasswordForm
from web.officer.forms import SignInForm
from web.session import db


def sign_in_limit() -> str:
    return str(current_app.config["LAKSA_SIGN_IN_LIMIT"])


@blp.route("/masuk", methods=["GET", "POST"])
@limiter.limit(sign_in_limit, methods=["POST"])
def sign_in() -> Response | str:
    form = SignInForm(next=request.args.get("next"))
    if form.validate_on_submit():
        session = db()
        user = authenticate(session, (form.username.data or "").strip(), form.password.data or "")
        if user is not None:
            cookie.permanent = True  # expires after PERMANENT_SESSION_LIFETIME without use
            login_user(SignedIn(user, actor_for(session, user, via=VIA_SESSION)))
            return redirect(
                i18n.safe_next(form.next.data) if form.next.data else url_for("officer.inbox")
            )
        form.password.errors = [gettext("Nama pengguna atau kata sandi salah.")]
    return render_template("officer/sign_in.html", form=form)


@blp.post("/keluar")
def sign_out() -> Response:
    ConfirmForm()  # CSRF is checked before the view; the form has no fields
    logout_user()
    flash(gettext("Anda telah keluar."))
    return redirect(url_for("officer.sign_in"))


@blp.route("/akun/sandi", methods=["GET", "POST"])
def password() -> Response | str:
    form = PasswordForm()
    if form.validate_on_submit():
        session = db()
        try:
            change_password(
                session,
                user=current_user.user,
                current=form.current.data or "",
                new=form.new.data or "",
            )
            session.commit()
        except InvalidInput:
            session.rollback()
            form.current.errors = [gettext("Kata sandi sekarang salah.")]
            return render_template("officer/password.html", form=form)
        # Other sessions end with the old password; this one carries on under the new one.
        login_user(SignedIn(current_user.user, current_user.actor))
        flash(gettext("Kata sandi Anda telah diganti."))
        return redirect(url_for("officer.inbox"))
    return render_template("officer/password.html", form=form, now=datetime.now(UTC))
