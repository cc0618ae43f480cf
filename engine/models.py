"""The database schema: definitions, tickets, instances, projections, audit, outbox, identity,
photos, the reporter-facing timeline and the statistics kept incrementally."""

from __future__ import annotations

from datetime import date
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean
from sqlalchemy import Connection
from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import LargeBinary
from sqlalchemy import String
from sqlalchemy import Table
from sqlalchemy import Text
from sqlalchemy import UniqueConstraint
from sqlalchemy import event
from sqlalchemy import false
from sqlalchemy import text
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from engine.db import Base


class DefinitionBundle(Base):
    """The files of one deployed workflows folder, stored once per content hash."""

    __tablename__ = "definition_bundle"
    id: Mapped[int] = mapped_column(primary_key=True)
    content_hash: Mapped[str] = mapped_column(String(64), unique=True)
    files: Mapped[dict[str, Any]]  # relative path -> text
    deployed_at: Mapped[datetime]
    deployed_by: Mapped[str] = mapped_column(String(120))
    note: Mapped[str | None] = mapped_column(String(500))  # why it was deployed


class Definition(Base):
    """One version of one executable process; new tickets take the latest version of a key."""

    __tablename__ = "definition"
    __table_args__ = (UniqueConstraint("key", "version"), UniqueConstraint("key", "bundle_id"))
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(120), index=True)
    version: Mapped[int]
    bundle_id: Mapped[int] = mapped_column(ForeignKey("definition_bundle.id"))
    content_hash: Mapped[str] = mapped_column(String(64))
    deployed_at: Mapped[datetime]


class Ticket(Base):
    """A citizen's report: what the public, officers and statistics see."""

    __tablename__ = "ticket"
    # Nearby open tickets of one category (the report form's "already reported?").
    __table_args__ = (
        Index("ix_ticket_nearby", "category", "latitude"),
        # Tickets by time of receipt, newest first (Open311's GET requests and its dates).
        Index("ix_ticket_created", "created_at", "id"),
        UniqueConstraint("partner_id", "external_id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    category: Mapped[str] = mapped_column(String(40), index=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    location: Mapped[str | None] = mapped_column(String(300))
    latitude: Mapped[float | None]
    longitude: Mapped[float | None]
    kecamatan: Mapped[str | None] = mapped_column(String(80))
    reporter_name: Mapped[str | None] = mapped_column(String(120))
    reporter_contact: Mapped[str | None] = mapped_column(String(200))
    reporter_user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    confidential: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(40), index=True)
    opd: Mapped[str | None] = mapped_column(String(40), index=True)
    due_at: Mapped[datetime | None]
    escalation_level: Mapped[int] = mapped_column(default=0)
    outcome: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    # The original this ticket duplicates (set when it ends as a duplicate: links_to property).
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id"))
    # SHA-256 of the reporter's private-link secret (rule 12); the secret itself is not kept.
    reporter_secret_hash: Mapped[str | None] = mapped_column(String(64))
    # Milestones for the statistics, set from BPMN properties (engine.projection).
    first_response_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    # The BPMN messages the ticket waits for now (comma-separated), so pages offer the
    # reporter's reply, confirmation or dispute only when the process can take it.
    awaiting: Mapped[str | None] = mapped_column(String(200))
    breached: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # (ever: a deadline of this ticket was missed)
    # The partner system that submitted it (a partner key), and the partner's own reference,
    # unique per partner (engine.partners).
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partner.id"), index=True)
    external_id: Mapped[str | None] = mapped_column(String(100))


class ProcessInstance(Base):
    """One ticket's workflow state (no spec inside), guarded by an optimistic version."""

    __tablename__ = "process_instance"
    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), unique=True)
    definition_id: Mapped[int] = mapped_column(ForeignKey("definition.id"), index=True)
    state: Mapped[bytes] = mapped_column(LargeBinary)
    serializer_version: Mapped[str] = mapped_column(String(16))
    completed: Mapped[bool] = mapped_column(Boolean, default=False)
    audit_seq: Mapped[int] = mapped_column(default=0)
    audit_head: Mapped[str] = mapped_column(String(64), default="")
    updated_at: Mapped[datetime]
    version: Mapped[int] = mapped_column(default=1)
    ticket: Mapped[Ticket] = relationship()
    __mapper_args__ = {"version_id_col": version}


class HumanTask(Base):
    """A READY manual task, projected for inboxes; completed rows stay for history."""

    __tablename__ = "human_task"
    # The inbox: a group's open tasks, most urgent first; counts by category and kecamatan.
    __table_args__ = (
        Index("ix_human_task_open", "candidate_group", "completed_at", "due_at", "id"),
        Index("ix_human_task_open_category", "candidate_group", "completed_at", "category"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), index=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), index=True)
    # The ticket's category and kecamatan, copied so the inbox filters and counts without a join.
    category: Mapped[str] = mapped_column(String(40), default="", server_default="")
    kecamatan: Mapped[str | None] = mapped_column(String(80))
    task_guid: Mapped[str] = mapped_column(String(36), unique=True)
    element_id: Mapped[str] = mapped_column(String(120))
    title: Mapped[str] = mapped_column(String(200))
    candidate_group: Mapped[str] = mapped_column(String(80))
    form: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime]
    due_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    completed_by: Mapped[str | None] = mapped_column(String(120))
    outcome: Mapped[str | None] = mapped_column(String(20))  # completed | cancelled
    # Who is working on it (claim/release/take over, each audited); anyone of the group may
    # still complete it.
    claimed_by: Mapped[str | None] = mapped_column(String(120))
    claimed_at: Mapped[datetime | None]


class OpenTaskCount(Base):
    """Open tasks per group, category and kecamatan, moved by every command (the inbox's
    counts without counting tens of thousands of rows)."""

    __tablename__ = "open_task_count"
    candidate_group: Mapped[str] = mapped_column(String(80), primary_key=True)
    category: Mapped[str] = mapped_column(String(40), primary_key=True)
    kecamatan: Mapped[str] = mapped_column(String(80), primary_key=True)  # "" when none
    count: Mapped[int]


class PendingTimer(Base):
    """A waiting timer event; the sweep claims due rows (rule 4 of DESIGN.md)."""

    __tablename__ = "pending_timer"
    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), index=True)
    task_guid: Mapped[str] = mapped_column(String(36), unique=True)
    element_id: Mapped[str] = mapped_column(String(120))
    due_at: Mapped[datetime] = mapped_column(index=True)
    claimed_by: Mapped[str | None] = mapped_column(String(80))
    claimed_until: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)


class AuditEvent(Base):
    """Append-only, SHA-256 chained per instance (rule 9)."""

    __tablename__ = "audit_event"
    __table_args__ = (UniqueConstraint("instance_id", "seq"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"))
    seq: Mapped[int]
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(60))
    element_id: Mapped[str | None] = mapped_column(String(120))
    data: Mapped[str] = mapped_column(Text)  # canonical JSON, exactly what was hashed
    # What the actor came through (engine.identity.Actor.via), hashed too; None before it was
    # recorded.
    via: Mapped[str | None] = mapped_column(String(40))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class Incident(Base):
    """Something the engine could not do for a ticket, kept for the verifier desk and admins."""

    __tablename__ = "incident"
    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"), index=True)
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(60))
    element_id: Mapped[str | None] = mapped_column(String(120))
    message: Mapped[str] = mapped_column(Text)
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(String(120))


class OutboxMessage(Base):
    """A side effect written in the command's transaction, delivered afterwards (rule 10)."""

    __tablename__ = "outbox_message"
    # Delivered rows are kept forever; the delivery claim reads only the pending ones.
    __table_args__ = (
        Index(
            "ix_outbox_message_pending",
            "deliver_after",
            postgresql_where=text("delivered_at IS NULL"),
            sqlite_where=text("delivered_at IS NULL"),
        ),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    # The ticket it is about (the auditor's page lists a ticket's notifications by it).
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id"), index=True)
    topic: Mapped[str] = mapped_column(String(60))
    payload: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    deliver_after: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(default=0)
    delivered_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    # A partner's webhook subscription this row is for (engine.partner_hooks); None for the
    # notifications of engine.outbox.write.
    webhook_id: Mapped[int | None] = mapped_column(ForeignKey("partner_webhook.id"), index=True)


class Group(Base):
    """A desk or an OPD; lane names resolve to group codes."""

    __tablename__ = "app_group"
    code: Mapped[str] = mapped_column(String(80), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))  # desk | opd


class User(Base):
    __tablename__ = "app_user"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]


class Membership(Base):
    __tablename__ = "membership"
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), primary_key=True)
    group_code: Mapped[str] = mapped_column(ForeignKey("app_group.code"), primary_key=True)


class ApiToken(Base):
    __tablename__ = "api_token"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]


class Partner(Base):
    """A partner system (another government app, a chat bot) that uses the API with its keys."""

    __tablename__ = "partner"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)  # a slug
    name: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]


class PartnerKey(Base):
    """A partner's API key ``lp_<prefix>_<secret>``: looked up by prefix, only its hash kept."""

    __tablename__ = "partner_key"
    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partner.id"), index=True)
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[str] = mapped_column(String(100))  # space-separated: submit read follow
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]


class PartnerWebhook(Base):
    """A partner's webhook subscription: where to POST which topics, signed with its secret."""

    __tablename__ = "partner_webhook"
    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partner.id"), index=True)
    url: Mapped[str] = mapped_column(String(500))
    topics: Mapped[str] = mapped_column(String(200))  # space-separated (engine.partner_hooks)
    # The HMAC key of its signatures; kept, since every delivery is signed with it.
    secret: Mapped[str] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]


class Category(Base):
    """A complaint category citizens can pick; routing.dmn maps it to an OPD."""

    __tablename__ = "category"
    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(120))  # Indonesian, the source language
    name_en: Mapped[str | None] = mapped_column(String(120))  # English; None: the Indonesian
    infrastructure: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Holiday(Base):
    """A non-working day in Asia/Jakarta (seeded from the holidays package, editable)."""

    __tablename__ = "holiday"
    day: Mapped[date] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))


class Kecamatan(Base):
    """A district of the city: the report form's list and the statistics' breakdown."""

    __tablename__ = "kecamatan"
    code: Mapped[str] = mapped_column(String(80), primary_key=True)
    name: Mapped[str] = mapped_column(String(120))


class Attachment(Base):
    """A photo of a ticket, checked and re-encoded (rule 13); its bytes live in the media store.

    ``linked_at`` is set when the photo becomes part of the record (the report, a completed
    form, a reply); an upload not yet linked is seen only by staff.
    """

    __tablename__ = "attachment"
    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(20))  # report | after | reply | dispute
    uploader: Mapped[str] = mapped_column(String(120))
    sha256: Mapped[str] = mapped_column(String(64))
    thumb_sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int]
    mime: Mapped[str] = mapped_column(String(40))
    width: Mapped[int]
    height: Mapped[int]
    created_at: Mapped[datetime]
    linked_at: Mapped[datetime | None]


class TicketUpdate(Base):
    """The ticket's timeline as people read it: status changes, officers' notes and questions
    to the reporter, the reporter's replies. ``audience`` says who reads it (``public`` or
    ``reporter``: the reporter and entitled staff)."""

    __tablename__ = "ticket_update"
    __table_args__ = (
        Index("ix_ticket_update_ticket", "ticket_id", "id"),
        # The timeline of every ticket between two times (Open311's servicerequestupdates).
        Index("ix_ticket_update_at", "at", "id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"))
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(20))  # status | note | message | rating
    audience: Mapped[str] = mapped_column(String(10))
    author: Mapped[str] = mapped_column(String(20))  # officer | reporter | system
    status: Mapped[str | None] = mapped_column(String(40))
    field: Mapped[str | None] = mapped_column(String(60))  # form field or message name
    text: Mapped[str | None] = mapped_column(Text)
    attachment_id: Mapped[int | None] = mapped_column(ForeignKey("attachment.id"))


class Follower(Base):
    """Someone who follows a ticket instead of filing the same report again."""

    __tablename__ = "follower"
    __table_args__ = (UniqueConstraint("ticket_id", "contact"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), index=True)
    contact: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]


class Rating(Base):
    """The reporter's rating of the handling (1-5), one per ticket, changeable."""

    __tablename__ = "rating"
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), primary_key=True)
    score: Mapped[int]
    comment: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime]


class GalleryItem(Base):
    """A before/after pair of a ticket closed as fixed, never confidential (``/galeri``)."""

    __tablename__ = "gallery_item"
    __table_args__ = (
        Index("ix_gallery_item_recent", "closed_at", "ticket_id"),
        Index("ix_gallery_item_category", "category", "closed_at"),
        Index("ix_gallery_item_kecamatan", "kecamatan", "closed_at"),
    )
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), primary_key=True)
    closed_at: Mapped[datetime]
    category: Mapped[str] = mapped_column(String(40))
    kecamatan: Mapped[str | None] = mapped_column(String(80))
    before_id: Mapped[int] = mapped_column(ForeignKey("attachment.id"))
    after_id: Mapped[int] = mapped_column(ForeignKey("attachment.id"))


class StatCount(Base):
    """Tickets per state, kept incrementally by every command (engine.tally).

    One row per (dimension, key, state, late): dimension ``all`` (key ""), ``category``,
    ``opd``, ``kecamatan`` or ``month`` (``YYYY-MM`` of receipt, Jakarta time).
    """

    __tablename__ = "stat_count"
    dimension: Mapped[str] = mapped_column(String(20), primary_key=True)
    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    state: Mapped[str] = mapped_column(String(60), primary_key=True)
    late: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    count: Mapped[int]


class StatMedian(Base):
    """The median of each ``StatDuration`` histogram, kept with it so pages read one row."""

    __tablename__ = "stat_median"
    metric: Mapped[str] = mapped_column(String(20), primary_key=True)
    dimension: Mapped[str] = mapped_column(String(20), primary_key=True)
    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    hours: Mapped[float | None]


class StatDuration(Base):
    """A histogram of durations (hours from receipt), kept like ``StatCount``."""

    __tablename__ = "stat_duration"
    metric: Mapped[str] = mapped_column(String(20), primary_key=True)
    dimension: Mapped[str] = mapped_column(String(20), primary_key=True)
    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    bucket: Mapped[int] = mapped_column(primary_key=True)  # lower bound, in hours
    count: Mapped[int]


class AuditAnchor(Base):
    """A daily digest over every audit chain's head, itself chained; append-only (engine.anchors).

    ``root`` is a Merkle root over the heads (instance, seq, hash) of every chain as of
    ``last_event_id``; ``hash`` covers ``prev_hash`` and the other columns.
    """

    __tablename__ = "audit_anchor"
    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(unique=True)  # Asia/Jakarta
    created_at: Mapped[datetime]
    last_event_id: Mapped[int]  # the watermark: every audit event with id <= it is covered
    chains: Mapped[int]  # instances with at least one event at the watermark
    root: Mapped[str] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditAnchorHead(Base):
    """A chain head as an anchor published it, kept for the chains that moved since the
    previous anchor (so verify names the ticket whose past was rewritten); append-only."""

    __tablename__ = "audit_anchor_head"
    __table_args__ = (Index("ix_audit_anchor_head_instance", "instance_id", "anchor_id"),)
    anchor_id: Mapped[int] = mapped_column(ForeignKey("audit_anchor.id"), primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), primary_key=True)
    seq: Mapped[int]
    hash: Mapped[str] = mapped_column(String(64))


def append_only_ddl(table: str, dialect: str) -> list[str]:
    """Triggers that make the database itself refuse UPDATE and DELETE on ``table``."""
    if dialect == "sqlite":
        return [
            f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
            for verb in ("UPDATE", "DELETE")
        ]
    if dialect == "postgresql":
        return [
            "CREATE OR REPLACE FUNCTION laksa_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION USING MESSAGE = TG_TABLE_NAME || ' is append-only'; END $$",
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION laksa_append_only()",
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION laksa_append_only()",
        ]
    return []


def _append_only(target: Table, connection: Connection, **_: Any) -> None:
    for statement in append_only_ddl(target.name, connection.dialect.name):
        connection.exec_driver_sql(statement)


# Tables built from the metadata (tests, benchmarks) get the triggers the migration creates.
for _table in (AuditAnchor.__table__, AuditAnchorHead.__table__):
    event.listen(_table, "after_create", _append_only)


class ElementStay(Base):
    """Stays in BPMN elements, kept by every command (engine.stays) for the heatmap.

    One row per process, dimension (``all`` with key "", ``opd`` with the OPD the ticket was
    with, "" before routing, or ``category``), span (``d``: the day, Asia/Jakarta, the stay
    ended; ``m``: its month, ``day`` its first day), element and duration bucket
    (engine.stays.bucket, quarter octaves): how many stays. A year reads twelve month rows and
    the odd days at its ends, each a range of the primary key.
    """

    __tablename__ = "element_stay"
    process_key: Mapped[str] = mapped_column(String(120), primary_key=True)
    dimension: Mapped[str] = mapped_column(String(20), primary_key=True)
    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    span: Mapped[str] = mapped_column(String(1), primary_key=True)  # d (day) | m (month)
    day: Mapped[date] = mapped_column(primary_key=True)
    element_id: Mapped[str] = mapped_column(String(120), primary_key=True)
    bucket: Mapped[int] = mapped_column(primary_key=True)
    count: Mapped[int]


class ElementBreach(Base):
    """Deadlines breached while a ticket waited in an element, per day the timer fired (the
    dimensions of ``ElementStay``)."""

    __tablename__ = "element_breach"
    process_key: Mapped[str] = mapped_column(String(120), primary_key=True)
    dimension: Mapped[str] = mapped_column(String(20), primary_key=True)
    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    span: Mapped[str] = mapped_column(String(1), primary_key=True)  # d (day) | m (month)
    day: Mapped[date] = mapped_column(primary_key=True)
    element_id: Mapped[str] = mapped_column(String(120), primary_key=True)
    count: Mapped[int]


class IdempotencyKey(Base):
    """An ``Idempotency-Key`` a caller sent, and the answer it got (engine.idempotency).

    Unique per scope (who sent it: ``token:<id>``, ``partner:<id>``, ``user:<id>``, or ""
    for the public), so two requests with one key claim one row. ``claim`` names the request
    working on it until the answer is kept (then None).
    """

    __tablename__ = "idempotency_key"
    __table_args__ = (UniqueConstraint("scope", "key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(80))
    key: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(64))  # SHA-256 of the request
    claim: Mapped[str | None] = mapped_column(String(32))
    locked_until: Mapped[datetime]  # a claim older than this may be taken over
    status: Mapped[int | None]
    body: Mapped[str | None] = mapped_column(Text)  # the JSON answered
    location: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)
