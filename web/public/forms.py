"""The citizens' forms (Flask-WTF: CSRF on each). Labels and messages are Indonesian message
ids, translated on the language switch."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField
from wtforms import FloatField
from wtforms import HiddenField
from wtforms import MultipleFileField
from wtforms import RadioField
from wtforms import SelectField
from wtforms import StringField
from wtforms import TextAreaField
from wtforms import ValidationError
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired
from wtforms.validators import Length
from wtforms.validators import NumberRange
from wtforms.validators import Optional

from engine.reporter import valid_contact


def options(pairs: Iterable[tuple[str, Any]]) -> list[SelectChoice]:
    """Choices for a select or radio field, from (value, label) pairs."""
    return [SelectChoice(value, label) for value, label in pairs]


KINDS = options(
    [
        ("complaint", _l("Pengaduan")),
        ("aspiration", _l("Aspirasi")),
        ("information_request", _l("Permintaan informasi")),
    ]
)


def strip(value: Any) -> Any:
    """Spaces around a value are not part of it (three spaces are not a title)."""
    return value.strip() if isinstance(value, str) else value


def _required(message: Any) -> InputRequired:
    return InputRequired(message=message)


class ReportForm(FlaskForm):
    kind = RadioField(
        _l("Jenis laporan"),
        choices=KINDS,
        default="complaint",
        validators=[_required(_l("Pilih jenis laporan."))],
    )
    category = SelectField(
        _l("Kategori"), validators=[_required(_l("Pilih kategori yang paling sesuai."))]
    )
    title = StringField(
        _l("Judul laporan"),
        filters=[strip],
        validators=[
            _required(_l("Tulis judul laporan.")),
            Length(min=3, max=200, message=_l("Judul 3 sampai 200 karakter.")),
        ],
    )
    description = TextAreaField(
        _l("Uraian"),
        filters=[strip],
        validators=[
            _required(_l("Ceritakan apa yang terjadi.")),
            Length(min=3, max=5000, message=_l("Uraian 3 sampai 5.000 karakter.")),
        ],
    )
    address = StringField(
        _l("Alamat atau patokan"),
        filters=[strip],
        validators=[Optional(), Length(max=300, message=_l("Paling banyak 300 karakter."))],
    )
    kecamatan = SelectField(_l("Kecamatan"), validators=[Optional()])
    latitude = FloatField(
        _l("Garis lintang"),
        validators=[Optional(), NumberRange(-90, 90, message=_l("Antara -90 dan 90."))],
    )
    longitude = FloatField(
        _l("Garis bujur"),
        validators=[Optional(), NumberRange(-180, 180, message=_l("Antara -180 dan 180."))],
    )
    photos = MultipleFileField(_l("Lampirkan foto"))
    name = StringField(
        _l("Nama"),
        filters=[strip],
        validators=[Optional(), Length(max=120, message=_l("Paling banyak 120 karakter."))],
    )
    contact = StringField(
        _l("E-mail atau nomor HP"),
        filters=[strip],
        validators=[Length(max=200, message=_l("Paling banyak 200 karakter."))],
    )
    anonymous = BooleanField(_l("Anonim: sembunyikan identitas saya"))
    confidential = BooleanField(_l("Rahasia: jangan tampilkan laporan ini kepada publik"))
    confirm_new = HiddenField()

    def validate_contact(self, field: StringField) -> None:
        value = (field.data or "").strip()
        if not value:
            if not self.anonymous.data:
                raise ValidationError(_l("Tulis e-mail atau nomor HP, atau pilih laporan anonim."))
            return
        if not valid_contact(value):
            raise ValidationError(_l("Tulis alamat e-mail atau nomor HP yang benar."))

    def validate(self, extra_validators: Any = None) -> bool:
        valid: bool = super().validate(extra_validators)
        half = (self.latitude.data is None) != (self.longitude.data is None)
        if half and not self.latitude.errors and not self.longitude.errors:
            missing = self.longitude if self.longitude.data is None else self.latitude
            missing.errors = [_l("Isi garis lintang dan garis bujur, atau kosongkan keduanya.")]
            valid = False
        return valid


class TrackForm(FlaskForm):
    class Meta:
        csrf = False  # a GET search, changes nothing

    nomor = StringField(
        _l("Nomor laporan"),
        filters=[strip],
        validators=[_required(_l("Tulis nomor laporan, misalnya LK-7KQ2M9XD."))],
    )


class FilterForm(FlaskForm):
    class Meta:
        csrf = False

    kategori = SelectField(_l("Kategori"), validators=[Optional()])
    kecamatan = SelectField(_l("Kecamatan"), validators=[Optional()])
