"""Fixtures of tests/web beyond tests/conftest.py's: the app on each backend."""

from tests.web.backends import backend  # noqa: F401
from tests.web.backends import backend_url  # noqa: F401
