"""Pages for everyone: home, the report form, a ticket's public page, gallery, statistics,
the published audit anchors."""

from __future__ import annotations

from flask import Blueprint

blp = Blueprint("public", __name__)

from web.public import anchors  # noqa: E402,F401  (views register on blp)
from web.public import gallery  # noqa: E402,F401
from web.public import home  # noqa: E402,F401
from web.public import photos  # noqa: E402,F401
from web.public import report  # noqa: E402,F401
from web.public import statistics  # noqa: E402,F401
from web.public import tickets  # noqa: E402,F401
