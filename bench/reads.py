"""Read latency of the public pages and an officer's pages on a city-sized database (Flask app).

    .venv/bin/python bench/reads.py [--tickets 1000000] [--backend sqlite|postgres|both]
                                    [--samples 300] [--warmup 30] [--seed 1] [--keep]

Fills a database with ``--tickets`` tickets as the engine would have left them after two years
of a city's complaints (schema from ``Base.metadata.create_all``, ``workflows/`` deployed, the
demo city), then times ``GET /laporan/<number>``, ``/statistik``, ``/galeri`` and
``/galeri?kategori=<code>`` through ``web.app.create_app(...).test_client()`` (routing,
session, queries, Jinja rendering), and, signed in as an officer of ``dpupr`` (the largest OPD)
with a second client, the inbox ``GET /petugas`` and ``GET /petugas/tugas/<id>`` of random open
``dpupr`` tasks. The last line printed is one JSON object.

Rows written per ticket: ``ticket`` (states mixed like a city with a backlog: about a fifth
open, sized so that the open tasks are ``--tickets`` / 5; most closed ones fixed),
``process_instance`` (a one-byte placeholder state: pages never load it), ``ticket_update``
(the public status entries the engine writes on the ticket's path, the officer's public or
reporter-only notes, the reporter's messages), ``attachment`` (a tenth of the reports carry
photos; every ticket of an infrastructure category resolved has its after-photo, as the
workflow's ``photo_check`` demands) pointing at real JPEGs in the media store, and
``gallery_item`` for the fixed, public ones with both photos. Open tickets get their open
``human_task`` rows (the stage's task, titled, formed and grouped as in
``workflows/complaint.bpmn``; the OPD head's and the supervisor's reviews where handling is
overdue) and an ``audit_event`` trail of 6-12 entries. ``stat_count``, ``stat_duration`` and
``stat_median`` hold exactly what ``engine.tally`` would have kept: ``tally.cells`` of every
generated ticket, summed, and the medians of those histograms.

Backends: a SQLite file in a temporary folder (``TMPDIR`` chooses where), and PostgreSQL in a
fresh schema (created, selected with ``search_path``, dropped at the end) when
``LAKSA_BENCH_POSTGRES_URL`` or ``LAKSA_TEST_POSTGRES_URL`` is set. ``--keep`` keeps both.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import io
import json
import multiprocessing
import os
import platform
import pstats
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
import uuid
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from operator import itemgetter
from pathlib import Path
from queue import Empty
from typing import Any
from typing import cast
from urllib.parse import quote

import sqlalchemy as sa
from PIL import Image
from PIL import ImageDraw
from PIL import ImageFilter
from sqlalchemy import Table
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine import attachments
from engine import definitions
from engine import demo
from engine import media
from engine import tally
from engine.db import Base
from engine.db import make_engine
from engine.db import make_session_factory
from engine.identity import create_user
from engine.inbox import PAGE as INBOX_PAGE
from engine.models import Attachment
from engine.models import AuditEvent
from engine.models import GalleryItem
from engine.models import HumanTask
from engine.models import ProcessInstance
from engine.models import Ticket
from engine.models import TicketUpdate
from engine.settings import REPO_ROOT
from engine.settings import Settings
from web.app import create_app

TARGETS_MS = {
    "ticket": 30.0,
    "statistics": 50.0,
    "gallery": 30.0,
    "gallery_category": 30.0,
    "inbox": 20.0,
    "task": 30.0,
}
PATHS = {
    "ticket": "/laporan/<number>",
    "statistics": "/statistik",
    "gallery": "/galeri",
    "gallery_category": "/galeri?kategori=<code>",
    "inbox": "/petugas",
    "task": "/petugas/tugas/<id>",
}
# The officer's pages: what a signed-in response must contain to count as the page.
MARKERS = {"inbox": 'class="task-row', "task": "task-form"}
OFFICER_GROUP = "dpupr"  # the largest OPD: 40% of the categories' weight
OFFICER = ("petugas_bench", "kata-sandi-bench-1")  # username, password (role "officer")
OPEN_TASKS_PER_TICKET = 0.2  # open human tasks: 200,000 at 1,000,000 tickets
PILOT = 20_000  # open tickets simulated to size the open share
BATCH = 10_000  # tickets per batch (each batch: one executemany or COPY per table)
SPAN = timedelta(days=730)  # tickets received over the last 24 months
NUMBER_SPACE = 32**8  # LK- + 8 Crockford base32 characters
NUMBER_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # engine.commands' alphabet
NUMBER_MULTIPLIER = 0x9E3779B97F  # odd: i -> i * m mod 32**8 is a bijection (unique numbers)
FULL_CHECK = 100_000  # recount the statistics from the stored tickets up to this size
SAMPLED_NUMBERS = 20_000  # public ticket numbers kept to draw the pages' numbers from


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- the city -----------------------------------------------------------------------------------

CATEGORY_WEIGHTS = {
    "jalan_rusak": 22,
    "drainase": 10,
    "penerangan_jalan": 8,
    "sampah": 16,
    "pohon_tumbang": 4,
    "taman": 3,
    "lalu_lintas": 7,
    "parkir_liar": 8,
    "angkutan_umum": 4,
    "adminduk": 10,
    "perumahan": 5,
    "pemakaman": 3,
}
OPD_OF = {cat: opd for opd, (_, cats) in demo.OPDS.items() for cat in cats}
TITLES = {
    "jalan_rusak": ["Jalan berlubang", "Aspal mengelupas", "Jalan amblas", "Lubang di tikungan"],
    "drainase": ["Saluran air mampet", "Banjir setiap hujan", "Gorong-gorong tersumbat"],
    "penerangan_jalan": ["Lampu jalan mati", "Tiang lampu miring", "PJU padam satu ruas"],
    "sampah": ["Sampah tidak diangkut", "TPS meluber", "Tumpukan sampah di pinggir jalan"],
    "pohon_tumbang": ["Pohon tumbang menutup jalan", "Dahan patah di atas kabel"],
    "taman": ["Taman tidak terawat", "Bangku taman rusak", "Rumput taman tinggi"],
    "lalu_lintas": ["Lampu lalu lintas mati", "Rambu hilang", "Kemacetan di persimpangan"],
    "parkir_liar": ["Parkir liar di trotoar", "Parkir di bahu jalan", "Juru parkir liar"],
    "angkutan_umum": ["Angkot ngetem sembarangan", "Halte rusak", "Bus tidak sesuai jadwal"],
    "adminduk": ["KTP belum jadi", "Antrean KK terlalu lama", "Akta kelahiran belum terbit"],
    "perumahan": ["Rumah tidak layak huni", "Fasum perumahan terbengkalai"],
    "pemakaman": ["Makam tidak terawat", "Akses jalan ke TPU rusak"],
}
RESOLUTIONS = [
    "Sudah ditangani oleh tim lapangan pada hari yang sama dengan kunjungan.",
    "Perbaikan selesai; lokasi sudah dibersihkan dan dapat digunakan kembali.",
    "Petugas telah memperbaiki kerusakan dan memasang tanda peringatan sementara.",
    "Telah dikoordinasikan dengan kelurahan; pekerjaan selesai sesuai jadwal.",
]
STREETS = [
    "Jl. Sudirman",
    "Jl. MH Thamrin",
    "Jl. Daan Mogot",
    "Jl. Imam Bonjol",
    "Jl. KH Hasyim Ashari",
    "Jl. Perintis Kemerdekaan",
    "Jl. Gatot Subroto",
    "Jl. Veteran",
    "Jl. Raya Cipondoh",
    "Jl. Benteng Betawi",
]
NAMES = ["Budi", "Siti", "Agus", "Dewi", "Rudi", "Ani", "Joko", "Wati", "Hendra", "Rina"]
# Closed tickets (fixed 80%: confirmed by the reporter or closed after 10 silent working days).
CLOSED_STATES = {
    "confirmed": 30.0,
    "closed": 46.0,
    "archived": 8.5,
    "forwarded": 5.0,
    "duplicate": 4.0,
    "closed_no_reply": 1.5,
}
# Open tickets: a city with a backlog (the open share is sized so that open human tasks are
# OPEN_TASKS_PER_TICKET of the tickets, about a fifth of them open). A quarter of the open
# tasks wait at the verifier desk, most at the OPDs; waiting_info and resolved wait for the
# reporter (no task). A third of the tickets with a deadline are past it (OVERDUE_SHARE).
OPEN_STATES = {
    "verification": 22.0,
    "rerouting": 2.0,
    "dispatched": 12.0,
    "in_progress": 34.0,
    "waiting_follow_up": 16.0,
    "waiting_info": 5.0,
    "resolved": 8.0,
    "reopened": 1.0,
}
OVERDUE_SHARE = 1 / 3
HEAD_REVIEW_OPEN = 0.5  # overdue handling: the OPD head's review still open
SUPERVISOR_REVIEW_OPEN = 0.5  # past the grace: the supervisor's review still open
CLAIMED_SHARE = 0.1  # open tasks someone has claimed
GRACE = timedelta(days=3)  # past the deadline by this much: level 2, the supervisor's review

# The audit trail of an open ticket's path, step by step, as the engine writes it: the
# command's own entry, one element_completed per BPMN element passed, status_changed when the
# status moved (engine.commands._save). Element ids are checked against the BPMN.
SUBMITTED = (
    ("ticket_submitted", None),
    ("element_completed", "received"),
    ("element_completed", "verification_clock_started"),
    ("status_changed", None),
)
_VERIFIED = (
    ("task_completed", "verify"),
    ("element_completed", "verify"),
    ("element_completed", "verification_clock_stopped"),
    ("element_completed", "verification_outcome"),
    ("element_completed", "prepare_routing"),
    ("element_completed", "route"),
    ("element_completed", "routing_found"),
)
ROUTED = (*_VERIFIED, ("element_completed", "ack_clock_started"), ("status_changed", None))
NOT_ROUTED = (
    *_VERIFIED,
    ("element_completed", "routing_incident"),
    ("element_completed", "rerouting_clock_started"),
    ("status_changed", None),
)
ACKNOWLEDGED = (
    ("task_completed", "acknowledge"),
    ("element_completed", "acknowledge"),
    ("element_completed", "ack_clock_stopped"),
    ("element_completed", "ack_outcome"),
    ("element_completed", "resolution_target"),
    ("element_completed", "resolution_clock_started"),
    ("status_changed", None),
)
PAUSED = (
    ("task_completed", "handle"),
    ("element_completed", "handle"),
    ("element_completed", "handle_outcome"),
    ("element_completed", "resolution_clock_paused_for_follow_up"),
    ("status_changed", None),
)
RESOLVED = (
    ("task_completed", "handle"),
    ("element_completed", "handle"),
    ("element_completed", "handling_ended"),
    ("element_completed", "handle_outcome"),
    ("element_completed", "resolution_clock_fulfilled"),
    ("element_completed", "photo_check"),
    ("element_completed", "resolved"),
    ("status_changed", None),
)
DISPUTED = (
    ("message_correlated", None),
    ("element_completed", "reporter_disputed"),
    ("element_completed", "reopened"),
    ("status_changed", None),
)
# The deadline timer of each open task firing (the sweep's command), then its path.
OVERDUE = {
    "verify": ("verification_overdue", "escalate_verification", "verification_escalated"),
    "route_manually": ("rerouting_overdue", "rerouting_escalated"),
    "acknowledge": ("acknowledgement_overdue", "acknowledgement_escalated"),
    "handle": ("resolution_overdue", "escalated_to_head"),
    "follow_up": ("follow_up_overdue", "follow_up_escalated"),
    "acknowledge_reopened": (
        "reopen_acknowledgement_overdue",
        "reopen_acknowledgement_escalated",
    ),
}
SUPERVISOR_ESCALATION = ("supervisor_escalation", "escalated_to_supervisor")
# The open task of each open state (waiting_info and resolved wait for the reporter).
TASK_OF = {
    "verification": "verify",
    "rerouting": "route_manually",
    "dispatched": "acknowledge",
    "in_progress": "handle",
    "waiting_follow_up": "follow_up",
    "reopened": "acknowledge_reopened",
}
AUDIT_EVENTS = (6, 12)  # audit rows per instance with an open task (first and latest kept)
GENESIS = "0" * 64
BPMN_FILE = REPO_ROOT / "workflows" / "complaint.bpmn"
_BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
_SPIFF = "{http://spiffworkflow.org/bpmn/schema/1.0/core}"


@dataclass(frozen=True)
class UserTask:
    name: str  # the BPMN name: human_task.title
    form: str | None
    lane: str  # the lane's name: a group, "{opd}" bound from the process data


def bpmn_user_tasks(path: Path = BPMN_FILE) -> dict[str, UserTask]:
    """The workflow's user tasks (name, form, lane), read from the BPMN; every element id the
    generated trails name must be in it."""
    process = ET.parse(path).getroot().find(f"{_BPMN}process")
    assert process is not None
    lanes = {
        ref.text: lane.get("name", "")
        for lane in process.iter(f"{_BPMN}lane")
        for ref in lane.findall(f"{_BPMN}flowNodeRef")
    }
    tasks = {}
    for node in process.iter(f"{_BPMN}userTask"):
        form = next(
            (
                p.get("value")
                for p in node.iter(f"{_SPIFF}property")
                if p.get("name") == definitions.FORM_PROPERTY
            ),
            None,
        )
        element = node.get("id", "")
        tasks[element] = UserTask(node.get("name", element), form, lanes[element])
    ids = {node.get("id") for node in process.iter() if node.get("id")}
    named = {e for step in (SUBMITTED, ROUTED, NOT_ROUTED, ACKNOWLEDGED) for _, e in step}
    named |= {e for step in (PAUSED, RESOLVED, DISPUTED) for _, e in step}
    named |= {e for path in OVERDUE.values() for e in path} | set(SUPERVISOR_ESCALATION)
    named |= set(OVERDUE) | set(TASK_OF.values()) | {"head_review", "supervisor_review"}
    missing = sorted(e for e in named if e is not None and e not in ids)
    assert not missing, f"not in {path.name}: {missing}"
    return tasks


COMPLEXITY_TARGET_H = {"simple": 7 * 24, "medium": 20 * 24, "complex": 84 * 24}
COMPLEXITY_HANDLE_MEDIAN_H = {"simple": 60, "medium": 200, "complex": 600}

TICKET_COLUMNS = (
    "id",
    "number",
    "kind",
    "category",
    "title",
    "description",
    "location",
    "latitude",
    "longitude",
    "kecamatan",
    "reporter_name",
    "reporter_contact",
    "anonymous",
    "confidential",
    "status",
    "opd",
    "due_at",
    "escalation_level",
    "outcome",
    "created_at",
    "updated_at",
    "closed_at",
    "reporter_secret_hash",
    "first_response_at",
    "resolved_at",
    "awaiting",
    "breached",
)
INSTANCE_COLUMNS = (
    "id",
    "ticket_id",
    "definition_id",
    "state",
    "serializer_version",
    "completed",
    "audit_seq",
    "audit_head",
    "updated_at",
    "version",
)
ATTACHMENT_COLUMNS = (
    "id",
    "ticket_id",
    "purpose",
    "uploader",
    "sha256",
    "thumb_sha256",
    "size",
    "mime",
    "width",
    "height",
    "created_at",
    "linked_at",
)
UPDATE_COLUMNS = (
    "id",
    "ticket_id",
    "at",
    "kind",
    "audience",
    "author",
    "status",
    "field",
    "text",
    "attachment_id",
)
TASK_COLUMNS = (
    "id",
    "instance_id",
    "ticket_id",
    "category",
    "kecamatan",
    "task_guid",
    "element_id",
    "title",
    "candidate_group",
    "form",
    "created_at",
    "due_at",
    "claimed_by",
    "claimed_at",
)
AUDIT_COLUMNS = (
    "id",
    "instance_id",
    "seq",
    "at",
    "actor",
    "action",
    "element_id",
    "data",
    "prev_hash",
    "hash",
)
GALLERY_COLUMNS = ("ticket_id", "closed_at", "category", "kecamatan", "before_id", "after_id")


def ticket_columns() -> tuple[str, ...]:
    """The ticket columns written; ``duplicate_of_id`` where the schema has it."""
    linked = "duplicate_of_id" in Base.metadata.tables["ticket"].c
    return (*TICKET_COLUMNS, "duplicate_of_id") if linked else TICKET_COLUMNS


def ticket_number(i: int) -> str:
    """A unique, random-looking number in the engine's alphabet (a bijection of ``i``)."""
    n = (i * NUMBER_MULTIPLIER + 0x5BD1E995) % NUMBER_SPACE
    chars = []
    for _ in range(8):
        chars.append(NUMBER_ALPHABET[n & 31])
        n >>= 5
    return "LK-" + "".join(chars)


@dataclass(slots=True)
class Fake:
    """A ticket row being generated; ``tally.cells`` reads it as it reads a Ticket."""

    category: str
    kecamatan: str | None
    created_at: datetime
    status: str = "received"
    opd: str | None = None
    outcome: str | None = None
    closed_at: datetime | None = None
    first_response_at: datetime | None = None
    resolved_at: datetime | None = None
    due_at: datetime | None = None
    escalation_level: int = 0
    breached: bool = False
    awaiting: str | None = None
    updated_at: datetime | None = None
    stage_at: datetime | None = None  # open: when the current stage (its task) began
    acked_at: datetime | None = None
    events: list[tuple[datetime, str, str, str, str | None, str | None, str | None]] = field(
        default_factory=list
    )


@dataclass
class Photos:
    """The stored JPEGs attachments point at (a few real files, shared by many rows)."""

    report: list[attachments.StoredImage]
    after: list[attachments.StoredImage]


@dataclass
class Batch:
    tickets: list[tuple[Any, ...]] = field(default_factory=list)
    instances: list[tuple[Any, ...]] = field(default_factory=list)
    attachments: list[tuple[Any, ...]] = field(default_factory=list)
    updates: list[tuple[Any, ...]] = field(default_factory=list)
    gallery: list[tuple[Any, ...]] = field(default_factory=list)
    tasks: list[tuple[Any, ...]] = field(default_factory=list)
    audit: list[tuple[Any, ...]] = field(default_factory=list)

    def rows(self) -> int:
        return (
            len(self.tickets)
            + len(self.instances)
            + len(self.attachments)
            + len(self.updates)
            + len(self.gallery)
            + len(self.tasks)
            + len(self.audit)
        )


@dataclass
class Generated:
    """What the fill leaves behind for the measurement and the statistics."""

    counts: Counter[tally.CountKey] = field(default_factory=Counter)
    durations: Counter[tally.DurationKey] = field(default_factory=Counter)
    public_numbers: list[str] = field(default_factory=list)
    states: Counter[str] = field(default_factory=Counter)
    attachments: int = 0
    updates: int = 0
    gallery: int = 0
    open_share: float = 0.0  # of the tickets
    tasks: Counter[str] = field(default_factory=Counter)  # open human tasks by group
    overdue_tasks: int = 0
    officer_tasks: list[int] = field(default_factory=list)  # OFFICER_GROUP's open task ids
    audit: int = 0


def lognormal_h(rng: random.Random, median: float, sigma: float, low: float, high: float) -> float:
    return min(high, max(low, median * rng.lognormvariate(0.0, sigma)))


class City:
    """Generates tickets deterministically from a seed."""

    def __init__(
        self,
        *,
        now: datetime,
        seed: int,
        tickets: int,
        definition_id: int,
        photos: Photos,
        stamp: Callable[[datetime | None], Any],
    ) -> None:
        self.now = now
        self.n_tickets = tickets
        self.stamp = stamp  # a datetime as the backend's writer takes it
        self.rng = random.Random(seed)
        self.definition_id = definition_id
        self.photos = photos
        self.categories = list(CATEGORY_WEIGHTS)
        self.category_cum = _cumulative(CATEGORY_WEIGHTS.values())
        self.closed_states = list(CLOSED_STATES)
        self.closed_cum = _cumulative(CLOSED_STATES.values())
        self.open_states = list(OPEN_STATES)
        self.open_cum = _cumulative(OPEN_STATES.values())
        self.user_tasks = bpmn_user_tasks()
        self.next_attachment = 1
        self.next_update = 1
        self.next_task = 1
        self.next_audit = 1
        self.links_duplicates = len(ticket_columns()) > len(TICKET_COLUMNS)
        self.open_share = self._open_share(seed)

    def _open_share(self, seed: int) -> float:
        """The share of open tickets that gives OPEN_TASKS_PER_TICKET open tasks: the open
        tasks per open ticket, from PILOT open tickets generated with their own seed."""
        kept = self.rng
        self.rng = random.Random(f"pilot-{seed}")
        tasks = 0
        try:
            for _ in range(PILOT):
                state = self.open_states[_pick(self.rng, self.open_cum)]
                category = self.categories[_pick(self.rng, self.category_cum)]
                t = Fake(category=category, kecamatan=None, created_at=self.now)
                self.lifecycle(state, t)
                tasks += len(self._open_work(0, t, state)[0])
        finally:
            self.rng = kept
        return min(0.95, OPEN_TASKS_PER_TICKET * PILOT / tasks)

    def lifecycle(self, state: str, t: Fake) -> None:
        """The ticket's path to ``state``: milestones, timeline entries, deadlines, levels."""
        rng = self.rng
        h = timedelta(hours=1)
        verify_h = lognormal_h(rng, 18, 1.0, 0.2, 600)
        ack_h = lognormal_h(rng, 20, 1.0, 0.2, 600)
        complexity = rng.choices(("simple", "medium", "complex"), cum_weights=(55, 90, 100))[0]
        target_h = COMPLEXITY_TARGET_H[complexity]
        handle_h = lognormal_h(rng, COMPLEXITY_HANDLE_MEDIAN_H[complexity], 0.8, 1, 300 * 24)
        late = verify_h > 100 or ack_h > 170 or handle_h > target_h
        # Offsets (hours from receipt) of each step on the way to `state`; the receipt moves so
        # that the ticket sits in `state` now (open) or closed before now (closed).
        fr = verify_h
        ack = fr + ack_h
        res = ack + handle_h
        if state in ("confirmed", "closed"):
            wait = (
                lognormal_h(rng, 30, 1.0, 0.5, 330)
                if state == "confirmed"
                else 336 + 48 * rng.random()
            )
            end = res + wait
        elif state in ("archived", "forwarded", "duplicate"):
            end = fr
        elif state == "closed_no_reply":
            asked = ack + lognormal_h(rng, 48, 1.0, 1, 600)
            end = asked + 336 + 48 * rng.random()
        else:  # open: sitting in its stage since `start`
            start, length = {
                "verification": (0.0, verify_h),
                "rerouting": (fr, lognormal_h(rng, 30, 1.0, 0.5, 400)),
                "dispatched": (fr, ack_h),
                "in_progress": (ack, handle_h),
                "waiting_follow_up": (
                    ack + lognormal_h(rng, 72, 1.0, 1, 900),
                    lognormal_h(rng, 30 * 24, 0.8, 24, 170 * 24),
                ),
                "waiting_info": (ack + lognormal_h(rng, 48, 1.0, 1, 600), 336.0),
                "resolved": (res, 336.0),
                "reopened": (res + lognormal_h(rng, 48, 1.0, 1, 300), 5 * 24.0),
            }[state]
            # The stage's deadline (hours after `start`): the ticket's due_at below. A third
            # of the tickets with one are past it (by days to weeks), the others spread
            # over it: task deadlines fall on both sides of now.
            deadline = {
                "verification": 120.0,
                "rerouting": 120.0,
                "dispatched": 168.0,
                "in_progress": float(target_h),
                "waiting_follow_up": length,  # the planned follow-up date
                "reopened": 168.0,
            }.get(state)
            if deadline is None:  # waiting for the reporter: part of the reply window
                end = start + rng.random() * length
            elif rng.random() < OVERDUE_SHARE:
                end = start + deadline + lognormal_h(rng, 72, 1.0, 1, 60 * 24)
            else:
                end = start + rng.random() * deadline
        age = SPAN.total_seconds() / 3600 * rng.random() ** 1.25  # a growing city
        created = self.now - max(age, end + 0.1) * h if state in _CLOSED else self.now - end * h
        t.created_at = created
        if state not in _CLOSED:
            t.stage_at = created + start * h  # when its open task became ready
        ev = t.events
        ev.append((created, "status", "public", "system", "received", None, None))
        ev.append((created, "status", "public", "system", "verification", None, None))
        t.status = "verification"
        if state == "verification":
            t.due_at = created + 5 * 24 * h
            self._open_level(t, late=False)
            return
        t.first_response_at = created + fr * h
        routed = state not in ("archived", "forwarded", "duplicate", "rerouting")
        if not routed:
            ev.append((t.first_response_at, "status", "public", "system", state, None, None))
            t.status = state
            if state == "rerouting":
                t.due_at = t.first_response_at + 5 * 24 * h
                self._open_level(t, late=verify_h > 100)
            else:
                t.outcome = "rejected" if state == "archived" else state
                self._close(t, t.first_response_at, breached=verify_h > 100)
            return
        t.opd = OPD_OF[t.category]
        ev.append((t.first_response_at, "status", "public", "system", "dispatched", None, None))
        t.status = "dispatched"
        if state == "dispatched":
            t.due_at = t.first_response_at + 7 * 24 * h
            self._open_level(t, late=verify_h > 100)
            return
        acked = t.acked_at = created + ack * h
        ev.append((acked, "status", "public", "system", "in_progress", None, None))
        t.status = "in_progress"
        if state == "in_progress":
            t.due_at = acked + target_h * h
            self._open_level(t, late=verify_h > 100 or ack_h > 170)
            return
        if state == "waiting_follow_up":
            paused = created + start * h
            text = "Menunggu anggaran perubahan untuk pekerjaan ini."
            ev.append((paused, "note", "public", "officer", None, _FOLLOW_UP, text))
            ev.append((paused, "status", "public", "system", state, None, None))
            t.status = state
            t.due_at = paused + length * h
            self._open_level(t, late=verify_h > 100 or ack_h > 170)
            return
        if state in ("waiting_info", "closed_no_reply"):
            at = created + (start if state == "waiting_info" else asked) * h
            text = "Mohon kirimkan titik lokasi yang lebih tepat."
            ev.append((at, "note", "reporter", "officer", None, _QUESTION, text))
            ev.append((at, "status", "public", "system", "waiting_info", None, None))
            t.status = "waiting_info"
            t.updated_at = at
            if state == "waiting_info":
                t.awaiting = "reporter_reply"
                self._open_level(t, late=verify_h > 100 or ack_h > 170)
            else:
                ev.append((created + end * h, "status", "public", "system", state, None, None))
                t.status = t.outcome = state
                self._close(t, created + end * h, breached=verify_h > 100 or ack_h > 170)
            return
        t.resolved_at = created + res * h
        text = RESOLUTIONS[self.rng.randrange(len(RESOLUTIONS))]
        ev.append((t.resolved_at, "note", "public", "officer", None, _RESOLUTION, text))
        ev.append((t.resolved_at, "status", "public", "system", "resolved", None, None))
        t.status = "resolved"
        if state == "resolved":
            t.awaiting = "reporter_confirms,reporter_disputes"
            self._open_level(t, late=late)
            return
        if state == "reopened":
            at = created + start * h
            text = "Masih rusak, belum diperbaiki sepenuhnya."
            ev.append((at, "message", "reporter", "reporter", None, "reporter_disputes", text))
            ev.append((at, "status", "public", "system", "reopened", None, None))
            t.status = "reopened"
            t.due_at = at + 7 * 24 * h
            self._open_level(t, late=late)
            return
        closed = created + end * h
        if state == "confirmed":
            ev.append((closed, "message", "reporter", "reporter", None, "reporter_confirms", None))
        ev.append((closed, "status", "public", "system", state, None, None))
        t.status = state
        t.outcome = "fixed"
        self._close(t, closed, breached=late)

    def _close(self, t: Fake, at: datetime, *, breached: bool) -> None:
        t.closed_at = t.updated_at = at
        t.breached = breached
        t.due_at = None
        t.escalation_level = 0

    def _open_level(self, t: Fake, *, late: bool) -> None:
        """An open ticket past its deadline is at level 1 (2 once the supervisor has it)."""
        t.updated_at = t.updated_at or t.events[-1][0]
        overdue = t.due_at is not None and t.due_at < self.now
        if overdue:
            t.escalation_level = (
                2 if t.status == "in_progress" and t.due_at < self.now - GRACE else 1
            )
        t.breached = late or overdue

    def batch(self, lo: int, hi: int, out: Generated) -> Batch:
        """Tickets lo..hi-1 (ids), with their instances, photos, timeline and gallery rows."""
        rng = self.rng
        s = self.stamp
        b = Batch()
        timeline: list[tuple[Any, ...]] = []
        open_tasks: list[tuple[Any, ...]] = []
        audit: list[tuple[Any, ...]] = []
        kecamatan = demo.KECAMATAN
        for i in range(lo, hi):
            category = self.categories[_pick(rng, self.category_cum)]
            if rng.random() < self.open_share:
                state = self.open_states[_pick(rng, self.open_cum)]
            else:
                state = self.closed_states[_pick(rng, self.closed_cum)]
            t = Fake(
                category=category,
                kecamatan=kecamatan[rng.randrange(len(kecamatan))] if rng.random() < 0.92 else None,
                created_at=self.now,
            )
            self.lifecycle(state, t)
            number = ticket_number(i)
            anonymous = rng.random() < 0.10
            confidential = rng.random() < 0.03
            name = NAMES[rng.randrange(len(NAMES))]
            reporter_name = None if anonymous and rng.random() < 0.6 else name
            if anonymous and rng.random() < 0.5:
                contact = None
            elif rng.random() < 0.6:
                contact = f"{name.lower()}{i % 997}@example.org"
            else:
                contact = f"0812{i % 100_000_000:08d}"
            located = rng.random() < 0.6
            street = STREETS[rng.randrange(len(STREETS))]
            titles = TITLES[category]
            title = titles[rng.randrange(len(titles))]
            b.tickets.append(
                (
                    i,
                    number,
                    rng.choices(("complaint", "aspiration", "information_request"), (85, 10, 5))[0],
                    category,
                    title,
                    f"{title} di {street}, sudah sekitar {1 + i % 14} hari. "
                    "Mohon segera ditindaklanjuti karena mengganggu warga sekitar.",
                    f"{street} No. {1 + i % 250}",
                    -6.17 - 0.08 * rng.random() if located else None,
                    106.58 + 0.12 * rng.random() if located else None,
                    t.kecamatan,
                    reporter_name,
                    contact,
                    anonymous,
                    confidential,
                    t.status,
                    t.opd,
                    s(t.due_at),
                    t.escalation_level,
                    t.outcome,
                    s(t.created_at),
                    s(t.updated_at),
                    s(t.closed_at),
                    hashlib.sha256(number.encode()).hexdigest(),
                    s(t.first_response_at),
                    s(t.resolved_at),
                    t.awaiting,
                    t.breached,
                )
            )
            if self.links_duplicates:  # the original: an earlier ticket
                original = (
                    rng.randrange(max(1, i - 5000), i) if state == "duplicate" and i > 1 else None
                )
                b.tickets[-1] += (original,)
            tasks, trail = self._open_work(i, t, state) if state in OPEN_STATES else ([], [])
            head = GENESIS
            for seq, (at, actor, action, element) in enumerate(trail, 1):
                digest = hashlib.sha256(f"{head}{i}:{seq}".encode()).hexdigest()
                audit.append((at, i, seq, actor, action, element, head, digest))
                head = digest
            open_tasks.extend(tasks)
            b.instances.append(
                (
                    i,
                    i,
                    self.definition_id,
                    b"\x00",
                    "x",
                    t.closed_at is not None,
                    len(trail),
                    head if trail else "",
                    s(t.updated_at),
                    1,
                )
            )
            pair = self._photos(b, i, t, rng)
            timeline.extend((e[0], i, k, *e[1:]) for k, e in enumerate(t.events))
            if t.outcome == "fixed" and not confidential and pair is not None:
                b.gallery.append((i, s(t.closed_at), category, t.kecamatan, *pair))
            c = tally.cells(cast(Ticket, t))
            out.counts.update(c.counts)
            out.durations.update(c.durations)
            out.states[state] += 1
            if not confidential and rng.random() < SAMPLED_NUMBERS / self.n_tickets:
                out.public_numbers.append(number)
        # Timeline rows get their ids in time order, as commands write them: a ticket's entries
        # lie among other tickets' (on different pages), not side by side.
        timeline.sort(key=itemgetter(0, 1, 2))
        for at, i, _, kind, audience, author, status, fld, text in timeline:
            b.updates.append(
                (self.next_update, i, s(at), kind, audience, author, status, fld, text, None)
            )
            self.next_update += 1
        # Tasks and audit rows too get their ids in time order within the batch.
        open_tasks.sort(key=itemgetter(0, 1))
        for created, *row, due, claimed_by, claimed_at in open_tasks:
            b.tasks.append((self.next_task, *row, s(created), s(due), claimed_by, s(claimed_at)))
            group = row[7]
            out.tasks[group] += 1
            out.overdue_tasks += int(due is not None and due < self.now)
            if group == OFFICER_GROUP:
                out.officer_tasks.append(self.next_task)
            self.next_task += 1
        audit.sort(key=itemgetter(0, 1, 2))
        for at, i, seq, actor, action, element, prev, digest in audit:
            b.audit.append(
                (self.next_audit, i, seq, s(at), actor, action, element, "{}", prev, digest)
            )
            self.next_audit += 1
        out.attachments += len(b.attachments)
        out.updates += len(b.updates)
        out.gallery += len(b.gallery)
        out.audit += len(b.audit)
        return b

    def _open_work(
        self, i: int, t: Fake, state: str
    ) -> tuple[list[tuple[Any, ...]], list[tuple[datetime, str, str, str | None]]]:
        """The open human tasks of ticket ``i`` (its stage's task; the OPD head's and the
        supervisor's reviews where handling is overdue) and its audit trail: the path's
        entries, AUDIT_EVENTS of them (the submission and the latest; claims where the path
        is shorter). Tasks: (created, instance, ticket, category, kecamatan, guid, element,
        title, group, form, due, claimed_by, claimed_at)."""
        element = TASK_OF.get(state)
        if element is None:
            return [], []
        rng = self.rng
        now = self.now
        opd = t.opd
        assert t.stage_at is not None
        verifier = f"user:verifikator_{rng.randrange(1, 7)}"
        officer = f"user:petugas_{opd}_{rng.randrange(1, 9)}"
        steps: list[tuple[Any, str, tuple[tuple[str, str | None], ...]]] = [
            (t.created_at, "public", SUBMITTED)
        ]
        if state != "verification":
            steps.append((t.first_response_at, verifier, ROUTED if opd else NOT_ROUTED))
        if state in ("in_progress", "waiting_follow_up", "reopened"):
            steps.append((t.acked_at, officer, ACKNOWLEDGED))
        if state == "waiting_follow_up":
            steps.append((t.stage_at, officer, PAUSED))
        if state == "reopened":
            steps.append((t.resolved_at, officer, RESOLVED))
            steps.append((t.stage_at, "public", DISPUTED))
        ready: list[tuple[str, datetime, datetime | None]] = [(element, t.stage_at, t.due_at)]
        if t.due_at is not None and t.due_at < now:  # the deadline timer fired
            fired = tuple(("element_completed", e) for e in OVERDUE[element])
            steps.append((t.due_at, "system:timer", (("timers_checked", None), *fired)))
            if element == "handle" and rng.random() < HEAD_REVIEW_OPEN:
                ready.append(("head_review", t.due_at, None))
            if t.escalation_level == 2:
                at = t.due_at + GRACE
                fired = tuple(("element_completed", e) for e in SUPERVISOR_ESCALATION)
                steps.append((at, "system:timer", (("timers_checked", None), *fired)))
                if rng.random() < SUPERVISOR_REVIEW_OPEN:
                    ready.append(("supervisor_review", at, None))
        path = [(at, actor, action, e) for at, actor, step in steps for action, e in step]
        holders = {
            "verifier": verifier,
            f"{opd}": officer,
            f"{opd}_head": f"user:kepala_{opd}",
            "supervisor": f"user:pengawas_{rng.randrange(1, 4)}",
        }
        tasks = []
        claims: list[tuple[datetime, str, str, str | None]] = []
        for name, became_ready, due in ready:
            spec = self.user_tasks[name]
            group = definitions.lane_group(spec.lane, {"opd": opd}) or ""
            created = became_ready + timedelta(seconds=0.05 + rng.random())  # the command
            claimed_by = claimed_at = None
            if rng.random() < CLAIMED_SHARE:
                claimed_by = holders[group]
                claimed_at = created + (now - created) * rng.random()
                claims.append((claimed_at, claimed_by, "task_claimed", name))
            guid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            ticket = (i, i, t.category, t.kecamatan)  # instance, ticket, as the projection
            row = (created, *ticket, guid, name, spec.name, group, spec.form, due, claimed_by)
            tasks.append((*row, claimed_at))
        k = rng.randint(*AUDIT_EVENTS)
        budget = max(4, k - len(claims))
        if len(path) > budget:  # the submission and the latest entries
            path = path[:4] + path[len(path) - (budget - 4) :]
        elif len(path) < budget:  # colleagues claimed the task and let it go again
            pad = budget - len(path)
            if pad % 2:
                pad += 1 if len(path) + pad - 1 + len(claims) < AUDIT_EVENTS[0] else -1
            start = tasks[0][0]
            until = tasks[0][-1] or now
            times = sorted(start + (until - start) * rng.random() for _ in range(pad))
            for j in range(0, pad, 2):
                who = (
                    f"user:verifikator_{rng.randrange(1, 7)}"
                    if tasks[0][8] == "verifier"
                    else f"user:petugas_{opd}_{rng.randrange(1, 9)}"
                )
                path.append((times[j], who, "task_claimed", element))
                path.append((times[j + 1], who, "task_released", element))
        trail = sorted(path + claims, key=itemgetter(0))
        assert AUDIT_EVENTS[0] <= len(trail) <= AUDIT_EVENTS[1], (state, len(trail))
        return tasks, trail

    def _photos(self, b: Batch, i: int, t: Fake, rng: random.Random) -> tuple[int, int] | None:
        """Report photos (a tenth of reports) and the after-photo of resolved tickets.

        Returns (first report photo, after-photo) when the ticket has both: the gallery's pair.
        """
        first: int | None = None
        if rng.random() < 0.10:
            for _ in range(1 + (rng.random() < 0.3)):
                image = self.photos.report[rng.randrange(len(self.photos.report))]
                self._attach(b, i, "report", "public", image, t.created_at, t.created_at)
                first = first if first is not None else self.next_attachment - 1
        if t.resolved_at is None:
            return None
        if t.category in demo.INFRASTRUCTURE or (first is not None and rng.random() < 0.5):
            image = self.photos.after[rng.randrange(len(self.photos.after))]
            uploaded = t.resolved_at - timedelta(minutes=5 + rng.random() * 120)
            self._attach(b, i, "after", f"petugas_{t.opd}", image, uploaded, t.resolved_at)
            if first is not None:
                return first, self.next_attachment - 1
        return None

    def _attach(
        self,
        b: Batch,
        ticket_id: int,
        purpose: str,
        uploader: str,
        image: attachments.StoredImage,
        created: datetime,
        linked: datetime,
    ) -> None:
        b.attachments.append(
            (
                self.next_attachment,
                ticket_id,
                purpose,
                uploader,
                image.sha256,
                image.thumb_sha256,
                image.size,
                image.mime,
                image.width,
                image.height,
                self.stamp(created),
                self.stamp(linked),
            )
        )
        self.next_attachment += 1


_CLOSED = {"confirmed", "closed", "archived", "forwarded", "duplicate", "closed_no_reply"}
_RESOLUTION = "handle.schema.json#resolution"
_QUESTION = "handle.schema.json#question"
_FOLLOW_UP = "handle.schema.json#follow_up_reason"


def _cumulative(weights: Any) -> list[float]:
    total = 0.0
    out = []
    for w in weights:
        total += w
        out.append(total)
    return [x / total for x in out]


def _pick(rng: random.Random, cum: list[float]) -> int:
    x = rng.random()
    for k, c in enumerate(cum):
        if x < c:
            return k
    return len(cum) - 1


def make_photos(store: media.FileStore, seed: int) -> Photos:
    """A handful of real photos (drawn, JPEG-encoded, checked by engine.media) in the store."""
    rng = random.Random(seed)
    stored = []
    for k in range(6):
        image = Image.new("RGB", (1600, 1200))
        draw = ImageDraw.Draw(image)
        top = (rng.randrange(90, 200), rng.randrange(120, 210), rng.randrange(180, 255))
        for y in range(0, 1200, 8):  # a sky-to-road gradient
            f = y / 1200
            colour = tuple(int(c * (1 - f) + 70 * f) for c in top)
            draw.rectangle((0, y, 1600, y + 8), fill=colour)
        for _ in range(40):
            x, y = rng.randrange(1600), rng.randrange(500, 1200)
            r = rng.randrange(20, 160)
            shade = rng.randrange(30, 120)
            draw.ellipse((x - r, y - r // 2, x + r, y + r // 2), fill=(shade, shade, shade - 10))
        noisy = Image.blend(image, Image.effect_noise((1600, 1200), 40).convert("RGB"), 0.15)
        out = io.BytesIO()
        noisy.filter(ImageFilter.SMOOTH).save(out, "JPEG", quality=90)
        processed = media.process_image(out.getvalue())
        stored.append(attachments.store(store, processed))
        log(f"photo {k + 1}: {processed.width}x{processed.height}, {len(processed.data)} bytes")
    return Photos(report=stored[:3], after=stored[3:])


# -- the database -------------------------------------------------------------------------------


FILLED = (
    "ticket",
    "process_instance",
    "attachment",
    "ticket_update",
    "gallery_item",
    "human_task",
    "audit_event",
)
# Their unique constraints are dropped and added again after the fill on PostgreSQL (SQLite
# cannot drop a table's constraint; there the rows come in key order, or few and in cache).
UNIQUE_AFTER = ("human_task", "audit_event")


FILL_CACHE_KIB = 512 * 1024  # SQLite page cache of the fill's connection (the app keeps its own)


def _bulk_load_pragmas(dbapi: Any, _record: Any) -> None:
    """The fill's own SQLite connections get a large page cache, so random inserts into the
    ticket number's unique index stay in memory. The app measured later connects with
    make_engine's settings alone."""
    dbapi.execute(f"PRAGMA cache_size = -{FILL_CACHE_KIB}")


def setup(url: str) -> tuple[sa.Engine, int]:
    engine = make_engine(url)
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _bulk_load_pragmas)
    Base.metadata.create_all(engine)
    factory = make_session_factory(engine)
    now = datetime.now(UTC)
    with factory.begin() as session:
        demo.ensure_reference_data(session)
        demo.ensure_demo_city(session)
        definitions.deploy(
            session, definitions.read_files(REPO_ROOT / "workflows"), actor="bench", now=now
        )
        definition = definitions.latest_definition(session, "complaint")
    return engine, definition.id


class Writer:
    """Bulk writes: one executemany per table and batch (SQLite) or COPY (PostgreSQL)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self.tables: dict[str, Table] = {
            name: cast(Table, Base.metadata.tables[name])
            for name in (*FILLED, "stat_count", "stat_duration", "stat_median")
        }
        self.skip_triggers = False
        if self.dialect == "postgresql":
            with engine.connect() as conn:
                self.skip_triggers = bool(
                    conn.exec_driver_sql(
                        "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
                    ).scalar()
                )
        if self.dialect == "sqlite":
            # Rows come with datetimes already in SQLite's stored form (sqlite_stamp): the
            # same text the engine's column type writes.
            store = self.tables["ticket"].c.created_at.type._cached_bind_processor(engine.dialect)
            assert store is not None
            for sample in (datetime.now(UTC), datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)):
                assert sqlite_stamp(sample) == store(sample), (sqlite_stamp(sample), sample)

    def write(self, batch: Batch) -> None:
        parts = (
            ("ticket", ticket_columns(), batch.tickets),
            ("process_instance", INSTANCE_COLUMNS, batch.instances),
            ("attachment", ATTACHMENT_COLUMNS, batch.attachments),
            ("ticket_update", UPDATE_COLUMNS, batch.updates),
            ("gallery_item", GALLERY_COLUMNS, batch.gallery),
            ("human_task", TASK_COLUMNS, batch.tasks),
            ("audit_event", AUDIT_COLUMNS, batch.audit),
        )
        self.write_rows(parts)

    def write_rows(self, parts: Any) -> None:
        if self.dialect == "postgresql":
            raw = self.engine.raw_connection()
            try:
                with raw.cursor() as cur:
                    if self.skip_triggers:
                        # Foreign keys are checked once after the fill (check_foreign_keys),
                        # not by a trigger per row: a superuser may skip them, for this
                        # transaction only.
                        cur.execute("SET LOCAL session_replication_role = replica")
                    for name, columns, rows in parts:
                        if rows:
                            sql = f"COPY {name} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)"
                            with cur.copy(sql) as copy:  # type: ignore[attr-defined]
                                copy.set_types(self._pg_types(name, columns))
                                for row in rows:
                                    copy.write_row(row)
                raw.commit()
            finally:
                raw.close()
            return
        with self.engine.begin() as conn:
            for name, columns, rows in parts:
                if rows:
                    placeholders = ", ".join("?" * len(columns))
                    sql = f"INSERT INTO {name} ({', '.join(columns)}) VALUES ({placeholders})"
                    conn.exec_driver_sql(sql, rows)

    def _pg_types(self, name: str, columns: tuple[str, ...]) -> list[str]:
        """The binary COPY types of the columns, from the schema's column types."""
        names = {int: "int4", str: "text", bool: "bool", bytes: "bytea", float: "float8"}
        out = []
        for c in columns:
            column_type = self.tables[name].c[c].type
            if isinstance(column_type, sa.TypeDecorator):
                column_type = column_type.impl_instance
            python_type = column_type.python_type
            out.append("timestamptz" if python_type is datetime else names[python_type])
        return out

    def drop_indexes(self) -> list[sa.Index | sa.UniqueConstraint]:
        """Secondary indexes of the filled tables (from the schema), built again after; on
        PostgreSQL the unique constraints of UNIQUE_AFTER's tables too."""
        indexes = [ix for name in FILLED for ix in self.tables[name].indexes]
        unique = [
            c
            for name in (UNIQUE_AFTER if self.dialect == "postgresql" else ())
            for c in self.tables[name].constraints
            if isinstance(c, sa.UniqueConstraint)
        ]
        with self.engine.begin() as conn:
            for ix in indexes:
                ix.drop(conn)
            for c in unique:
                conn.execute(sa.schema.DropConstraint(c))
        return [*indexes, *unique]

    def create_indexes(self, indexes: list[sa.Index | sa.UniqueConstraint]) -> None:
        with self.engine.begin() as conn:
            for ix in indexes:
                if isinstance(ix, sa.Index):
                    ix.create(conn)
                else:
                    conn.execute(sa.schema.AddConstraint(ix))


def sqlite_stamp(value: datetime | None) -> str | None:
    """A UTC datetime as SQLAlchemy stores it in SQLite (checked against the column type's
    own bind processor in ``Writer``), without its per-value overhead."""
    return None if value is None else value.isoformat(" ", "microseconds")[:26]


def same(value: datetime | None) -> datetime | None:
    return value


def produce(
    queue: Any,
    *,
    tickets: int,
    seed: int,
    definition_id: int,
    photos: Photos,
    now: datetime,
    dialect: str,
) -> None:
    """The generator process: batches of rows, then the ``Generated`` summary."""
    try:
        city = City(
            now=now,
            seed=seed,
            tickets=tickets,
            definition_id=definition_id,
            photos=photos,
            stamp=sqlite_stamp if dialect == "sqlite" else same,
        )
        out = Generated(open_share=city.open_share)
        for lo in range(1, tickets + 1, BATCH):
            queue.put(city.batch(lo, min(lo + BATCH, tickets + 1), out))
        queue.put(out)
    except BaseException:
        queue.put(traceback.format_exc())
        raise


def batches(
    *, tickets: int, seed: int, definition_id: int, photos: Photos, dialect: str
) -> Iterator[Batch | Generated]:
    """Generated batches, made in a second process while this one writes (two cores)."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue(maxsize=4)
    kwargs = {
        "tickets": tickets,
        "seed": seed,
        "definition_id": definition_id,
        "photos": photos,
        "now": datetime.now(UTC),
        "dialect": dialect,
    }
    process = context.Process(target=produce, args=(queue,), kwargs=kwargs, daemon=True)
    process.start()
    try:
        while True:
            try:
                item = queue.get(timeout=5)
            except Empty:
                if not process.is_alive():
                    raise SystemExit("the generator process died") from None
                continue
            if isinstance(item, str):
                raise SystemExit(f"the generator process failed:\n{item}")
            yield item
            if isinstance(item, Generated):
                return
    finally:
        process.join(timeout=10)
        if process.is_alive():
            process.terminate()


def fill(
    engine: sa.Engine, *, tickets: int, seed: int, definition_id: int, photos: Photos
) -> tuple[Generated, dict[str, Any]]:
    """Generate and write ``tickets`` tickets; return what the measurement needs and timings."""
    writer = Writer(engine)
    out = Generated()
    start = time.perf_counter()
    indexes = writer.drop_indexes()
    wait_s = write_s = 0.0
    rows = done = 0
    last_log = start
    t0 = time.perf_counter()
    for item in batches(
        tickets=tickets,
        seed=seed,
        definition_id=definition_id,
        photos=photos,
        dialect=writer.dialect,
    ):
        t1 = time.perf_counter()
        wait_s += t1 - t0
        if isinstance(item, Generated):
            out = item
            break
        writer.write(item)
        t0 = time.perf_counter()
        write_s += t0 - t1
        rows += item.rows()
        done += len(item.tickets)
        if t0 - last_log > 10 or done == tickets:
            last_log = t0
            elapsed = t0 - start
            log(
                f"  {done:>9} tickets, {rows:>10} rows in {elapsed:6.1f} s:"
                f" {done / elapsed:8.0f} tickets/s, {rows / elapsed:8.0f} rows/s"
                f" (writing {write_s:.1f} s, waiting for the generator {wait_s:.1f} s)"
            )
    assert done == tickets, (done, tickets)
    t0 = time.perf_counter()
    stat_rows = write_stats(writer, out)
    with engine.begin() as conn:  # the inbox's kept counts, as the projection keeps them
        conn.exec_driver_sql(
            "INSERT INTO open_task_count (candidate_group, category, kecamatan, count) "
            "SELECT candidate_group, category, coalesce(kecamatan, ''), count(*) FROM human_task"
            " WHERE completed_at IS NULL"
            " GROUP BY candidate_group, category, coalesce(kecamatan, '')"
        )
    stats_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    writer.create_indexes(indexes)
    index_s = time.perf_counter() - t0
    log(f"  statistics: {stat_rows} rows in {stats_s:.1f} s; indexes rebuilt in {index_s:.1f} s")
    t0 = time.perf_counter()
    if writer.dialect == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for name in (
                "ticket",
                "process_instance",
                "attachment",
                "ticket_update",
                "human_task",
                "audit_event",
            ):
                conn.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                    f"(SELECT coalesce(max(id), 1) FROM {name}))"
                )
            # This schema's tables only (the rest of the database is not ours to lock).
            conn.exec_driver_sql(f"VACUUM ANALYZE {', '.join(Base.metadata.tables)}")
    else:
        with engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
            conn.commit()
        raw = engine.raw_connection()  # outside a transaction: fold the WAL into the file
        try:
            raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            raw.close()
    analyze_s = time.perf_counter() - t0
    total = time.perf_counter() - start
    log(f"  analyze {analyze_s:.1f} s; fill {total:.1f} s in all")
    timings = {
        "fill_seconds": round(total, 1),
        "write_seconds": round(write_s, 1),
        "generator_wait_seconds": round(wait_s, 1),
        "index_seconds": round(index_s, 1),
        "analyze_seconds": round(analyze_s, 1),
        "rows": rows + stat_rows,
        "rows_per_s": round((rows + stat_rows) / total),
    }
    return out, timings


def write_stats(writer: Writer, out: Generated) -> int:
    counts = [
        (dimension, key, state, late, n)
        for (dimension, key, state, late), n in sorted(out.counts.items())
    ]
    durations = [
        (metric, dimension, key, b, n)
        for (metric, dimension, key, b), n in sorted(out.durations.items())
    ]
    medians = [
        (metric, dimension, key, hours)
        for (metric, dimension, key), hours in sorted(tally.medians(out.durations).items())
    ]
    writer.write_rows(
        (
            ("stat_count", ("dimension", "key", "state", "late", "count"), counts),
            ("stat_duration", ("metric", "dimension", "key", "bucket", "count"), durations),
            ("stat_median", ("metric", "dimension", "key", "hours"), medians),
        )
    )
    return len(counts) + len(durations) + len(medians)


def database_bytes(engine: sa.Engine, url: str, schema: str | None) -> int:
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            return int(
                conn.execute(
                    sa.text(
                        "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c"
                        " JOIN pg_namespace n ON n.oid = c.relnamespace"
                        " WHERE n.nspname = :schema AND c.relkind IN ('r', 'm')"
                    ),
                    {"schema": schema},
                ).scalar_one()
            )
    path = Path(sa.make_url(url).database or "")
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*") if p.is_file())


def check_foreign_keys(engine: sa.Engine) -> None:
    """Every foreign key of the filled tables points at a row (COPY ran without FK triggers)."""
    with engine.connect() as conn:
        for name in FILLED:
            table = Base.metadata.tables[name]
            for fk in table.foreign_keys:
                parent = sa.alias(fk.column.table, "parent")
                target = parent.c[fk.column.name]
                dangling = conn.scalar(
                    select(sa.func.count())
                    .select_from(table.outerjoin(parent, fk.parent == target))
                    .where(fk.parent.is_not(None), target.is_(None))
                )
                assert dangling == 0, f"{name}.{fk.parent.name}: {dangling} rows point nowhere"
    log("  checked: every foreign key of the filled rows points at a row")


def check(factory: sessionmaker[Session], tickets: int, out: Generated) -> None:
    """The fill is what the engine would have left: row counts agree, and (up to
    ``FULL_CHECK`` tickets) the kept statistics equal ``tally.recount`` of the stored tickets."""
    with factory() as session:
        for model, expected in (
            (Ticket, tickets),
            (ProcessInstance, tickets),
            (Attachment, out.attachments),
            (TicketUpdate, out.updates),
            (GalleryItem, out.gallery),
            (HumanTask, sum(out.tasks.values())),
            (AuditEvent, out.audit),
        ):
            got = session.scalar(select(sa.func.count()).select_from(model))
            assert got == expected, (model.__name__, got, expected)
        # Open tasks: the ticket's category and kecamatan, on open tickets only, created after
        # them; each instance's audit_seq is its newest event's seq, its head that event's hash.
        task, ticket = HumanTask, Ticket
        mismatched = session.scalar(
            select(sa.func.count())
            .select_from(task)
            .join(ticket, ticket.id == task.ticket_id)
            .where(
                sa.or_(
                    task.category != ticket.category,
                    sa.func.coalesce(task.kecamatan, "") != sa.func.coalesce(ticket.kecamatan, ""),
                    ticket.closed_at.is_not(None),
                    task.created_at < ticket.created_at,
                    task.instance_id != task.ticket_id,
                )
            )
        )
        assert mismatched == 0, f"{mismatched} open tasks disagree with their ticket"
        heads = (
            select(AuditEvent.instance_id, sa.func.max(AuditEvent.seq).label("seq"))
            .group_by(AuditEvent.instance_id)
            .subquery()
        )
        wrong = session.scalar(
            select(sa.func.count())
            .select_from(ProcessInstance)
            .outerjoin(heads, heads.c.instance_id == ProcessInstance.id)
            .where(ProcessInstance.audit_seq != sa.func.coalesce(heads.c.seq, 0))
        )
        assert wrong == 0, f"{wrong} instances' audit_seq differs from their trail"
        log(
            "  checked: open tasks carry their ticket's category and kecamatan; audit_seq is"
            " each trail's length"
        )
        stored = tally.stored(session)
        assert stored == (out.counts, out.durations), "statistics differ from the generated"
        assert sum(n for k, n in stored[0].items() if k[0] == "all") == tickets
        if tickets <= FULL_CHECK:
            recounted = tally.recount(session.scalars(select(Ticket)).yield_per(5000))
            assert recounted == stored, "statistics differ from a recount of the tickets"
            log(f"  checked: stat_count/stat_duration equal tally.recount of {tickets} tickets")


# -- the measurement -----------------------------------------------------------------------------


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    k = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


def sign_in(client: Any) -> None:
    """Sign in as OFFICER through the sign-in form (its CSRF token included)."""
    form = client.get("/masuk").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*\bvalue="([^"]+)"', form)
    assert token, "no csrf_token on /masuk"
    username, password = OFFICER
    answer = client.post(
        "/masuk", data={"username": username, "password": password, "csrf_token": token[1]}
    )
    assert answer.status_code == 302, f"signing in answered {answer.status_code}"
    assert answer.location.endswith("/petugas"), answer.location


def measure(
    settings: Settings,
    out: Generated,
    *,
    samples: int,
    warmup: int,
    seed: int,
    profile: str | None = None,
) -> dict[str, Any]:
    app = create_app({"SETTINGS": settings, "TESTING": False})
    client = app.test_client()  # the public: not signed in
    officer = app.test_client()  # signed in once, as an officer of OFFICER_GROUP
    sign_in(officer)
    rng = random.Random(seed + 1)
    numbers = out.public_numbers
    codes = sorted(CATEGORY_WEIGHTS)
    task_ids = out.officer_tasks

    def ticket(_: int) -> str:
        return f"/laporan/{numbers[rng.randrange(len(numbers))]}"

    def gallery_category(_: int) -> str:
        return f"/galeri?kategori={codes[rng.randrange(len(codes))]}"

    def task(_: int) -> str:
        return f"/petugas/tugas/{task_ids[rng.randrange(len(task_ids))]}"

    pages: dict[str, tuple[Any, Callable[[int], str]]] = {
        "ticket": (client, ticket),
        "statistics": (client, lambda _: "/statistik"),
        "gallery": (client, lambda _: "/galeri"),
        "gallery_category": (client, gallery_category),
        "inbox": (officer, lambda _: "/petugas"),
        "task": (officer, task),
    }
    # Sanity: the pages show what was filled, and a photo they link to is served.
    first = client.get("/galeri")
    body = first.get_data(as_text=True)
    assert first.status_code == 200, first.status_code
    thumbs = re.findall(r'src="(/foto/\d+/kecil)"', body)
    assert len(thumbs) == 24, f"the gallery's first page shows {len(thumbs) // 2} pairs"
    photo = client.get(thumbs[0])
    if photo.status_code != 200 or photo.mimetype != "image/jpeg":  # not one of the pages timed
        log(f"  WARNING: {thumbs[0]} answered {photo.status_code} {photo.mimetype}")
    number = numbers[0]
    page = client.get(f"/laporan/{number}")
    assert page.status_code == 200, page.status_code
    assert number in page.get_data(as_text=True)
    # The officer's inbox: a full first page, and its count is the group's open tasks.
    inbox = officer.get("/petugas")
    body = inbox.get_data(as_text=True)
    assert inbox.status_code == 200, inbox.status_code
    shown = body.count(MARKERS["inbox"])
    assert shown == INBOX_PAGE, f"the inbox shows {shown} tasks"
    counted = re.search(r'<span class="count">(\d+)</span>', body)
    assert counted, "the inbox shows no count"
    assert int(counted[1]) == out.tasks[OFFICER_GROUP], (counted[1], out.tasks)
    opened = officer.get(f"/petugas/tugas/{task_ids[0]}")
    body = opened.get_data(as_text=True)
    assert opened.status_code == 200, opened.status_code
    assert MARKERS["task"] in body, "the task page shows no form"
    history = body.partition('id="history-title"')[2].count("<tr>") - 1  # minus the head
    assert AUDIT_EVENTS[0] - 1 <= history <= AUDIT_EVENTS[1], f"history of {history} rows"

    statements = [0]
    db_engine = app.extensions["laksa_sessions"].kw["bind"]

    def count(*_: Any) -> None:
        statements[0] += 1

    sa.event.listen(db_engine, "before_cursor_execute", count)
    times: dict[str, list[float]] = {name: [] for name in pages}
    cpu: dict[str, list[float]] = {name: [] for name in pages}
    queries: dict[str, int] = dict.fromkeys(pages, 0)
    profiler = cProfile.Profile()
    load_before = os.getloadavg()[0]
    for rnd in range(warmup + samples):
        for name, (browser, path_of) in pages.items():
            path = path_of(rnd)
            before = statements[0]
            profiled = name == profile and rnd >= warmup
            if profiled:
                profiler.enable()
            start_cpu = time.thread_time()
            start = time.perf_counter()
            response = browser.get(path)
            response.get_data()
            elapsed = time.perf_counter() - start
            used = time.thread_time() - start_cpu
            if profiled:
                profiler.disable()
            if response.status_code != 200:
                raise SystemExit(f"{path}: HTTP {response.status_code}")
            if name in MARKERS and MARKERS[name] not in response.get_data(as_text=True):
                raise SystemExit(f"{path}: not the officer's page (signed out?)")
            if rnd >= warmup:
                times[name].append(elapsed * 1000)
                cpu[name].append(used * 1000)
                queries[name] += statements[0] - before
    load_after = os.getloadavg()[0]
    if profile:  # the profiler's own overhead inflates that page's times; read them as shares
        report = io.StringIO()
        stats = pstats.Stats(profiler, stream=report).sort_stats("tottime")
        stats.print_stats(30)
        log(f"profile of {PATHS[profile]} ({samples} requests, by own time):\n{report.getvalue()}")
    sa.event.remove(db_engine, "before_cursor_execute", count)
    result: dict[str, Any] = {}
    for name, values in times.items():
        p95 = percentile(values, 95)
        result[name] = {
            "path": PATHS[name],
            "p50_ms": round(statistics.median(values), 2),
            "p95_ms": round(p95, 2),
            "max_ms": round(max(values), 2),
            "cpu_p50_ms": round(statistics.median(cpu[name]), 2),
            "cpu_p95_ms": round(percentile(cpu[name], 95), 2),
            "statements": round(queries[name] / len(values), 1),
            "samples": len(values),
            "target_p95_ms": TARGETS_MS[name],
            "pass": p95 <= TARGETS_MS[name],
        }
    # Other work on the machine shows in wall-clock times (not in the CPU times).
    result["load_average"] = [round(load_before, 2), round(load_after, 2)]
    db_engine.dispose()
    return result


# -- backends -----------------------------------------------------------------------------------


@dataclass
class Backend:
    name: str
    url: str
    home: Path
    schema: str | None = None


def run_backend(backend: Backend, args: argparse.Namespace) -> dict[str, Any]:
    log(f"[{backend.name}] {args.tickets} tickets")
    engine, definition_id = setup(backend.url)
    store = media.media_store(backend.home)
    photos = make_photos(store, args.seed)
    out, timings = fill(
        engine, tickets=args.tickets, seed=args.seed, definition_id=definition_id, photos=photos
    )
    factory = make_session_factory(engine)
    check(factory, args.tickets, out)
    if engine.dialect.name == "postgresql":  # SQLite checked them on insert
        check_foreign_keys(engine)
    with factory.begin() as session:  # the officer whose pages are measured
        username, password = OFFICER
        create_user(
            session,
            username=username,
            password=password,
            role="officer",
            groups=[OFFICER_GROUP],
            now=datetime.now(UTC),
        )
    size = database_bytes(engine, backend.url, backend.schema)
    engine.dispose()
    open_tasks = sum(out.tasks.values())
    log(
        f"[{backend.name}] database {size / 2**20:.0f} MiB; states {dict(out.states)};"
        f" {out.attachments} attachments, {out.updates} timeline rows, {out.gallery} pairs;"
        f" {open_tasks} open tasks ({out.overdue_tasks} overdue; by group"
        f" {dict(out.tasks.most_common())}), {out.audit} audit events;"
        f" open share {out.open_share:.3f}"
    )
    settings = Settings(
        home=backend.home,
        database_url=backend.url,
        redis_url=None,
        secret_key="bench-secret",
        workflows_dir=REPO_ROOT / "workflows",
    )
    pages = measure(
        settings,
        out,
        samples=args.samples,
        warmup=args.warmup,
        seed=args.seed,
        profile=args.profile,
    )
    load = pages.pop("load_average")
    for r in pages.values():
        log(
            f"[{backend.name}] {r['path']:<26} p50 {r['p50_ms']:7.2f} ms  p95 {r['p95_ms']:7.2f} ms"
            f"  (target {r['target_p95_ms']:.0f}) {'PASS' if r['pass'] else 'FAIL'};"
            f" CPU p50 {r['cpu_p50_ms']:.2f} ms, {r['statements']} statements"
        )
    log(f"[{backend.name}] load average {load[0]} before, {load[1]} after the measurement")
    return {
        **timings,
        "db_bytes": size,
        "attachments": out.attachments,
        "ticket_updates": out.updates,
        "gallery_items": out.gallery,
        "open_share": round(out.open_share, 4),
        "open_tasks": open_tasks,
        "officer_group_tasks": out.tasks[OFFICER_GROUP],
        "overdue_tasks": out.overdue_tasks,
        "audit_events": out.audit,
        "pages": pages,
        "load_average": load,
        "pass": all(r["pass"] for r in pages.values()),
    }


@dataclass
class Places:
    """Temporary folders and schemas, removed at the end unless --keep."""

    keep: bool
    folders: list[Path] = field(default_factory=list)
    schemas: list[tuple[str, str]] = field(default_factory=list)  # (admin url, schema)

    def folder(self, name: str) -> Path:
        path = Path(tempfile.mkdtemp(prefix=f"laksa-bench-reads-{name}-"))
        self.folders.append(path)
        return path

    def schema(self, url: str) -> tuple[str, str]:
        schema = f"bench_{uuid.uuid4().hex[:10]}"
        admin = sa.create_engine(url)
        with admin.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        admin.dispose()
        self.schemas.append((url, schema))
        separator = "&" if "?" in url else "?"
        return f"{url}{separator}options={quote(f'-csearch_path={schema}')}", schema

    def cleanup(self) -> None:
        if self.keep:
            for path in self.folders:
                log(f"kept {path}")
            for _, schema in self.schemas:
                log(f"kept schema {schema}")
            return
        for path in self.folders:
            shutil.rmtree(path, ignore_errors=True)
        for url, schema in self.schemas:
            admin = sa.create_engine(url)
            with admin.begin() as conn:
                conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            admin.dispose()


def backends_of(args: argparse.Namespace, places: Places) -> Iterator[Backend]:
    postgres = os.environ.get("LAKSA_BENCH_POSTGRES_URL") or os.environ.get(
        "LAKSA_TEST_POSTGRES_URL"
    )
    chosen = args.backend or ("both" if postgres else "sqlite")
    if chosen in ("sqlite", "both"):
        home = places.folder("sqlite")
        yield Backend("sqlite", f"sqlite:///{home / 'laksa.db'}", home)
    if chosen in ("postgres", "both"):
        if not postgres:
            raise SystemExit("--backend postgres needs LAKSA_TEST_POSTGRES_URL")
        url, schema = places.schema(postgres)
        yield Backend("postgresql", url, places.folder("postgres"), schema)


def code_version() -> str:
    """The commit measured, with ``+dirty`` when the work tree differs from it."""
    try:
        commit = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("+dirty" if dirty else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"))
    parser.add_argument("--samples", type=int, default=300, help="timed requests per page")
    parser.add_argument("--warmup", type=int, default=30, help="untimed requests per page first")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the databases and media")
    parser.add_argument(
        "--profile",
        choices=sorted(PATHS),
        help="also print where the timed requests of this page spend their time (cProfile)",
    )
    args = parser.parse_args()
    if args.samples < 200:
        parser.error("--samples: at least 200")
    if args.tickets < 1000:
        parser.error("--tickets: at least 1000 (the gallery's first page needs 12 pairs)")

    # A kill (SIGTERM) still drops the schema and removes the folders.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    places = Places(keep=args.keep)
    report: dict[str, Any] = {
        "bench": "reads",
        "tickets": args.tickets,
        "samples": args.samples,
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "code": code_version(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs,"
        f" Python {platform.python_version()}",
        "backends": {},
    }
    try:
        for backend in backends_of(args, places):
            report["backends"][backend.name] = run_backend(backend, args)
    finally:
        places.cleanup()
    report["pass"] = all(b["pass"] for b in report["backends"].values())
    print(json.dumps(report))


if __name__ == "__main__":
    main()
