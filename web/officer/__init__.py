"""Pages for officers: sign in, the inbox, task pages, the heads' and supervisors' pages.

Every page but the sign-in page needs a signed-in officer; one who is not signed in (or whose
session expired) is sent to the sign-in page and comes back afterwards.
"""

from __future__ import annotations

from flask import Blueprint
from flask import redirect
from flask import request
from flask import url_for
from flask_login import current_user
from werkzeug.wrappers import Response

blp = Blueprint("officer", __name__)
OPEN = frozenset({"officer.sign_in"})


@blp.before_request
def signed_in() -> Response | None:
    if request.endpoint in OPEN or current_user.is_authenticated:
        return None
    return redirect(url_for("officer.sign_in", next=request.full_path.rstrip("?")))


from web.officer import account  # noqa: E402,F401  (views register on blp)
from web.officer import inbox  # noqa: E402,F401
from web.officer import oversight  # noqa: E402,F401
from web.officer import task  # noqa: E402,F401
from web.officer import tickets  # noqa: E402,F401
from web.officer import trends  # noqa: E402,F401
