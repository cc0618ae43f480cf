"""Language (Bahasa Indonesia by default, English on a switch) and how pages say times.

The pages' texts are written in Indonesian (the message ids); the English catalog in
web/translations translates them. Dates are shown in Jakarta time (WIB).
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

from babel import dates
from flask import Flask
from flask import request
from flask_babel import get_locale
from flask_babel import gettext
from flask_babel import ngettext

from engine.calendar import JAKARTA
from web.extensions import babel

LANGUAGES = ("id", "en")
DEFAULT = "id"
COOKIE = "lang"
NONE = "\u2013"  # an en dash where there is no figure yet


def select_locale() -> str:
    """``?lang=`` if given, else the visitor's choice kept in a cookie, else Indonesian."""
    asked = request.args.get("lang") or request.cookies.get(COOKIE)
    return asked if asked in LANGUAGES else DEFAULT


def current() -> str:
    return str(get_locale() or DEFAULT)


def safe_next(target: str | None) -> str:
    """A local path to go back to (never another site)."""
    if not target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


# Babel's own formatters with the page's locale: Flask-Babel's wrappers look the locale and
# time zone up again on every call, which an inbox of 25 rows feels.
def date(value: datetime | None) -> str:
    if value is None:
        return ""
    return str(dates.format_date(value.astimezone(JAKARTA), "d MMM y", locale=current()))


def date_time(value: datetime | None) -> str:
    if value is None:
        return ""
    local = value.astimezone(JAKARTA)
    return f"{dates.format_datetime(local, 'd MMM y, HH.mm', locale=current())} WIB"


def iso(value: datetime | None) -> str:
    return value.astimezone(JAKARTA).isoformat(timespec="minutes") if value else ""


def deadline_words(due: datetime | None, now: datetime) -> str:
    """A deadline as people say it: "hari ini", "2 hari lagi", "terlambat 3 hari"."""
    if due is None:
        return ""
    days = (due.astimezone(JAKARTA).date() - now.astimezone(JAKARTA).date()).days
    if due < now:
        late = max(1, -days)
        return str(ngettext("terlambat %(num)d hari", "terlambat %(num)d hari", late))
    if days == 0:
        return str(gettext("hari ini"))
    return str(ngettext("%(num)d hari lagi", "%(num)d hari lagi", days))


def deadline_tone(due: datetime | None, now: datetime) -> str:
    """The colour of a deadline: red when late, yellow on its last two days, else green."""
    if due is None:
        return "grey"
    if due < now:
        return "red"
    days = (due.astimezone(JAKARTA).date() - now.astimezone(JAKARTA).date()).days
    return "yellow" if days <= 1 else "green"


def age_words(since: datetime, now: datetime) -> str:
    """How long ago, in days: "hari ini", "3 hari"."""
    days = (now.astimezone(JAKARTA).date() - since.astimezone(JAKARTA).date()).days
    if days <= 0:
        return str(gettext("hari ini"))
    return str(ngettext("%(num)d hari", "%(num)d hari", days))


def duration(hours: float | None) -> str:
    """A median duration: hours under two days, else days (one decimal)."""
    if hours is None:
        return NONE
    if hours < 48:
        return str(ngettext("%(num)d jam", "%(num)d jam", round(hours)))
    days = round(hours / 24, 1)
    text = f"{days:.1f}".rstrip("0").rstrip(".")
    if current() == "id":
        text = text.replace(".", ",")
    return str(ngettext("%(days)s hari", "%(days)s hari", 2, days=text))


def percent(share: float | None) -> str:
    if share is None:
        return NONE
    text = f"{share * 100:.1f}"
    if current() == "id":
        text = text.replace(".", ",")
    return f"{text}%"


def number(value: int) -> str:
    text = f"{value:,}"
    return text.replace(",", ".") if current() == "id" else text


def init_app(app: Flask) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT)
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", "Asia/Jakarta")
    app.config.setdefault(
        "BABEL_TRANSLATION_DIRECTORIES", str(app.root_path.rstrip("/") + "/translations")
    )
    babel.init_app(app, locale_selector=select_locale)
    app.jinja_env.filters.update(
        date=date,
        date_time=date_time,
        iso=iso,
        duration=duration,
        percent=percent,
        number=number,
    )
    app.jinja_env.globals.update(
        deadline_words=deadline_words,
        deadline_tone=deadline_tone,
        age_words=age_words,
        current_language=current,
    )
