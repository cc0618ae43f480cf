"""marshmallow schemas of the JSON API; every field declared."""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE
from marshmallow import Schema
from marshmallow import ValidationError
from marshmallow import fields
from marshmallow import validate
from marshmallow import validates_schema

from engine.reporter import valid_contact

KINDS = ("complaint", "aspiration", "information_request")


class Text(fields.String):
    """A string without the spaces around it (checked after they are gone)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text: str = super()._deserialize(value, attr, data, **kwargs)
        return text.strip()


def _contact(value: str) -> None:
    if not valid_contact(value):
        raise ValidationError("give an e-mail address or a phone number (8 to 15 digits)")


class ReporterSchema(Schema):
    class Meta:
        unknown = RAISE

    name = Text(validate=validate.Length(min=1, max=120))
    contact = Text(
        validate=[validate.Length(min=3, max=200), _contact],
        metadata={"description": "e-mail address or phone number (8 to 15 digits)"},
    )


class LocationSchema(Schema):
    class Meta:
        unknown = RAISE

    address = Text(validate=validate.Length(max=300))
    latitude = fields.Float(validate=validate.Range(min=-90, max=90))
    longitude = fields.Float(validate=validate.Range(min=-180, max=180))
    kecamatan = Text(validate=validate.Length(min=1, max=80))


class TicketCreateSchema(Schema):
    class Meta:
        unknown = RAISE

    kind = fields.String(load_default="complaint", validate=validate.OneOf(KINDS))
    category = fields.String(required=True, validate=validate.Length(min=1, max=40))
    title = Text(required=True, validate=validate.Length(min=3, max=200))
    description = Text(required=True, validate=validate.Length(min=3, max=5000))
    location = fields.Nested(LocationSchema, load_default=None)
    reporter = fields.Nested(ReporterSchema, load_default=None)
    anonymous = fields.Boolean(load_default=False)
    confidential = fields.Boolean(load_default=False)
    external_id = Text(
        load_default=None,
        validate=validate.Length(min=1, max=100),
        metadata={
            "description": "the partner's own reference, unique per partner (kept for "
            "partner keys only; find the ticket by it in GET /api/v1/partner/tickets)"
        },
    )

    @validates_schema
    def reporter_reachable(self, data: dict[str, Any], **kwargs: Any) -> None:
        reporter = data.get("reporter") or {}
        if not data.get("anonymous") and not reporter.get("contact"):
            raise ValidationError("give a contact, or report anonymously", field_name="reporter")


class TicketCreatedSchema(Schema):
    number = fields.String(required=True)
    status = fields.String(required=True)
    url = fields.String(required=True)
    reporter_secret = fields.String(
        required=True,
        metadata={
            "description": "the reporter's capability, given once: send it as "
            "X-Reporter-Secret to read the reporter's view and to answer"
        },
    )
    private_url = fields.String(
        required=True, metadata={"description": "the reporter's private page (no account)"}
    )


class PhotoSchema(Schema):
    id = fields.Integer(required=True)
    purpose = fields.String(
        required=True, metadata={"description": "report | after | reply | dispute"}
    )
    width = fields.Integer(required=True)
    height = fields.Integer(required=True)
    url = fields.String(required=True)
    thumbnail_url = fields.String(required=True)


class TimelineEntrySchema(Schema):
    at = fields.DateTime(required=True)
    kind = fields.String(
        required=True, metadata={"description": "status | note | message | rating"}
    )
    audience = fields.String(required=True, metadata={"description": "public | reporter"})
    author = fields.String(required=True, metadata={"description": "officer | reporter | system"})
    status = fields.String(allow_none=True)
    status_label = fields.String(allow_none=True)
    label = fields.String(allow_none=True, metadata={"description": "the form field's label"})
    text = fields.String(allow_none=True)
    photo_id = fields.Integer(allow_none=True)


class AttachmentCreatedSchema(Schema):
    id = fields.Integer(required=True, metadata={"description": "give it as the form's photo"})
    url = fields.String(required=True)


class TicketPublicSchema(Schema):
    number = fields.String()
    kind = fields.String()
    category = fields.String()
    title = fields.String()
    description = fields.String()
    location = fields.String(allow_none=True)
    kecamatan = fields.String(allow_none=True)
    status = fields.String()
    status_label = fields.String()
    status_colour = fields.String(allow_none=True)
    opd = fields.String(allow_none=True)
    due_at = fields.DateTime(allow_none=True)
    escalation_level = fields.Integer()
    outcome = fields.String(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    closed_at = fields.DateTime(allow_none=True)
    photos = fields.List(fields.Nested(PhotoSchema))
    timeline = fields.List(fields.Nested(TimelineEntrySchema))


class ReporterViewSchema(TicketPublicSchema):
    reporter_name = fields.String(allow_none=True)
    reporter_contact = fields.String(allow_none=True)
    anonymous = fields.Boolean()
    confidential = fields.Boolean()
    awaiting = fields.List(
        fields.String(),
        metadata={"description": "messages the ticket waits for (reporter_reply, ...)"},
    )
    rating = fields.Integer(allow_none=True)


class TaskSchema(Schema):
    id = fields.Integer()
    ticket = fields.String()
    element_id = fields.String()
    title = fields.String()
    candidate_group = fields.String()
    form = fields.String(allow_none=True)
    created_at = fields.DateTime()
    due_at = fields.DateTime(allow_none=True)
    version = fields.Integer(metadata={"description": "instance version; send it back to complete"})


class TaskCompleteSchema(Schema):
    class Meta:
        unknown = RAISE

    data = fields.Dict(keys=fields.String(), load_default=dict)
    version = fields.Integer(
        load_default=None,
        allow_none=True,
        metadata={"description": "the version you saw; 409 if it moved"},
    )


class TaskCompletedSchema(Schema):
    ticket = fields.String()
    status = fields.String()
    version = fields.Integer()


class TaskDetailSchema(Schema):
    id = fields.Integer(required=True)
    element_id = fields.String(required=True)
    title = fields.String(required=True)
    candidate_group = fields.String(required=True)
    created_at = fields.DateTime(required=True)
    due_at = fields.DateTime(allow_none=True)
    completed_at = fields.DateTime(allow_none=True)
    claimed_by = fields.String(allow_none=True)
    version = fields.Integer(required=True, metadata={"description": "send it back to complete"})
    may_complete = fields.Boolean(required=True)
    form = fields.String(allow_none=True, metadata={"description": "the form's file name"})
    schema = fields.Dict(allow_none=True, metadata={"description": "the form's JSON Schema"})
    fields_ = fields.List(
        fields.Dict(),
        attribute="fields",
        data_key="fields",
        metadata={"description": "the form's fields as the page renders them, in ?lang="},
    )
    ticket = fields.Dict(
        required=True, metadata={"description": "the ticket as the caller may see it"}
    )
    history = fields.List(fields.Dict(), metadata={"description": "the audit trail (staff)"})
    likely_originals = fields.List(fields.Dict())


class ClaimSchema(Schema):
    claimed_by = fields.String(allow_none=True)
    taken_from = fields.String(allow_none=True)
