"""Flask extensions, created unbound here and bound to the app in create_app."""

from __future__ import annotations

from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFProtect

babel = Babel()
csrf = CSRFProtect()
# Memory by default; Redis when LAKSA_REDIS_URL is set (see create_app).
limiter = Limiter(key_func=get_remote_address, default_limits=[], headers_enabled=True)
