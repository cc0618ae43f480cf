"""Language (Bahasa Indonesia by default, English on a switch) and how pages say times.

The pages' texts are written in Indonesian (the message ids); the English catalog in
web/translations translates them. Dates are shown in Jakarta time (WIB).
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from babel import Locale
from babel.support import NullTranslations
from flask import Flask
from flask import g
from flask import has_request_context
from flask import request
from flask_babel import get_locale
from flask_babel import get_translations

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


# The language and its catalog are looked up once per request and kept on ``g``: Flask-Babel
# looks both up again on every call, and a page of 25 rows says a hundred strings.
def current() -> str:
    if not has_request_context():
        return str(get_locale() or DEFAULT)
    lang: str | None = g.get("laksa_lang")
    if lang is None:
        lang = g.laksa_lang = str(get_locale() or DEFAULT)
    return lang


def _catalog() -> NullTranslations:
    if not has_request_context():
        return get_translations()  # type: ignore[no-any-return]  # untyped in Flask-Babel
    found: NullTranslations | None = g.get("laksa_catalog")
    if found is None:
        found = g.laksa_catalog = get_translations()
    return found


def gettext(message: str, **variables: Any) -> str:
    text = _catalog().ugettext(message)
    return text % variables if variables else text


def ngettext(singular: str, plural: str, num: int, **variables: Any) -> str:
    variables.setdefault("num", num)
    return _catalog().ungettext(singular, plural, num) % variables


def safe_next(target: str | None) -> str:
    """A local path to go back to (never another site)."""
    if not target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


@lru_cache(maxsize=len(LANGUAGES))
def _months(lang: str) -> tuple[str, ...]:
    """The locale's abbreviated month names (CLDR, through Babel), January first."""
    names = Locale.parse(lang).months["format"]["abbreviated"]
    return ("", *(str(names[m]) for m in range(1, 13)))


# Babel's CLDR month names in the pattern "d MMM y": formatting through Babel's pattern engine
# costs a tenth of a millisecond a date, which an inbox of 25 rows feels.
def date(value: datetime | None) -> str:
    if value is None:
        return ""
    local = value.astimezone(JAKARTA)
    return f"{local.day} {_months(current())[local.month]} {local.year}"


def date_time(value: datetime | None) -> str:
    if value is None:
        return ""
    local = value.astimezone(JAKARTA)
    return f"{local.day} {_months(current())[local.month]} {local.year}, {local:%H.%M} WIB"


def iso(value: datetime | None) -> str:
    return value.astimezone(JAKARTA).isoformat(timespec="minutes") if value else ""


def deadline_words(due: datetime | None, now: datetime) -> str:
    """A deadline as people say it: "hari ini", "2 hari lagi", "terlambat 3 hari"."""
    if due is None:
        return ""
    days = (due.astimezone(JAKARTA).date() - now.astimezone(JAKARTA).date()).days
    if due < now:
        late = max(1, -days)
        return ngettext("terlambat %(num)d hari", "terlambat %(num)d hari", late)
    if days == 0:
        return gettext("hari ini")
    return ngettext("%(num)d hari lagi", "%(num)d hari lagi", days)


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
        return gettext("hari ini")
    return ngettext("%(num)d hari", "%(num)d hari", days)


def duration(hours: float | None) -> str:
    """A median duration: hours under two days, else days (one decimal)."""
    if hours is None:
        return NONE
    if hours < 48:
        return ngettext("%(num)d jam", "%(num)d jam", round(hours))
    days = round(hours / 24, 1)
    text = f"{days:.1f}".rstrip("0").rstrip(".")
    if current() == "id":
        text = text.replace(".", ",")
    return ngettext("%(days)s hari", "%(days)s hari", 2, days=text)


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
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]  # jinja2.ext.i18n
        gettext=lambda s: _catalog().ugettext(s),
        ngettext=lambda s, p, n: _catalog().ungettext(s, p, n),
        newstyle=True,
        pgettext=lambda c, s: _catalog().upgettext(c, s),
        npgettext=lambda c, s, p, n: _catalog().unpgettext(c, s, p, n),
    )
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
