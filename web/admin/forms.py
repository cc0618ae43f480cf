"""The admin's forms: users, groups, API tokens, partner systems."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField
from wtforms import IntegerField
from wtforms import PasswordField
from wtforms import SelectField
from wtforms import SelectMultipleField
from wtforms import StringField
from wtforms import widgets
from wtforms.validators import InputRequired
from wtforms.validators import Length
from wtforms.validators import NumberRange
from wtforms.validators import Optional

from engine.identity import MIN_PASSWORD


class CheckboxList(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class UserForm(FlaskForm):
    username = StringField(
        _l("Nama pengguna"),
        validators=[InputRequired(message=_l("Wajib diisi.")), Length(max=80)],
    )
    display_name = StringField(_l("Nama lengkap"), validators=[Optional(), Length(max=120)])
    role = SelectField(_l("Peran"))
    groups = CheckboxList(_l("Kelompok"), validate_choice=True)
    active = BooleanField(_l("Boleh masuk"), default=True)
    password = PasswordField(
        _l("Kata sandi (baru)"),
        validators=[
            Optional(),
            Length(min=MIN_PASSWORD, message=_l("Paling sedikit 8 karakter.")),
        ],
    )


class GroupForm(FlaskForm):
    code = StringField(
        _l("Kode"), validators=[InputRequired(message=_l("Wajib diisi.")), Length(max=80)]
    )
    name = StringField(
        _l("Nama"), validators=[InputRequired(message=_l("Wajib diisi.")), Length(max=200)]
    )
    kind = SelectField(_l("Jenis"))


class TokenForm(FlaskForm):
    user = SelectField(_l("Pengguna"))
    name = StringField(
        _l("Untuk apa"),
        validators=[InputRequired(message=_l("Wajib diisi.")), Length(max=80)],
    )
    days = IntegerField(
        _l("Berlaku (hari)"),
        default=90,
        validators=[Optional(), NumberRange(1, 3650, message=_l("1 sampai 3.650 hari."))],
    )


class PartnerForm(FlaskForm):
    code = StringField(
        _l("Kode"), validators=[InputRequired(message=_l("Wajib diisi.")), Length(max=40)]
    )
    name = StringField(
        _l("Nama"), validators=[InputRequired(message=_l("Wajib diisi.")), Length(max=200)]
    )


class PartnerKeyForm(FlaskForm):
    scopes = CheckboxList(_l("Izin"), validate_choice=True)
    days = IntegerField(
        _l("Berlaku (hari)"),
        default=365,
        validators=[Optional(), NumberRange(1, 3650, message=_l("1 sampai 3.650 hari."))],
    )


class WebhookForm(FlaskForm):
    url = StringField(
        _l("Alamat (URL)"),
        validators=[InputRequired(message=_l("Wajib diisi.")), Length(max=500)],
    )
    topics = CheckboxList(_l("Peristiwa"), validate_choice=True)
