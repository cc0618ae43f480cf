"""Read-only pages under /audit: the auditors' ticket search, one ticket's whole trail on the
diagram and exports (auditors and admins), and the heatmap of the lifecycle (also supervisors
and designers, checked by its own view). Whoever is not signed in goes to the sign-in page
first; every other role gets the 403 page."""

from __future__ import annotations

from flask import Blueprint
from flask import request
from werkzeug.wrappers import Response

from engine.errors import Forbidden
from web.auth import require_actor
from web.officer import signed_in

AUDIT_ROLES = frozenset({"auditor", "admin"})
OWN_ROLE_CHECK = frozenset({"auditor.heatmap_page", "auditor.heatmap_csv"})

blp = Blueprint("auditor", __name__, url_prefix="/audit")
blp.before_request(signed_in)


@blp.before_request
def auditors_only() -> None:
    if request.endpoint in OWN_ROLE_CHECK:
        return
    if require_actor().role not in AUDIT_ROLES:
        raise Forbidden("for auditors only")


@blp.after_request
def not_cached(response: Response) -> Response:
    # A reporter's contact shown on request must not stay in a shared or back-button cache.
    response.headers["Cache-Control"] = "private, no-store"
    return response


from web.auditor import exports  # noqa: E402,F401  (views register on blp)
from web.auditor import heatmap  # noqa: E402,F401
from web.auditor import search  # noqa: E402,F401
from web.auditor import ticket  # noqa: E402,F401
