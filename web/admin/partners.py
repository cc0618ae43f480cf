"""The admin's partner pages: partner systems, their keys (shown once), webhook subscriptions
and their failed deliveries (as `laksa partners`)."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from datetime import timedelta

from flask import abort
from flask import flash
from flask import redirect
from flask import render_template
from flask import url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response

from engine import partner_hooks
from engine import partners
from engine.errors import InvalidInput
from engine.errors import NotFound
from engine.models import Partner
from engine.models import PartnerKey
from engine.models import PartnerWebhook
from web.admin import blp
from web.admin.forms import PartnerForm
from web.admin.forms import PartnerKeyForm
from web.admin.forms import WebhookForm
from web.officer.forms import ConfirmForm
from web.session import db

SCOPE_LABELS = {
    partners.SUBMIT: _l("submit: mengirim laporan"),
    partners.READ: _l("read: membaca laporannya sendiri"),
    partners.FOLLOW: _l("follow: menjawab atas nama pelapor"),
}
TOPIC_LABELS = {
    partner_hooks.STATUS: _l("ticket.status: status berubah"),
    partner_hooks.MESSAGE: _l("ticket.message: pesan baru"),
    partner_hooks.CLOSED: _l("ticket.closed: laporan ditutup"),
}


def _now() -> datetime:
    return datetime.now(UTC)


@blp.route("/mitra", methods=["GET", "POST"])
def partners_page() -> Response | str:
    session = db()
    form = PartnerForm()
    if form.validate_on_submit():
        try:
            partner = partners.create_partner(
                session,
                code=(form.code.data or "").strip(),
                name=(form.name.data or "").strip(),
                now=_now(),
            )
            session.commit()
            flash(gettext("Mitra %(c)s dibuat.", c=partner.code))
            return redirect(url_for("admin.partner", code=partner.code))
        except InvalidInput as exc:
            session.rollback()
            target = form.name if "name" in exc.fields else form.code
            target.errors = [*target.errors, gettext("Tidak dapat diterima: %(m)s", m=exc.message)]
    return render_template(
        "admin/partners.html", partners=partners.list_partners(session, now=_now()), form=form
    )


def _key_form() -> PartnerKeyForm:
    form = PartnerKeyForm()
    form.scopes.choices = [(s, str(label)) for s, label in SCOPE_LABELS.items()]
    return form


def _webhook_form(*, fresh: bool = False) -> WebhookForm:
    """The subscription form: as posted, or empty (``fresh``) once a subscription is added."""
    form = WebhookForm(formdata=None, prefix="webhook") if fresh else WebhookForm(prefix="webhook")
    form.topics.choices = [(t, str(label)) for t, label in TOPIC_LABELS.items()]
    return form


def _found(code: str) -> Partner:
    try:
        return partners.partner_by_code(db(), code)
    except NotFound:
        abort(404)


@blp.route("/mitra/<string:code>", methods=["GET", "POST"])
def partner(code: str) -> str:
    """One partner: its keys (a new one shown once), subscriptions and failed deliveries."""
    session = db()
    found = _found(code)
    form = _key_form()
    created = None
    if form.validate_on_submit():
        try:
            _, created = partners.create_key(
                session,
                partner_code=code,
                scopes=list(form.scopes.data or ()),
                now=_now(),
                lifetime=timedelta(days=form.days.data) if form.days.data else None,
            )
            session.commit()
        except InvalidInput as exc:
            session.rollback()
            form.scopes.errors = [gettext("Tidak dapat diterima: %(m)s", m=exc.message)]
    return _page(found, form, _webhook_form(), created_key=created)


@blp.post("/mitra/<string:code>/webhook")
def add_webhook(code: str) -> str:
    """A new subscription; its secret is shown once, beside the confirmation."""
    session = db()
    found = _found(code)
    form = _webhook_form()
    created = None
    if form.validate_on_submit():
        try:
            created = partner_hooks.create_webhook(
                session,
                partner_code=code,
                url=form.url.data or "",
                topics=list(form.topics.data or ()),
                now=_now(),
            )
            session.commit()
            form = _webhook_form(fresh=True)  # the page offers an empty form for the next one
        except InvalidInput as exc:
            session.rollback()
            target = form.topics if "topics" in exc.fields else form.url
            target.errors = [*target.errors, gettext("Tidak dapat diterima: %(m)s", m=exc.message)]
    return _page(found, _key_form(), form, created_webhook=created)


def _page(
    found: Partner,
    form: PartnerKeyForm,
    webhook_form: WebhookForm,
    *,
    created_key: str | None = None,
    created_webhook: PartnerWebhook | None = None,
) -> str:
    session = db()
    webhooks = partner_hooks.list_webhooks(session, partner_code=found.code)
    return render_template(
        "admin/partner.html",
        partner=found,
        keys=partners.list_keys(session, partner_code=found.code),
        webhooks=webhooks,
        failed=[
            f
            for hook in webhooks
            for f in partner_hooks.failed_deliveries(session, webhook_id=hook.id, limit=20)
        ],
        form=form,
        webhook_form=webhook_form,
        created_key=created_key,
        created_webhook=created_webhook,
        scope_labels=SCOPE_LABELS,
        confirm=ConfirmForm(),
        now=_now(),
    )


@blp.post("/mitra/<string:code>/aktif")
def partner_active(code: str) -> Response:
    """Switch a partner on or off (its keys answer 401 and its webhooks wait while off)."""
    ConfirmForm()
    session = db()
    found = _found(code)
    partners.set_active(session, code=code, active=not found.active)
    session.commit()
    flash(gettext("Mitra diaktifkan.") if found.active else gettext("Mitra dinonaktifkan."))
    return redirect(url_for("admin.partner", code=code))


@blp.post("/mitra/kunci/<int:key_id>/cabut")
def revoke_partner_key(key_id: int) -> Response:
    ConfirmForm()
    session = db()
    key = session.get(PartnerKey, key_id)
    if key is None:
        abort(404)
    if partners.revoke_key(session, key_id=key_id, now=_now()):
        session.commit()
        flash(gettext("Kunci dicabut."))
    return redirect(url_for("admin.partner", code=_code(key.partner_id)))


@blp.post("/mitra/webhook/<int:webhook_id>/aktif")
def webhook_active(webhook_id: int) -> Response:
    ConfirmForm()
    session = db()
    hook = session.get(PartnerWebhook, webhook_id)
    if hook is None:
        abort(404)
    partner_hooks.set_webhook_active(session, webhook_id=webhook_id, active=not hook.active)
    session.commit()
    flash(gettext("Langganan diaktifkan.") if hook.active else gettext("Langganan dihentikan."))
    return redirect(url_for("admin.partner", code=_code(hook.partner_id)))


@blp.post("/mitra/webhook/<int:webhook_id>/ulang")
def webhook_replay(webhook_id: int) -> Response:
    """Send a subscription's failed deliveries again (fresh attempts, the same message ids)."""
    ConfirmForm()
    session = db()
    hook = session.get(PartnerWebhook, webhook_id)
    if hook is None:
        abort(404)
    count = partner_hooks.replay_failed(session, webhook_id=webhook_id, now=_now())
    session.commit()
    flash(gettext("%(n)s pengiriman dijadwalkan ulang.", n=count))
    return redirect(url_for("admin.partner", code=_code(hook.partner_id)))


def _code(partner_id: int) -> str:
    found = db().get(Partner, partner_id)
    return found.code if found is not None else ""
