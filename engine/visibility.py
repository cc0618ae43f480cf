"""Who sees what (rule 11): one rule, used by every page, endpoint, photo and list.

- the public, and officers of other OPDs: no confidential ticket; never the reporter's name or
  contact (names are hidden by default, as FixMyStreet's users asked for years); public
  updates; photos on record.
- the reporter (private link, or the account that filed, or the partner system that submitted
  it, with a key that may read): their own ticket, confidential too;
  their own name and contact; public and reporter updates.
- the verifier desk and admins: every ticket; the reporter's name and contact always, an
  anonymous reporter's too; every update; uploads not yet on record.
- the routed OPD and its head, supervisors and auditors: every ticket they are entitled to,
  confidential too; name and contact unless the reporter chose anonymity; every update;
  uploads not yet on record.

Lists the public reads (gallery, nearby tickets) filter with ``PUBLIC_TICKETS``; a list for a
signed-in viewer (the auditors' search) filters with ``tickets_seen_by``, the same rule as SQL.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement
from sqlalchemy import or_
from sqlalchemy import true

from engine.identity import Actor
from engine.models import Ticket
from engine.partners import READ

PUBLIC = "public"
REPORTER = "reporter"
STAFF = "staff"  # entries for entitled staff only (a confidential ticket's number, say)
AUDIENCES_PUBLIC = frozenset({PUBLIC})
AUDIENCES_REPORTER = frozenset({PUBLIC, REPORTER})
AUDIENCES_ALL = frozenset({PUBLIC, REPORTER, STAFF})

DESK_GROUP = "verifier"
DESK_ROLES = frozenset({"admin"})
OVERSIGHT_ROLES = frozenset({"supervisor", "auditor"})
HEAD_SUFFIX = "_head"

PUBLIC_TICKETS = Ticket.confidential.is_(False)

# Who a photo is for, by its purpose: the report's and the after-photos are the ticket's own;
# photos sent with a reply or a dispute belong to the reporter's conversation.
PHOTO_AUDIENCE = {"report": PUBLIC, "after": PUBLIC, "reply": REPORTER, "dispute": REPORTER}


@dataclass(frozen=True)
class Access:
    """What one viewer may see of one ticket."""

    who: str  # none | public | reporter | desk | opd | oversight
    sees_ticket: bool
    sees_name: bool  # the reporter's name
    sees_contact: bool  # the reporter's e-mail address or phone number
    audiences: frozenset[str]
    staff: bool  # entitled staff: internal history, uploads not yet on record

    @property
    def acts(self) -> bool:
        """The desk and the routed OPD act on the ticket; supervisors and auditors only read."""
        return self.who in ("desk", "opd")

    def sees_update(self, audience: str) -> bool:
        return audience in self.audiences

    def sees_photo(self, purpose: str, *, on_record: bool) -> bool:
        """A photo of the ticket: by its purpose's audience; uploads not on record, staff."""
        if not on_record and not self.staff:
            return False
        return self.sees_ticket and PHOTO_AUDIENCE.get(purpose, REPORTER) in self.audiences


def access(ticket: Ticket, *, actor: Actor | None = None, reporter: bool = False) -> Access:
    """The access of a viewer: ``actor`` if signed in, ``reporter`` if holding the secret."""
    if reporter or (
        actor is not None
        and ticket.reporter_user_id is not None
        and actor.user_id == ticket.reporter_user_id
    ):
        return Access(REPORTER, True, True, True, AUDIENCES_REPORTER, False)
    if actor is not None and partner_reads_own(actor, ticket):
        return Access(REPORTER, True, True, True, AUDIENCES_REPORTER, False)
    named = not ticket.anonymous
    if actor is not None:
        if DESK_GROUP in actor.groups or actor.role in DESK_ROLES:
            return Access("desk", True, True, True, AUDIENCES_ALL, True)
        if ticket.opd and (ticket.opd in actor.groups or ticket.opd + HEAD_SUFFIX in actor.groups):
            return Access("opd", True, named, named, AUDIENCES_ALL, True)
        if actor.role in OVERSIGHT_ROLES:
            return Access("oversight", True, named, named, AUDIENCES_ALL, True)
    if ticket.confidential:
        return Access("none", False, False, False, frozenset(), False)
    return Access(PUBLIC, True, False, False, AUDIENCES_PUBLIC, False)


def tickets_seen_by(actor: Actor | None) -> ColumnElement[bool]:
    """``access(ticket, actor=actor).sees_ticket`` as a WHERE clause over ``Ticket``."""
    if actor is None:
        return PUBLIC_TICKETS
    if DESK_GROUP in actor.groups or actor.role in DESK_ROLES or actor.role in OVERSIGHT_ROLES:
        return true()
    seen: list[ColumnElement[bool]] = [PUBLIC_TICKETS]
    opds = set(actor.groups) | {
        g.removesuffix(HEAD_SUFFIX) for g in actor.groups if g.endswith(HEAD_SUFFIX)
    }
    if opds:
        seen.append(Ticket.opd.in_(sorted(opds)))
    if actor.user_id is not None:
        seen.append(Ticket.reporter_user_id == actor.user_id)
    if actor.partner_id is not None and READ in actor.scopes:
        seen.append(Ticket.partner_id == actor.partner_id)
    return or_(*seen)


def partner_reads_own(actor: Actor, ticket: Ticket) -> bool:
    """A partner key with the ``read`` scope sees the tickets its partner submitted as their
    reporter would (a partner system reports for residents)."""
    return (
        actor.partner_id is not None
        and ticket.partner_id == actor.partner_id
        and READ in actor.scopes
    )
