"""Examples in the API's document (web/api/openapi_docs.py): one request and one answer per
operation, written as the API answers them."""

from __future__ import annotations

from typing import Any

from web.api.schemas import EXAMPLE_TICKET

INFO = """LAKSA's JSON API: citizens and partner apps report complaints and follow them; officers
work their tasks; supervisors read overdue tickets and statistics; designers deploy process
definitions.

Authenticate with `Authorization: Bearer <token>` (`laksa tokens create NAME`, or the admins'
page `/admin/token`) or the web session. A reporter needs no account: the `reporter_secret`
answered once by `createTicket`, sent as `X-Reporter-Secret`, opens the reporter's view and
lets them answer.

Every error has the body `{"error": {"code", "message", "fields"}}` (`fields` only when a
field is at fault) and one of the statuses each operation lists. Limits: JSON bodies 1 MiB and
32 levels deep; form and message data 64 KiB; a photo 10 MB; text is taken without the blanks
around it. A NUL character or a lone surrogate anywhere is refused (400)."""

NUMBER = "LK-7QK2M9XD"
AT = "2026-11-23T02:00:00+00:00"
DUE = "2026-11-26T10:00:00+00:00"

PARAMETERS: dict[str, Any] = {
    "number": NUMBER,
    "task_id": 12,
    "incident_id": 3,
    "bundle_id": 2,
    "name": "complaint.bpmn",
    "X-Reporter-Secret": "p5SpwbKu7eHP7dkVAPNDg3VY3uNGVTHN40PmCQeq6Rs",
}

TICKET = EXAMPLE_TICKET
TICKET_CREATED = {
    "number": NUMBER,
    "status": "verification",
    "url": f"/api/v1/tickets/{NUMBER}",
    "reporter_secret": PARAMETERS["X-Reporter-Secret"],
    "private_url": f"https://laksa.example/laporan/{NUMBER}/k/{PARAMETERS['X-Reporter-Secret']}",
}
TICKET_VIEW: dict[str, Any] = {
    "number": NUMBER,
    "kind": "complaint",
    "category": "jalan_rusak",
    "title": TICKET["title"],
    "description": TICKET["description"],
    "location": "Jl. Merdeka 10",
    "kecamatan": "Cipondoh",
    "status": "in_progress",
    "status_label": "Sedang ditangani",
    "status_colour": "#1d70b8",
    "opd": "dpupr",
    "due_at": DUE,
    "escalation_level": 0,
    "outcome": None,
    "created_at": AT,
    "updated_at": AT,
    "closed_at": None,
    "photos": [],
    "timeline": [
        {
            "at": AT,
            "kind": "status",
            "audience": "public",
            "author": "system",
            "status": "verification",
            "status_label": "Diverifikasi",
            "label": None,
            "text": None,
            "photo_id": None,
        }
    ],
}
REPORTER_VIEW = {
    **TICKET_VIEW,
    "reporter_name": "Budi",
    "reporter_contact": "budi@example.org",
    "anonymous": False,
    "confidential": False,
    "awaiting": ["reporter_reply"],
    "rating": None,
}
MESSAGE = {"message": "reporter_reply", "data": {"text": "Depan masjid, sebelah kiri jalan"}}
DELIVERED = {"ticket": NUMBER, "status": "in_progress", "version": 6}
ATTACHMENT = {"id": 41, "url": "/foto/41"}
TASK = {
    "id": 12,
    "ticket": NUMBER,
    "element_id": "verify",
    "title": "Verify complaint",
    "candidate_group": "verifier",
    "form": "verify.schema.json",
    "created_at": AT,
    "due_at": DUE,
    "version": 3,
}
TASK_DETAIL = {
    "id": 12,
    "element_id": "verify",
    "title": "Verifikasi laporan",
    "candidate_group": "verifier",
    "created_at": AT,
    "due_at": DUE,
    "completed_at": None,
    "claimed_by": None,
    "version": 3,
    "may_complete": True,
    "form": "verify.schema.json",
    "schema": {"type": "object", "properties": {"decision": {"type": "string"}}},
    "fields": [],
    "ticket": {"number": NUMBER, "status": "verification"},
    "history": [],
    "likely_originals": [],
}
CLAIM = {"claimed_by": "verifikator", "taken_from": None}
COMPLETE = {"data": {"decision": "route"}, "version": 3}
COMPLETED = {"ticket": NUMBER, "status": "dispatched", "version": 4}
OVERDUE = {
    "number": NUMBER,
    "category": "jalan_rusak",
    "opd": "dpupr",
    "status": "in_progress",
    "status_label": "Sedang ditangani",
    "due_at": DUE,
    "escalation_level": 1,
    "overdue_by": 86400,
}
_COUNTS = {
    "handled": 120,
    "closed": 100,
    "resolved": 91,
    "other_closures": {"rejected": 6, "duplicate": 3},
    "in_process": 17,
    "waiting_follow_up": 3,
    "resolution_rate": 0.91,
}
STATS = {"totals": _COUNTS, "by_opd": [{"opd": "dpupr", **_COUNTS}]}
INCIDENT = {
    "id": 3,
    "ticket": NUMBER,
    "kind": "timer_failed",
    "element_id": "verify_deadline",
    "message": "NameError: name 'working_dayz' is not defined",
    "at": AT,
    "resolved_at": None,
    "resolved_by": None,
}
RESOLVED = {
    "incident_id": 3,
    "ticket": NUMBER,
    "resolved_at": DUE,
    "resolved_by": "verifikator",
    "also_resolved": [],
    "released_timers": 1,
}
VERSION = {
    "definition_id": 2,
    "key": "complaint",
    "version": 2,
    "bundle_id": 2,
    "content_hash": "9f2c" + "0" * 60,
    "deployed_at": AT,
    "deployed_by": "user:perancang",
    "note": "reminder after 2 working days",
    "open_tickets": 14,
    "all_tickets": 230,
    "files_url": "/api/v1/definitions/2/files",
}
DEPLOYED = {
    "bundle_id": 2,
    "created": True,
    "versions": {"complaint": 2},
    "files_url": "/api/v1/definitions/2/files",
}
BUNDLE = {
    "bundle_id": 2,
    "content_hash": VERSION["content_hash"],
    "deployed_at": AT,
    "deployed_by": "user:perancang",
    "note": "reminder after 2 working days",
    "versions": {"complaint": 2},
    "files": [
        {
            "name": "complaint.bpmn",
            "size": 48211,
            "url": "/api/v1/definitions/2/files/complaint.bpmn",
        }
    ],
}

# The lists a partner builds its screens from, and a partner's own tickets.
CATEGORIES = [
    {
        "code": "jalan_rusak",
        "name": "Jalan rusak",
        "labels": {"id": "Jalan rusak", "en": "Damaged road"},
        "infrastructure": True,
    }
]
KECAMATAN = [{"code": "cipondoh", "name": "Cipondoh"}]
STATUSES = [
    {
        "code": "verification",
        "label": "Verifikasi",
        "labels": {"id": "Verifikasi", "en": "Verification"},
        "colour": "red",
        "phase": "Menunggu",
        "open": True,
    }
]
TIMELINE = {
    "number": NUMBER,
    "timeline": [
        {
            "at": AT,
            "audience": "public",
            "author": "system",
            "kind": "status",
            "label": None,
            "photo_id": None,
            "status": "verification",
            "status_colour": "red",
            "status_label": "Verifikasi",
            "text": None,
        }
    ],
}
PARTNER = {"code": "kota-app", "name": "Aplikasi Kota", "scopes": ["submit", "read", "follow"]}
PARTNER_TICKET = {
    "number": NUMBER,
    "external_id": "app-2026-0042",
    "kind": "complaint",
    "category": "jalan_rusak",
    "title": TICKET["title"],
    "status": "verification",
    "opd": None,
    "confidential": False,
    "escalation_level": 0,
    "outcome": None,
    "due_at": DUE,
    "created_at": AT,
    "updated_at": AT,
    "closed_at": None,
    "url": f"/api/v1/tickets/{NUMBER}",
}
PARTNER_TICKETS = {"tickets": [PARTNER_TICKET], "next_cursor": None}
