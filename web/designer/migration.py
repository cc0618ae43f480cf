"""Moving running tickets to another version (``/desain/migrasi``): choose the process and the
versions, see a dry run (each ticket movable or not and why, a page at a time), apply, and
read what happened to each ticket, with the audit event of each move."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime

from flask import current_app
from flask import render_template
from flask import request
from flask_babel import gettext
from sqlalchemy import select

from engine import moves
from engine.errors import InvalidInput
from engine.models import Definition
from engine.runtime import Finding
from web.auth import require_actor
from web.designer import blp
from web.session import db

PAGE_SIZE = 25


def finding_text(f: Finding) -> str:
    """A dry run's or a move's finding in the page's language."""
    e, before, after = f.element_id, f.before or "-", f.after or "-"
    texts = {
        "missing": gettext("menunggu di '%(e)s', yang tidak ada di versi tujuan", e=e),
        "passed_missing": gettext("sudah melewati '%(e)s', yang tidak ada di versi tujuan", e=e),
        "kind_changed": gettext(
            "'%(e)s' berubah jenis: %(before)s menjadi %(after)s", e=e, before=before, after=after
        ),
        "lane_changed": gettext(
            "lajur '%(e)s' berubah dari '%(before)s' ke '%(after)s'",
            e=e,
            before=before,
            after=after,
        ),
        "event_changed": gettext(
            "'%(e)s' menunggu %(before)s, di versi tujuan %(after)s",
            e=e,
            before=before,
            after=after,
        ),
        "message_changed": gettext(
            "'%(e)s' menunggu pesan '%(before)s', di versi tujuan '%(after)s'",
            e=e,
            before=before,
            after=after,
        ),
        "boundary_moved": gettext(
            "'%(e)s' menempel pada '%(before)s', di versi tujuan pada '%(after)s'",
            e=e,
            before=before,
            after=after,
        ),
        "boundary_added": gettext(
            "versi tujuan menambah '%(e)s' pada '%(before)s', tempat laporan ini sudah berada",
            e=e,
            before=before,
        ),
        "cycle_changed": gettext(
            "pewaktu berulang '%(e)s' berubah dari %(before)s ke %(after)s",
            e=e,
            before=before,
            after=after,
        ),
        "subprocess_missing": gettext(
            "menjalankan subproses '%(e)s', yang tidak ada di versi tujuan", e=e
        ),
        "not_restored": gettext(
            "keadaannya tidak dapat dipulihkan pada versi tujuan: %(after)s", after=after
        ),
        "waiting_changed": gettext("tugas yang menunggu berbeda setelah dipindah"),
        "timer_carried": gettext("pewaktu '%(e)s' tetap jatuh tempo pada waktunya", e=e),
        "timer_recomputed": gettext(
            "pewaktu '%(e)s' dihitung ulang: %(before)s menjadi %(after)s",
            e=e,
            before=before,
            after=after,
        ),
        "title_changed": gettext("tugas '%(e)s' kini bernama '%(after)s'", e=e, after=after),
        "form_changed": gettext(
            "tugas '%(e)s' kini memakai formulir '%(after)s'", e=e, after=after
        ),
    }
    return str(texts.get(f.code, f.code))


def _choices() -> dict[str, list[tuple[int, int]]]:
    keys = db().scalars(select(Definition.key).distinct().order_by(Definition.key)).all()
    return {key: moves.versions(db(), key) for key in keys}


def _int_arg(source: dict[str, str], name: str) -> int | None:
    value = (source.get(name) or "").strip()
    if not value:
        return None
    if not value.isdigit():
        raise InvalidInput(f"'{name}' must be a version number", fields={name: ["a number"]})
    return int(value)


def _selection(source: dict[str, str]) -> tuple[str | None, int | None, int | None]:
    choices = _choices()
    key = source.get("proses") or next(iter(choices), None)
    if key is not None and key not in choices:
        raise InvalidInput(f"unknown process '{key}'", fields={"proses": sorted(choices)})
    return key, _int_arg(source, "dari"), _int_arg(source, "ke")


@blp.get("/migrasi")
def migration() -> str:
    args = request.args.to_dict()
    key, source, target = _selection(args)
    page = max(_int_arg(args, "halaman") or 1, 1)
    run = None
    if key is not None and target is not None:
        run = moves.dry_run(
            db(),
            key=key,
            to_version=target,
            from_version=source,
            offset=(page - 1) * PAGE_SIZE,
            limit=PAGE_SIZE,
        )
    return render_template(
        "designer/migration.html",
        choices=_choices(),
        key=key,
        source=source,
        target=target,
        checked_at=datetime.now(UTC).isoformat(),
        run=run,
        page=page,
        pages=max(1, -(-run.total // PAGE_SIZE)) if run else 1,
        finding_text=finding_text,
    )


@blp.post("/migrasi")
def migration_apply() -> str:
    form = request.form.to_dict()
    key, source, target = _selection(form)
    if key is None or target is None:
        raise InvalidInput("choose a process and a target version", fields={"ke": ["required"]})
    checked_at = _moment(form.get("diuji"))
    actor = require_actor()
    db().rollback()  # each ticket moves in a transaction of its own
    outcomes = moves.apply(
        current_app.extensions["laksa_sessions"],
        key=key,
        to_version=target,
        from_version=source,
        actor=actor.name,
        now=datetime.now(UTC),
        checked_at=checked_at,
    )
    counts = {r: sum(o.result == r for o in outcomes) for r in _RESULTS}
    return render_template(
        "designer/migration.html",
        choices=_choices(),
        key=key,
        source=source,
        target=target,
        outcomes=outcomes,
        counts=counts,
        finding_text=finding_text,
    )


def _moment(value: str | None) -> datetime | None:
    """When the confirmed dry run was read (tickets changed since are left alone)."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput("not a time", fields={"diuji": ["an ISO 8601 time"]}) from None
    if moment.tzinfo is None:
        raise InvalidInput("not an aware time", fields={"diuji": ["with a UTC offset"]})
    return moment


_RESULTS = (moves.MOVED, moves.NOT_MOVABLE, moves.CONFLICT, moves.SKIPPED)
