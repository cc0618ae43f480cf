"""`laksa sweeper`: timers and the outbox without Redis, in a process of their own."""

from __future__ import annotations

import logging
import os
import signal
import threading

import click

from engine import partner_hooks
from engine import sweeper
from engine.settings import Settings

log = logging.getLogger(__name__)


@click.command(name="sweeper")
@click.pass_obj
def sweeper_command(settings: Settings) -> None:
    """Sweep timers and deliver the outbox every LAKSA_TIMER_INTERVAL seconds (no Redis needed).

    `laksa serve --production` runs one when LAKSA_REDIS_URL is not set; run it yourself only
    when the web server runs some other way. Stops on SIGTERM, SIGINT, or when the server that
    started it is gone.
    """
    from web.cli import _factory

    factory = _factory(settings)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    parent = os.environ.get(sweeper.PARENT_ENV, "")
    interval = settings.timer_interval_seconds
    log.info("sweeping every %g s", interval)
    try:
        sweeper.run(
            factory,
            partner_hooks.sender_for(settings, factory),
            interval=interval,
            stop=stop,
            parent=int(parent) if parent.isdigit() else None,
        )
    except KeyboardInterrupt:
        pass
    finally:
        factory.kw["bind"].dispose()
