"""`laksa partners`: partner systems, their keys and webhook subscriptions (engine.partners,
engine.partner_hooks), as on the admin's page /admin/mitra."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from datetime import timedelta

import click
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from engine import partner_hooks
from engine import partners
from engine.db import make_engine
from engine.db import make_session_factory
from engine.errors import LaksaError
from engine.settings import Settings


def _factory(settings: Settings) -> sessionmaker[Session]:
    settings.home.mkdir(parents=True, exist_ok=True)
    return make_session_factory(make_engine(settings.database_url))


def _now() -> datetime:
    return datetime.now(UTC)


def _when(value: datetime | None, empty: str = "-") -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else empty


@click.group(name="partners")
def partners_group() -> None:
    """Partner systems: keys with scopes, webhook subscriptions."""


@partners_group.command("create")
@click.argument("code")
@click.option("--name", default="", help="What the partner is called (default: its code).")
@click.pass_obj
def create(settings: Settings, code: str, name: str) -> None:
    """Add a partner (CODE: 3 to 40 lower-case letters, digits and dashes)."""
    try:
        with _factory(settings).begin() as session:
            partner = partners.create_partner(session, code=code, name=name, now=_now())
            click.echo(f"partner {partner.code} created ({partner.name})")
    except LaksaError as exc:
        raise click.ClickException(exc.message) from None


@partners_group.command("list")
@click.pass_obj
def list_(settings: Settings) -> None:
    """Partners with their usable keys, tickets and subscriptions."""
    now = _now()
    with _factory(settings)() as session:
        found = partners.list_partners(session, now=now)
        hooks = partner_hooks.list_webhooks(session)
    for p in found:
        state = "active" if p.active else "switched off"
        click.echo(f"{p.code}\t{p.name}\t{state}\tkeys={p.keys}\ttickets={p.tickets}")
        for h in (h for h in hooks if h.partner == p.code):
            click.echo(
                f"  webhook {h.id}\t{h.url}\t{','.join(h.topics)}\t"
                f"{'active' if h.active else 'stopped'}\tpending={h.pending}\t"
                f"delivered={h.delivered}\tfailed={h.failed}"
            )
    if not found:
        click.echo("no partners")


@partners_group.command("key")
@click.argument("code")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    required=True,
    type=click.Choice(partners.SCOPES),
    help="What the key may do; repeat for several.",
)
@click.option("--days", type=click.IntRange(1, 3650), default=None, help="Valid this many days.")
@click.pass_obj
def key(settings: Settings, code: str, scopes: tuple[str, ...], days: int | None) -> None:
    """Print a new key for a partner (only its hash is stored: keep it now)."""
    try:
        with _factory(settings).begin() as session:
            _, plaintext = partners.create_key(
                session,
                partner_code=code,
                scopes=scopes,
                now=_now(),
                lifetime=timedelta(days=days) if days else None,
            )
    except LaksaError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(plaintext)


@partners_group.command("keys")
@click.argument("code", required=False)
@click.pass_obj
def keys(settings: Settings, code: str | None) -> None:
    """Keys (never their values): id, partner, prefix, scopes, created, expiry, last use, state."""
    now = _now()
    with _factory(settings)() as session:
        found = partners.list_keys(session, partner_code=code)
    for k in found:
        click.echo(
            f"{k.id}\t{k.partner}\tlp_{k.prefix}_…\t{','.join(k.scopes)}\t{_when(k.created_at)}"
            f"\t{_when(k.expires_at, 'never')}\t{_when(k.last_used_at, 'unused')}\t{k.state(now)}"
        )


@partners_group.command("revoke")
@click.argument("key_id", type=int)
@click.pass_obj
def revoke(settings: Settings, key_id: int) -> None:
    """Revoke a partner key (it answers 401 from now on)."""
    with _factory(settings).begin() as session:
        done = partners.revoke_key(session, key_id=key_id, now=_now())
    if not done:
        raise click.ClickException(f"no key {key_id}, or revoked already")
    click.echo(f"key {key_id} revoked")


@partners_group.command("webhook")
@click.argument("code")
@click.argument("url")
@click.option(
    "--topic",
    "topics",
    multiple=True,
    type=click.Choice(partner_hooks.TOPICS),
    help="An event to send; repeat for several (default: all).",
)
@click.pass_obj
def webhook(settings: Settings, code: str, url: str, topics: tuple[str, ...]) -> None:
    """Subscribe URL to a partner's ticket events; prints its id and signing secret once."""
    try:
        with _factory(settings).begin() as session:
            row = partner_hooks.create_webhook(
                session,
                partner_code=code,
                url=url,
                topics=topics or partner_hooks.TOPICS,
                now=_now(),
            )
            click.echo(f"webhook {row.id}: {row.url} ({row.topics})")
            click.echo(f"secret: {row.secret}")
    except LaksaError as exc:
        raise click.ClickException(exc.message) from None


@partners_group.command("replay")
@click.argument("webhook_id", type=int)
@click.pass_obj
def replay(settings: Settings, webhook_id: int) -> None:
    """Deliver a subscription's failed messages again (same ids, fresh attempts)."""
    with _factory(settings).begin() as session:
        count = partner_hooks.replay_failed(session, webhook_id=webhook_id, now=_now())
    click.echo(f"{count} failed deliveries scheduled again")
