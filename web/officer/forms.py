"""The officers' fixed forms (the task forms come from their JSON Schemas: web.officer.taskform)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField
from wtforms import PasswordField
from wtforms import StringField
from wtforms.validators import EqualTo
from wtforms.validators import InputRequired
from wtforms.validators import Length

from engine.identity import MIN_PASSWORD


class SignInForm(FlaskForm):
    username = StringField(
        _l("Nama pengguna"), validators=[InputRequired(message=_l("Tulis nama pengguna Anda."))]
    )
    password = PasswordField(
        _l("Kata sandi"), validators=[InputRequired(message=_l("Tulis kata sandi Anda."))]
    )
    next = HiddenField()


class PasswordForm(FlaskForm):
    current = PasswordField(
        _l("Kata sandi sekarang"),
        validators=[InputRequired(message=_l("Tulis kata sandi Anda sekarang."))],
    )
    new = PasswordField(
        _l("Kata sandi baru"),
        validators=[
            InputRequired(message=_l("Tulis kata sandi baru.")),
            Length(min=MIN_PASSWORD, message=_l("Paling sedikit 8 karakter.")),
        ],
    )
    repeat = PasswordField(
        _l("Ulangi kata sandi baru"),
        validators=[EqualTo("new", message=_l("Kedua kata sandi baru tidak sama."))],
    )


class ConfirmForm(FlaskForm):
    """A form with nothing but its CSRF token: a button that changes something."""
