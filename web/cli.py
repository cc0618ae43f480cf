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
from sqlalchemy import inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from engine import anchors
from engine import audit
from engine import calendar
from engine import definitions
from engine import demo
from engine import migrate
from engine import moves
from engine import outbox
from engine import partner_hooks
from engine import stays
from engine import sweeper
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

NOT_SET_UP = "the database at {url} is not set up: run `laksa init` first"


def _factory(settings: Settings, *, setting_up: bool = False) -> sessionmaker[Session]:
    """Sessions on the database; every command but ``init`` needs it set up already."""
    url = make_url(settings.database_url)
    file = url.database if url.get_backend_name() == "sqlite" else None
    # Connecting to a missing SQLite file would create it empty, a database to the next command.
    if not setting_up and file and file != ":memory:" and not Path(file).exists():
        raise click.ClickException(NOT_SET_UP.format(url=url))
    settings.home.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.database_url)
    if not setting_up:
        try:
            with engine.connect() as connection:
                ready = inspect(connection).has_table("ticket")
        except SQLAlchemyError as exc:
            engine.dispose()
            reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
            raise click.ClickException(f"cannot open the database at {url}: {reason}") from None
        if not ready:
            engine.dispose()
            raise click.ClickException(NOT_SET_UP.format(url=url))
    return make_session_factory(engine)


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
    factory = _factory(settings, setting_up=True)
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
@click.option("--note", default=None, help="Why: shown beside the version (500 characters).")
@click.pass_obj
def deploy(settings: Settings, path: Path | None, note: str | None) -> None:
    """Validate and deploy a workflows folder or one BPMN file."""
    note = (note or "").strip() or None
    if note is not None and len(note) > definitions.NOTE_LIMIT:
        raise click.BadParameter(
            f"at most {definitions.NOTE_LIMIT} characters", param_hint="--note"
        )
    _deploy(_factory(settings), path or settings.workflows_dir, actor="cli:deploy", note=note)


def _deploy(
    factory: sessionmaker[Session], path: Path, *, actor: str, note: str | None = None
) -> None:
    try:
        files = definitions.read_files(path)
        with factory.begin() as session:
            result = definitions.deploy(session, files, actor=actor, now=_now(), note=note)
    except DefinitionError as exc:
        problems = getattr(exc, "problems", [exc])
        if len(problems) == 1:
            raise click.ClickException(f"not deployed: {problems[0]}") from None
        lines = "\n".join(f"  {problem}" for problem in problems)
        raise click.ClickException(f"not deployed, {len(problems)} problems:\n{lines}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"not deployed: {path}: {exc}") from None
    versions = ", ".join(f"{k} v{v}" for k, v in sorted(result.versions.items()))
    state = "deployed" if result.created else "unchanged, still live"
    click.echo(f"{state}: {versions}")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option(
    "--production",
    is_flag=True,
    help="gunicorn with LAKSA_WEB_WORKERS workers of LAKSA_WEB_THREADS threads each.",
)
@click.pass_obj
def serve(settings: Settings, host: str, port: int, production: bool) -> None:
    """Serve the app; without Redis, a thread sweeps timers and delivers the outbox in-process."""
    from web.app import create_app

    factory = _factory(settings)  # a one-line error before init, not a page of them later
    if production:
        from web import production as server

        try:
            server.options(host, port)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
        factory.kw["bind"].dispose()
        click.echo(f"LAKSA (production) on http://{host}:{port}")
        server.serve(settings, host, port)
        return
    app = create_app({"SETTINGS": settings})
    if settings.redis_url is None:
        sender = partner_hooks.sender_for(settings, factory)
        stop = threading.Event()
        threading.Thread(
            target=sweeper.run,
            args=(factory, sender),
            kwargs={"interval": settings.timer_interval_seconds, "stop": stop},
            name="laksa-timers",
            daemon=True,
        ).start()
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
    result = outbox.deliver_due(
        factory, now=_now(), sender=partner_hooks.sender_for(settings, factory)
    )
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
    """Recompute every ticket's chain and every published anchor; exit 1 naming what differs."""
    with _factory(settings)() as session:
        problems = audit.verify(session)
        anchor_problems = anchors.verify(session)
        published = anchors.count(session)
    for p in problems:
        click.echo(f"TAMPERED ticket {p.ticket_number} at event {p.seq}: {p.reason}", err=True)
    for a in anchor_problems:
        what = f"ticket {a.ticket_number}" if a.ticket_number else "the anchor itself"
        click.echo(f"TAMPERED anchor of {a.day.isoformat()}: {what}: {a.reason}", err=True)
    if problems or anchor_problems:
        sys.exit(1)
    click.echo(f"audit trail intact; {published} anchor(s) match it")


@audit_group.command("anchor")
@click.pass_obj
def audit_anchor(settings: Settings) -> None:
    """Publish today's anchor (Asia/Jakarta): a digest over every chain's head; once a day."""
    outcome = anchors.anchor_today(_factory(settings), now=_now())
    a = outcome.anchor
    if not outcome.created:
        click.echo(f"the anchor of {a.day.isoformat()} is already published; nothing to do")
        return
    click.echo(
        f"anchor of {a.day.isoformat()} published: {a.chains} chain(s) up to audit event "
        f"{a.last_event_id}, root {a.root}, hash {a.hash}"
    )


@main.command("migrate")
@click.argument("key")
@click.option("--to", "to_version", type=int, required=True, help="Version to move tickets to.")
@click.option("--from", "from_version", type=int, help="Only tickets on this version.")
@click.option("--dry-run/--apply", default=True, help="Only list (default), or move them.")
@click.option("--batch", default=100, show_default=True, type=click.IntRange(min=1))
@click.pass_obj
def migrate_tickets(
    settings: Settings,
    key: str,
    to_version: int,
    from_version: int | None,
    dry_run: bool,
    batch: int,
) -> None:
    """Move running tickets of process KEY to another deployed version (dry run by default)."""
    factory = _factory(settings)
    try:
        if dry_run:
            _migrate_dry_run(factory, key, to_version, from_version, batch)
            return
        outcomes = moves.apply(
            factory,
            key=key,
            to_version=to_version,
            from_version=from_version,
            actor="cli:migrate",
            now=_now(),
            batch=batch,
            each=lambda o: click.echo(
                f"{o.ticket_number}  {o.result.replace('_', ' ')}  {o.reason}"
            ),
        )
    except LaksaError as exc:
        raise click.ClickException(str(exc)) from None
    counts = {r: sum(o.result == r for o in outcomes) for r in (moves.MOVED, moves.NOT_MOVABLE)}
    conflicts = sum(o.result == moves.CONFLICT for o in outcomes)
    click.echo(
        f"{len(outcomes)} ticket(s): {counts[moves.MOVED]} moved to v{to_version}, "
        f"{counts[moves.NOT_MOVABLE]} not movable, {conflicts} conflict(s)"
    )
    if conflicts:
        sys.exit(1)


def _migrate_dry_run(
    factory: sessionmaker[Session], key: str, to: int, source: int | None, batch: int
) -> None:
    movable = total = 0
    with factory() as session:
        while True:
            run = moves.dry_run(
                session, key=key, to_version=to, from_version=source, offset=total, limit=batch
            )
            for c in run.tickets:
                state = "movable" if c.movable else "not movable"
                click.echo(f"{c.ticket_number}  v{c.from_version}  {state}  {c.reason}".rstrip())
                movable += c.movable
            total += len(run.tickets)
            if len(run.tickets) < batch:
                break
    click.echo(f"{total} running ticket(s): {movable} movable to v{to}, {total - movable} not")
    click.echo("dry run: nothing was changed (use --apply to move them)")


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
            click.echo(
                f"{t.id}\t{t.username}\t{t.name}\tcreated {day(t.created_at)}\t"
                f"expires {day(t.expires_at)}\tlast used {day(t.last_used_at)}\t{t.state(now)}"
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


from web.cli_partners import partners_group  # noqa: E402 (a command group of its own module)

main.add_command(partners_group)
