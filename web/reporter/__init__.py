"""The reporter's private page (rule 12): the capability URL ``/laporan/<number>/k/<secret>``.

No account: whoever holds the link reads the conversation, answers the officer's question,
confirms or disputes the resolution (with a reason and a photo) and rates the handling. Each
answer is a BPMN message the ticket's process must be waiting for; the forms appear only then.
A wrong secret answers 404, like a ticket that does not exist.
"""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from typing import Any

from flask import Blueprint
from flask import Response
from flask import abort
from flask import flash
from flask import redirect
from flask import render_template
from flask import url_for
from flask_babel import gettext
from werkzeug.wrappers import Response as BaseResponse

from engine import commands
from engine import reporter
from engine.errors import Conflict
from engine.errors import InvalidInput
from engine.identity import VIA_PRIVATE_LINK
from engine.identity import Actor
from engine.models import Attachment
from engine.ticket_view import TicketView
from engine.ticket_view import ticket_view
from engine.ticket_view import viewer_access
from web import i18n
from web import uploads
from web.public.photos import send_photo
from web.reporter.forms import ConfirmForm
from web.reporter.forms import DisputeForm
from web.reporter.forms import RatingForm
from web.reporter.forms import ReplyForm
from web.session import db

blp = Blueprint("reporter", __name__, url_prefix="/laporan/<number>/k/<secret>")
MAX_PHOTOS = 3
ACTOR = Actor(name="reporter:link", role="citizen", via=VIA_PRIVATE_LINK)


@blp.after_request
def private(response: Response) -> Response:
    """The link is the key: never in another site's Referer, never in a shared cache."""
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _view(number: str, secret: str) -> TicketView:
    return ticket_view(db(), number, secret=secret, lang=i18n.current())


def _page(number: str, secret: str, **forms: Any) -> str:
    view = _view(number, secret)
    defaults = {
        "reply": ReplyForm(formdata=None),
        "confirm": ConfirmForm(formdata=None),
        "dispute": DisputeForm(formdata=None),
        "rating": RatingForm(formdata=None, score=view.rating, comment=view.rating_comment),
    }
    defaults.update(forms)
    return render_template(
        "reporter/ticket.html",
        t=view,
        now=datetime.now(UTC),
        private={"number": number, "secret": secret},
        **defaults,
    )


@blp.get("")
def ticket(number: str, secret: str) -> str:
    return _page(number, secret)


@blp.post("/balas")
def reply(number: str, secret: str) -> BaseResponse | str:
    form = ReplyForm()
    return _answer(number, secret, form, "reporter_reply", "reply", {"text": form.text.data})


@blp.post("/konfirmasi")
def confirm(number: str, secret: str) -> BaseResponse | str:
    form = ConfirmForm()
    return _answer(number, secret, form, "reporter_confirms", "confirm", {"confirmed": True})


@blp.post("/sanggah")
def dispute(number: str, secret: str) -> BaseResponse | str:
    form = DisputeForm()
    return _answer(
        number, secret, form, "reporter_disputes", "dispute", {"reason": form.reason.data}
    )


def _answer(
    number: str, secret: str, form: Any, message: str, name: str, payload: dict[str, Any]
) -> BaseResponse | str:
    session = db()
    viewer_access(session, number, secret=secret)  # 404 unless the link is right
    photos = uploads.Uploads([], [])
    if hasattr(form, "photo"):
        photos = uploads.receive("photo", limit=MAX_PHOTOS)
    valid = form.validate()  # clears the fields' errors, so the photo's come after
    if photos.errors:
        form.photo.errors = [*form.photo.errors, *photos.errors]
    if not valid or photos.errors:
        return _page(number, secret, **{name: form})
    try:
        commands.correlate_message(
            session,
            ticket_number=number.upper(),
            message=message,
            payload={k: v.strip() if isinstance(v, str) else v for k, v in payload.items()},
            actor=ACTOR,
            now=datetime.now(UTC),
            photos=photos.stored,
        )
        session.commit()
    except Conflict:
        session.rollback()
        flash(gettext("Laporan ini sudah tidak menunggu jawaban itu; lihat keadaannya kini."))
        return redirect(url_for(".ticket", number=number, secret=secret))
    flash(
        {
            "reply": gettext("Jawaban Anda terkirim. Terima kasih."),
            "confirm": gettext("Terima kasih, penyelesaian telah Anda konfirmasi."),
            "dispute": gettext("Sanggahan Anda terkirim; laporan dibuka kembali."),
        }[name]
    )
    return redirect(url_for(".ticket", number=number, secret=secret))


@blp.post("/nilai")
def rate(number: str, secret: str) -> BaseResponse | str:
    session = db()
    ticket, _ = viewer_access(session, number, secret=secret)
    form = RatingForm()
    if not form.validate():
        return _page(number, secret, rating=form)
    try:
        reporter.rate(
            session,
            ticket=ticket,
            score=int(form.score.data or 0),
            comment=form.comment.data,
            now=datetime.now(UTC),
        )
        session.commit()
    except (Conflict, InvalidInput):
        session.rollback()
        form.score.errors = [gettext("Penanganan dapat dinilai setelah laporan selesai.")]
        return _page(number, secret, rating=form)
    flash(gettext("Terima kasih atas penilaian Anda."))
    return redirect(url_for(".ticket", number=number, secret=secret))


@blp.get("/foto/<int:attachment_id>")
def photo(number: str, secret: str, attachment_id: int) -> Response:
    return _photo(number, secret, attachment_id, thumb=False)


@blp.get("/foto/<int:attachment_id>/kecil")
def photo_thumb(number: str, secret: str, attachment_id: int) -> Response:
    return _photo(number, secret, attachment_id, thumb=True)


def _photo(number: str, secret: str, attachment_id: int, *, thumb: bool) -> Response:
    session = db()
    ticket, _ = viewer_access(session, number, secret=secret)
    found = session.get(Attachment, attachment_id)
    if found is None or found.ticket_id != ticket.id or found.linked_at is None:
        abort(404)
    return send_photo(found, thumb=thumb, public=False)
