"""The reporter's answers: reply, confirm, dispute, rate."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import MultipleFileField
from wtforms import RadioField
from wtforms import TextAreaField
from wtforms.validators import InputRequired
from wtforms.validators import Length
from wtforms.validators import Optional

from web.public.forms import options
from web.public.forms import strip


class ReplyForm(FlaskForm):
    text = TextAreaField(
        _l("Jawaban Anda"),
        filters=[strip],
        validators=[
            InputRequired(message=_l("Tulis jawaban Anda.")),
            Length(min=2, max=4000, message=_l("Jawaban 2 sampai 4.000 karakter.")),
        ],
    )
    photo = MultipleFileField(_l("Foto (boleh dikosongkan)"))


class ConfirmForm(FlaskForm):
    pass


class DisputeForm(FlaskForm):
    reason = TextAreaField(
        _l("Mengapa belum selesai?"),
        filters=[strip],
        validators=[
            InputRequired(message=_l("Tulis alasan Anda.")),
            Length(min=3, max=4000, message=_l("Alasan 3 sampai 4.000 karakter.")),
        ],
    )
    photo = MultipleFileField(_l("Foto keadaan sekarang (boleh dikosongkan)"))


SCORES = options(
    [
        ("5", _l("5 — sangat baik")),
        ("4", _l("4 — baik")),
        ("3", _l("3 — cukup")),
        ("2", _l("2 — kurang")),
        ("1", _l("1 — buruk")),
    ]
)


class RatingForm(FlaskForm):
    score = RadioField(
        _l("Nilai penanganan"),
        choices=SCORES,
        validators=[InputRequired(message=_l("Pilih nilai 1 sampai 5."))],
    )
    comment = TextAreaField(
        _l("Komentar (boleh dikosongkan)"),
        filters=[strip],
        validators=[Optional(), Length(max=2000, message=_l("Paling banyak 2.000 karakter."))],
    )
