"""Pages for auditors and those who oversee the lifecycle (read-only), under /audit.

Every page needs a signed-in user (sent to the sign-in page and back otherwise); each page
checks the roles it allows itself.
"""

from __future__ import annotations

from flask import Blueprint

from web.officer import signed_in

blp = Blueprint("auditor", __name__, url_prefix="/audit")
blp.before_request(signed_in)


from web.auditor import heatmap  # noqa: E402,F401  (views register on blp)
