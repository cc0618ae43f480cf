"""Open311 GeoReport v2 ``POST requests``: the form a partner sends, read into a ticket.

The fields are the specification's (``service_code``, ``lat``/``long`` or ``address_string``,
``description``, ``email``, ``phone``, ``first_name``, ``last_name``, ``media_url``) and the
attributes of the service definition (engine.georeport.attributes) as ``attribute[code]``.
Attributes this city does not define are ignored, as a client may send its own. A report
without an e-mail address or phone number is anonymous: nobody could be told about it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from engine import reference
from engine.commands import TicketInput
from engine.errors import InvalidInput
from engine.errors import NotFound
from engine.georeport import KIND_NAMES
from engine.reporter import valid_contact

TITLE = (3, 200)
DESCRIPTION = (3, 5000)
ADDRESS_MAX = 300
NAME_MAX = 120
CONTACT_MAX = 200
KECAMATAN_MAX = 80
MEDIA_URL_MAX = 500
_TRUE = ("true", "1", "ya", "yes")
_FALSE = ("false", "0", "tidak", "no", "")


def _text(form: Mapping[str, str], name: str) -> str:
    """A one-line field, its runs of spaces made one."""
    return " ".join((form.get(name) or "").split())


def _attribute(form: Mapping[str, str], code: str) -> str:
    return (form.get(f"attribute[{code}]") or "").strip()


def _flag(form: Mapping[str, str], code: str) -> bool:
    value = _attribute(form, code).lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise InvalidInput(
        f"attribute[{code}] must be true or false", fields={f"attribute[{code}]": ["true, false"]}
    )


def _coordinate(form: Mapping[str, str], name: str, limit: float) -> float | None:
    raw = (form.get(name) or "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or not -limit <= value <= limit:
        raise InvalidInput(
            f"{name} is not a coordinate",
            fields={name: [f"a decimal number from -{limit} to {limit}"]},
        )
    return value


def _length(value: str, name: str, bounds: tuple[int, int]) -> str:
    low, high = bounds
    if not low <= len(value) <= high:
        raise InvalidInput(
            f"{name} must have {low} to {high} characters",
            fields={name: [f"{low} to {high} characters"]},
        )
    return value


def _kecamatan(form: Mapping[str, str]) -> str | None:
    """The kecamatan as sent (its key or its name; the use case finds the city's spelling)."""
    value = " ".join(_attribute(form, "kecamatan").split())
    return _length(value, "attribute[kecamatan]", (1, KECAMATAN_MAX)) if value else None


def _media_url(form: Mapping[str, str]) -> str | None:
    url = (form.get("media_url") or "").strip()
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or len(url) > MEDIA_URL_MAX:
        raise InvalidInput(
            "media_url is not a web address",
            fields={
                "media_url": [f"an http or https address of at most {MEDIA_URL_MAX} characters"]
            },
        )
    return url


def read_request(session: Session, form: Mapping[str, str]) -> TicketInput:
    """The ticket a ``POST requests`` form describes; InvalidInput (400) or NotFound (404,
    an unknown ``service_code``) naming what is wrong."""
    code = (form.get("service_code") or "").strip()
    if not code:
        raise InvalidInput("service_code was not provided", fields={"service_code": ["required"]})
    if code not in reference.categories(session):
        raise NotFound(f"service_code '{code}' was not found", fields={"service_code": ["unknown"]})
    latitude = _coordinate(form, "lat", 90)
    longitude = _coordinate(form, "long", 180)
    if (latitude is None) != (longitude is None):
        raise InvalidInput("give lat and long together", fields={"lat": ["with long"]})
    address = _text(form, "address_string") or _text(form, "address_id") or None
    if address is not None:
        _length(address, "address_string", (1, ADDRESS_MAX))
    if latitude is None and address is None:
        raise InvalidInput(
            "a location is required: lat and long, or address_string",
            fields={"address_string": ["lat and long, or an address"]},
        )
    description = _length((form.get("description") or "").strip(), "description", DESCRIPTION)
    media_url = _media_url(form)
    if media_url:
        # LAKSA does not fetch it (its photos are checked by their content, rule 13); the
        # officers see the address with the report.
        description = _length(f"{description}\n\nFoto: {media_url}", "description", DESCRIPTION)
    title = " ".join(_attribute(form, "title").split())
    if title:
        _length(title, "attribute[title]", TITLE)
    else:
        # The description's first line, or its start when that line is too short to name it.
        first_line = " ".join(description.splitlines()[0].split())
        whole = " ".join(description.split())
        title = (first_line if len(first_line) >= TITLE[0] else whole)[: TITLE[1]].strip()
    kind = _attribute(form, "kind") or "complaint"
    if kind not in KIND_NAMES:
        raise InvalidInput(
            f"attribute[kind] '{kind}' is not a kind of report",
            fields={"attribute[kind]": [", ".join(KIND_NAMES)]},
        )
    name = " ".join(f"{_text(form, 'first_name')} {_text(form, 'last_name')}".split()) or None
    if name is not None:
        _length(name, "first_name", (1, NAME_MAX))
    contact = _text(form, "email") or _text(form, "phone") or None
    if contact is not None and (len(contact) > CONTACT_MAX or not valid_contact(contact)):
        raise InvalidInput(
            "email or phone is not valid",
            fields={"email": ["an e-mail address, or a phone number (8 to 15 digits)"]},
        )
    return TicketInput(
        kind=kind,
        category=code,
        title=title,
        description=description,
        location=address,
        latitude=latitude,
        longitude=longitude,
        kecamatan=_kecamatan(form),
        reporter_name=name,
        reporter_contact=contact,
        anonymous=_flag(form, "anonymous") or contact is None,
        confidential=_flag(form, "confidential"),
    )
