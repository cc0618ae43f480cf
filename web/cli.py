"""The `laksa` command: set up, deploy, serve, sweep timers, deliver the outbox, verify audit."""

from __future__ import annotations

import secrets
import sys
import threading
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from pathlib import Path

import click
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from engine import audit
from engine import calendar
from engine import definitions
from engine import demo
from engine import migrate
from engine import notify
from engine import outbox
from engine import stays
from engine import tally
from engine import timers
from engine.db import make_engine
from engine.db import make_session_factory
from engine.errors import LaksaError
from engine.identity import create_token
from engine.identity import create_user
from engine.identity import list_tokens
from engine.identity import revoke_token
from engine.runtime import DefinitionError
from engine.settings import Settings


def _factory(settings: Settings) -> sessionmaker[Session]:
    settings.home.mkdir(parents=True, exist_ok=True)
    return make_session_factory(make_engine(settings.database_url))


def _now() -> datetime:
    return datetime.now(UTC)


@click.group()
@click.pass_context
def main(ctx: click.Context) -> None:
    """LAKSA: citizen complaints run as BPMN processes."""
    ctx.obj = Settings.from_env()


@main.command()
@click.option("--demo", "with_demo", is_flag=True, help="Add demo OPDs, categories and users.")
@click.pass_obj
def init(settings: Settings, with_demo: bool) -> None:
    """Create the database, seed holidays, deploy workflows/ (idempotent)."""
    factory = _factory(settings)
    migrate.upgrade(settings.database_url)
    today = _now().date()
    with factory.begin() as session:
        added = calendar.seed_holidays(session, range(today.year - 1, today.year + 3))
        demo.ensure_reference_data(session)
        counted = tally.rebuild_if_missing(session)
        stays_counted = stays.rebuild_if_missing(session)
    click.echo(f"database ready at {settings.database_url} ({added} holidays added)")
    if counted:
        click.echo(f"statistics counted for {counted} existing tickets")
    if stays_counted:
        click.echo(f"heatmap: {stays_counted} element stays counted from the audit trail")
    if with_demo:
        with factory.begin() as session:
            credentials = demo.ensure_demo_users(session, settings.home, now=_now())
        click.echo("demo users (username / password / role / groups):")
        for line in credentials:
            click.echo(f"  {line}")
    _deploy(factory, settings.workflows_dir, actor="cli:init")


@main.command()
@click.argument("path", required=False, type=click.Path(path_type=Path))
@click.pass_obj
def deploy(settings: Settings, path: Path | None) -> None:
    """Validate and deploy a workflows folder or one BPMN file."""
    _deploy(_factory(settings), path or settings.workflows_dir, actor="cli:deploy")


def _deploy(factory: sessionmaker[Session], path: Path, *, actor: str) -> None:
    try:
        files = definitions.read_files(path)
        with factory.begin() as session:
            result = definitions.deploy(session, files, actor=actor, now=_now())
    except DefinitionError as exc:
        raise click.ClickException(f"not deployed: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"not deployed: {path}: {exc}") from None
    versions = ", ".join(f"{k} v{v}" for k, v in sorted(result.versions.items()))
    state = "deployed" if result.created else "unchanged, still live"
    click.echo(f"{state}: {versions}")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.pass_obj
def serve(settings: Settings, host: str, port: int) -> None:
    """Serve the app; without Redis, a thread sweeps timers and delivers the outbox in-process."""
    from web.app import create_app

    app = create_app({"SETTINGS": settings})
    if settings.redis_url is None:
        factory = _factory(settings)
        sender = notify.sender_from_settings(settings)
        stop = threading.Event()

        def sweep_forever() -> None:
            while not stop.wait(settings.timer_interval_seconds):
                try:
                    timers.run_due(factory, now=_now())
                except Exception:  # keep sweeping; the next round retries
                    app.logger.exception("timer sweep failed")
                try:
                    outbox.deliver_due(factory, now=_now(), sender=sender)
                except Exception:  # undelivered rows stay; the next round retries
                    app.logger.exception("outbox delivery failed")

        threading.Thread(target=sweep_forever, name="laksa-timers", daemon=True).start()
    click.echo(f"LAKSA on http://{host}:{port}  (API: http://{host}:{port}/api/v1/openapi.json)")
    app.run(host=host, port=port, threaded=True, use_reloader=False)


@main.group(name="timers")
def timers_group() -> None:
    """Timer sweeps."""


@timers_group.command("run-due")
@click.pass_obj
def run_due(settings: Settings) -> None:
    """Run one sweep: fire every timer that is due now."""
    result = timers.run_due(_factory(settings), now=_now())
    click.echo(f"{result.fired} instance(s) advanced, {result.failed} failed")
    if result.failed:
        sys.exit(1)


@main.group(name="outbox")
def outbox_group() -> None:
    """Notifications waiting in the outbox."""


@outbox_group.command("deliver")
@click.pass_obj
def outbox_deliver(settings: Settings) -> None:
    """One delivery pass: send every due message, print the counts."""
    factory = _factory(settings)
    result = outbox.deliver_due(factory, now=_now(), sender=notify.sender_from_settings(settings))
    with factory() as session:
        totals = outbox.counts(session)
    click.echo(
        f"{result.delivered} delivered, {result.retrying} to retry, {result.gave_up} given up; "
        f"outbox: {totals.pending} pending, {totals.delivered} delivered, {totals.failed} failed"
    )
    for error in result.errors:
        click.echo(error, err=True)


@outbox_group.command("failed")
@click.pass_obj
def outbox_failed(settings: Settings) -> None:
    """List the messages given up on after every retry (they are kept, never deleted)."""
    with _factory(settings)() as session:
        for m in outbox.failed(session):
            ticket = m.payload.get("ticket")
            click.echo(f"#{m.id} {m.topic} ticket={ticket} attempts={m.attempts}: {m.last_error}")


@main.group(name="audit")
def audit_group() -> None:
    """The tamper-evident audit trail."""


@audit_group.command("verify")
@click.pass_obj
def audit_verify(settings: Settings) -> None:
    """Recompute every ticket's chain; exit 1 naming each ticket that was tampered with."""
    with _factory(settings)() as session:
        problems = audit.verify(session)
    if problems:
        for p in problems:
            click.echo(f"TAMPERED ticket {p.ticket_number} at event {p.seq}: {p.reason}", err=True)
        sys.exit(1)
    click.echo("audit trail intact")


@main.group(name="heatmap")
def heatmap_group() -> None:
    """The heatmap's element stays (kept by every command)."""


@heatmap_group.command("rebuild")
@click.pass_obj
def heatmap_rebuild(settings: Settings) -> None:
    """Recount the element stays and breaches from the audit trail."""
    with _factory(settings).begin() as session:
        counted = stays.rebuild(session)
    click.echo(f"{counted} element stays counted from the audit trail")


@main.group()
def users() -> None:
    """User accounts."""


@users.command("create")
@click.argument("name")
@click.option("--role", required=True)
@click.option("--group", "groups", multiple=True, help="Group code; may be repeated.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.pass_obj
def users_create(
    settings: Settings, name: str, role: str, groups: tuple[str, ...], password_stdin: bool
) -> None:
    """Create a user."""
    password = sys.stdin.readline().rstrip("\n") if password_stdin else secrets.token_urlsafe(12)
    if len(password) < 8:
        raise click.ClickException("the password needs at least 8 characters")
    try:
        with _factory(settings).begin() as session:
            create_user(
                session,
                username=name,
                password=password,
                role=role,
                groups=list(groups),
                now=_now(),
            )
    except LaksaError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"user {name} created" + ("" if password_stdin else f", password: {password}"))


@main.group()
def tokens() -> None:
    """API tokens."""


@tokens.command("create")
@click.argument("name")
@click.option("--label", default="cli", show_default=True)
@click.option("--days", type=click.IntRange(1, 3650), help="Lifetime; without it, no expiry.")
@click.pass_obj
def tokens_create(settings: Settings, name: str, label: str, days: int | None) -> None:
    """Create an API token for user NAME and print it (only its hash is kept)."""
    lifetime = timedelta(days=days) if days else None
    try:
        with _factory(settings).begin() as session:
            token = create_token(session, username=name, name=label, now=_now(), lifetime=lifetime)
    except LaksaError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(token)


@tokens.command("list")
@click.option("--user", "username", help="Only this user's tokens.")
@click.pass_obj
def tokens_list(settings: Settings, username: str | None) -> None:
    """List tokens (never their values): id, user, label, created, expires, last used, state."""
    now = _now()

    def day(value: datetime | None) -> str:
        return value.strftime("%Y-%m-%d %H:%M") if value else "-"

    with _factory(settings)() as session:
        for t in list_tokens(session, username=username):
            if t.revoked_at:
                state = "revoked"
            elif t.expires_at is not None and t.expires_at <= now:
                state = "expired"
            else:
                state = "active"
            click.echo(
                f"{t.id}\t{t.username}\t{t.name}\tcreated {day(t.created_at)}\t"
                f"expires {day(t.expires_at)}\tlast used {day(t.last_used_at)}\t{state}"
            )


@tokens.command("revoke")
@click.argument("token_id", type=int)
@click.pass_obj
def tokens_revoke(settings: Settings, token_id: int) -> None:
    """Revoke token TOKEN_ID (see `laksa tokens list`)."""
    with _factory(settings).begin() as session:
        revoked = revoke_token(session, token_id=token_id, now=_now())
    if not revoked:
        raise click.ClickException(f"no active token {token_id}")
    click.echo(f"token {token_id} revoked")


@main.group()
def holidays() -> None:
    """The holiday table behind working_days()."""


@holidays.command("list")
@click.option("--year", type=int)
@click.pass_obj
def holidays_list(settings: Settings, year: int | None) -> None:
    with _factory(settings)() as session:
        for h in calendar.list_holidays(session, year):
            click.echo(f"{h.day.isoformat()}  {h.name}")


@holidays.command("add")
@click.argument("day", type=click.DateTime(formats=["%Y-%m-%d"]))
@click.argument("name")
@click.pass_obj
def holidays_add(settings: Settings, day: datetime, name: str) -> None:
    with _factory(settings).begin() as session:
        calendar.add_holiday(session, day.date(), name)
    click.echo(f"added {day.date().isoformat()} {name}")


@holidays.command("remove")
@click.argument("day", type=click.DateTime(formats=["%Y-%m-%d"]))
@click.pass_obj
def holidays_remove(settings: Settings, day: datetime) -> None:
    with _factory(settings).begin() as session:
        removed = calendar.remove_holiday(session, day.date())
    if not removed:
        raise click.ClickException(f"{day.date().isoformat()} is not in the holiday table")
    click.echo(f"removed {day.date().isoformat()}")


@main.command()
@click.pass_obj
def worker(settings: Settings) -> None:
    """Run an RQ worker with its scheduler (needs LAKSA_REDIS_URL)."""
    if settings.redis_url is None:
        raise click.ClickException("set LAKSA_REDIS_URL to run a worker")
    from engine.jobs import run_worker

    run_worker(settings)
