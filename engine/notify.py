"""Senders that deliver outbox messages: a log line, an e-mail (SMTP) or a signed webhook.

``sender_from_settings`` picks them from the environment: ``LAKSA_SMTP_URL`` adds e-mail,
``LAKSA_WEBHOOK_URL`` adds a webhook, neither leaves the log sender. E-mail reaches reporters
whose contact is an e-mail address; group notifications are only logged, since users have no
e-mail address yet. A sender raises when the message should be retried.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import smtplib
import ssl
import urllib.request
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import format_datetime
from urllib.parse import unquote
from urllib.parse import urlsplit

from engine.outbox import DELIVERED_VIA
from engine.outbox import PRIVATE_LINK_TEMPLATE
from engine.outbox import SECRET
from engine.outbox import TOPIC_REPORTER
from engine.outbox import Message
from engine.outbox import PartialDelivery
from engine.outbox import Sender
from engine.settings import Settings

log = logging.getLogger(__name__)
SIGNATURE_HEADER = "X-Laksa-Signature"
TICKET_PATH = "/laporan/{number}"  # the public page of a ticket

# Message texts (Indonesian) by template key; a key not listed gets the status line only.
TEMPLATES = {
    "info_requested": (
        "Petugas membutuhkan informasi tambahan dari Anda untuk menindaklanjuti laporan ini. "
        "Mohon kirimkan jawaban Anda melalui halaman laporan; tenggat penanganan dihentikan "
        "sementara sampai jawaban Anda kami terima."
    ),
    "resolved": (
        "Petugas telah menyelesaikan laporan Anda. Mohon konfirmasi penyelesaian ini, atau "
        "sampaikan keberatan Anda, melalui halaman laporan."
    ),
    PRIVATE_LINK_TEMPLATE: (
        "Laporan Anda telah kami terima. Simpan tautan pribadi di bawah ini: hanya dengan "
        "tautan ini Anda dapat membaca pertanyaan petugas, menjawabnya, serta mengonfirmasi "
        "atau menyanggah penyelesaian. Jangan bagikan tautan ini kepada orang lain."
    ),
}


def _who(message: Message) -> str:
    """Recipients for a log line: group codes, never a reporter's contact."""
    if message.topic == TOPIC_REPORTER:
        return "reporter"
    return ",".join(str(r) for r in message.payload.get("recipients") or ())


def _log_line(message: Message, note: str = "") -> None:
    p = message.payload
    log.info(
        "notify %s #%s ticket=%s template=%s status=%s to=%s%s",
        message.topic,
        message.id,
        p.get("ticket"),
        p.get("template"),
        p.get("status"),
        _who(message),
        f" ({note})" if note else "",
    )


class LogSender:
    """The default: one log line per message, nothing else stored or sent."""

    name = "log"

    def send(self, message: Message) -> None:
        _log_line(message)


def ticket_url(public_url: str, number: str) -> str:
    """The public page of a ticket: ``{number}`` in LAKSA_PUBLIC_URL, else its page on the site."""
    if "{number}" in public_url:
        return public_url.replace("{number}", number)
    return public_url.rstrip("/") + TICKET_PATH.format(number=number)


def email_text(message: Message, public_url: str) -> tuple[str, str]:
    """Subject and plain-text body (Indonesian) of the e-mail to a reporter."""
    p = message.payload
    number = str(p.get("ticket"))
    label = str(p.get("status_label") or p.get("status"))
    lines = ["Yth. Pelapor,", "", f"Status laporan Anda {number} kini: {label}.", ""]
    extra = TEMPLATES.get(str(p.get("template")))
    if extra:
        lines += [extra, ""]
    if p.get(SECRET):
        private = f"{ticket_url(public_url, number)}/k/{p[SECRET]}"
        lines += [f"Tautan pribadi Anda: {private}", ""]
    elif p.get("confidential"):
        lines += ["Laporan ini bersifat rahasia; buka dengan tautan pribadi Anda.", ""]
    else:
        lines += [f"Lihat laporan: {ticket_url(public_url, number)}", ""]
    lines += [
        "Terima kasih telah menggunakan LAKSA.",
        "Pesan ini dikirim otomatis; mohon tidak membalas e-mail ini.",
    ]
    return f"[LAKSA] Laporan {number}: {label}", "\n".join(lines) + "\n"


class SmtpSender:
    """Plain-text e-mail to reporters (smtp://user:pass@host:port, smtps://, ?starttls=1)."""

    name = "smtp"

    def __init__(self, url: str, *, sender: str, public_url: str, timeout: float = 30.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("LAKSA_SMTP_URL must look like smtp://[user:password@]host[:port]")
        self.ssl = parts.scheme == "smtps"
        self.host = parts.hostname
        self.port = parts.port or (465 if self.ssl else 25)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else ""
        self.starttls = "starttls=1" in parts.query or "starttls=true" in parts.query
        self.sender = sender
        self.public_url = public_url
        self.timeout = timeout

    def send(self, message: Message) -> None:
        if message.topic != TOPIC_REPORTER:
            _log_line(message, "group members have no e-mail address; logged only")
            return
        to = [str(r) for r in message.payload.get("recipients") or () if "@" in str(r)]
        if not to:
            _log_line(message, "the reporter's contact is not an e-mail address; not sent")
            return
        subject, body = email_text(message, self.public_url)
        email = EmailMessage()
        email["From"] = self.sender
        email["To"] = ", ".join(to)
        email["Subject"] = subject
        email["Date"] = format_datetime(message.created_at)
        domain = self.sender.rpartition("@")[2] or "laksa"
        email["Message-ID"] = f"<laksa.outbox.{message.id}@{domain}>"
        email.set_content(body)
        with self._connect() as smtp:
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self.username:
                smtp.login(self.username, self.password)
            smtp.send_message(email)
        _log_line(message, "e-mailed")

    def _connect(self) -> smtplib.SMTP:
        if self.ssl:
            return smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout, context=ssl.create_default_context()
            )
        return smtplib.SMTP(self.host, self.port, timeout=self.timeout)


def signature(secret: str, body: bytes) -> str:
    """The value of the signature header: ``sha256=`` + hex HMAC-SHA256 of the body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookSender:
    """POST every message as JSON, signed with LAKSA_SECRET_KEY; any non-2xx answer retries."""

    name = "webhook"

    def __init__(self, url: str, *, secret: str, timeout: float = 10.0) -> None:
        if urlsplit(url).scheme not in ("http", "https"):
            raise ValueError("LAKSA_WEBHOOK_URL must be an http(s) URL")
        self.url = url
        self.secret = secret
        self.timeout = timeout

    def body(self, message: Message) -> bytes:
        # The private link's secret is for the reporter's e-mail only, never for a webhook.
        payload = {k: v for k, v in message.payload.items() if k not in (DELIVERED_VIA, SECRET)}
        document = {
            "id": message.id,
            "topic": message.topic,
            "created_at": message.created_at.isoformat(),
            "payload": payload,
        }
        return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()

    def send(self, message: Message) -> None:
        body = self.body(message)
        request = urllib.request.Request(  # noqa: S310 (scheme checked in __init__)
            self.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "User-Agent": "LAKSA-outbox",
                "X-Laksa-Message-Id": str(message.id),
                "X-Laksa-Topic": message.topic,
                SIGNATURE_HEADER: signature(self.secret, body),
            },
        )
        with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
            if not 200 <= response.status < 300:
                raise RuntimeError(f"webhook answered {response.status}")
        _log_line(message, "posted to the webhook")


class MultiSender:
    """Several channels; one that already took a message is skipped when it is retried."""

    name = "multi"

    def __init__(self, senders: Sequence[Sender]) -> None:
        self.senders = list(senders)

    def send(self, message: Message) -> None:
        done: list[str] = []
        for sender in self.senders:
            if sender.name in message.delivered_via:
                continue
            try:
                sender.send(message)
            except Exception as exc:
                if not done:
                    raise
                raise PartialDelivery(done, exc) from exc
            done.append(sender.name)


def sender_from_settings(settings: Settings) -> Sender:
    senders: list[Sender] = []
    if settings.smtp_url:
        senders.append(
            SmtpSender(settings.smtp_url, sender=settings.smtp_from, public_url=settings.public_url)
        )
    if settings.webhook_url:
        senders.append(WebhookSender(settings.webhook_url, secret=settings.secret_key))
    if not senders:
        return LogSender()
    return senders[0] if len(senders) == 1 else MultiSender(senders)
