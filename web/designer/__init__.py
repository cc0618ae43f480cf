"""Pages and JSON endpoints for process designers: the deployed definitions and their files,
checking and deploying new ones (with a diff against the running bundle).

Role ``designer`` (and ``admin``). Pages send a visitor to sign in; the JSON endpoints under
``/desain/api/`` answer 401 instead. Both are CSRF-protected (pages by their form field, the
JSON endpoints by the ``X-CSRFToken`` header: the token is in every designer page's
``<meta name="csrf-token">``).
"""

from __future__ import annotations

from flask import Blueprint
from flask import redirect
from flask import request
from flask import url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from engine.designer import require_designer
from web.auth import require_actor

blp = Blueprint("designer", __name__, url_prefix="/desain")
API_PREFIX = "/desain/api/"


@blp.before_request
def designers_only() -> Response | None:
    if not request.path.startswith(API_PREFIX) and not current_user.is_authenticated:
        return redirect(url_for("officer.sign_in", next=request.full_path.rstrip("?")))
    require_designer(require_actor())
    return None


@blp.after_request
def not_cached(response: Response) -> Response:
    response.headers.setdefault("Cache-Control", "private, no-store")
    return response


from web.designer import api  # noqa: E402,F401  (views register on blp)
from web.designer import migration  # noqa: E402,F401
from web.designer import modeler  # noqa: E402,F401
from web.designer import pages  # noqa: E402,F401
