"""Settings read from the environment (LAKSA_*), never at import time."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    home: Path
    database_url: str
    redis_url: str | None
    secret_key: str
    workflows_dir: Path
    process_key: str = "complaint"
    timer_interval_seconds: float = 10.0
    smtp_url: str | None = None  # LAKSA_SMTP_URL: e-mail reporters (engine/notify.py)
    smtp_from: str = "laksa@localhost"
    webhook_url: str | None = None  # LAKSA_WEBHOOK_URL: POST every notification, signed
    public_url: str = "http://127.0.0.1:5000"  # LAKSA_PUBLIC_URL: links in e-mails
    # LAKSA_CORS_ORIGINS: web origins (scheme://host[:port], comma-separated) whose pages may
    # call the API from the browser; no other origin gets CORS headers.
    cors_origins: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        """Build settings from LAKSA_* environment variables with embedded defaults."""
        env = dict(os.environ if env is None else env)
        home = Path(env.get("LAKSA_HOME", "instance")).resolve()
        database_url = env.get("LAKSA_DATABASE_URL") or f"sqlite:///{home / 'laksa.db'}"
        return cls(
            home=home,
            database_url=database_url,
            redis_url=env.get("LAKSA_REDIS_URL") or None,
            secret_key=env.get("LAKSA_SECRET_KEY") or _instance_secret(home),
            workflows_dir=Path(env.get("LAKSA_WORKFLOWS", REPO_ROOT / "workflows")).resolve(),
            timer_interval_seconds=float(env.get("LAKSA_TIMER_INTERVAL", "10")),
            smtp_url=env.get("LAKSA_SMTP_URL") or None,
            smtp_from=env.get("LAKSA_SMTP_FROM") or "laksa@localhost",
            webhook_url=env.get("LAKSA_WEBHOOK_URL") or None,
            public_url=env.get("LAKSA_PUBLIC_URL") or "http://127.0.0.1:5000",
            cors_origins=tuple(
                o.strip().rstrip("/")
                for o in env.get("LAKSA_CORS_ORIGINS", "").split(",")
                if o.strip()
            ),
        )


def seconds_from_env(
    name: str, default: timedelta, env: Mapping[str, str] | None = None
) -> timedelta:
    """A positive number of seconds from the environment variable ``name``, else ``default``."""
    value = (os.environ if env is None else env).get(name, "").strip()
    if not value:
        return default
    try:
        seconds = float(value)
    except ValueError:
        raise ValueError(f"{name} must be a number of seconds, not {value!r}") from None
    if seconds <= 0:
        raise ValueError(f"{name} must be positive, not {value!r}")
    return timedelta(seconds=seconds)


def _instance_secret(home: Path) -> str:
    """Return a secret kept in the instance folder, created on first use."""
    path = home / "secret_key"
    if path.exists():
        return path.read_text().strip()
    import secrets

    home.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    path.write_text(key)
    path.chmod(0o600)
    return key
