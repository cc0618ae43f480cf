"""marshmallow schemas of the JSON API; every field declared."""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE
from marshmallow import Schema
from marshmallow import ValidationError
from marshmallow import fields
from marshmallow import validate
from marshmallow import validates_schema

from engine.commands import KINDS
from engine.inputs import at_least
from engine.inputs import clean
from engine.reporter import CONTACT_PATTERN
from engine.reporter import valid_contact

# Every 201 names what it created (OpenAPI response headers).
LOCATION_DOC = {
    "Location": {"description": "the URL of what was created", "schema": {"type": "string"}}
}


class Text(fields.String):
    """A string without the blanks around it (engine.inputs.clean): its minimum length counts
    what is left, which the schema states as a ``pattern``; its maximum, what was sent."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        lengths = [v for v in self.validators if isinstance(v, validate.Length)]
        self.max_length = next((v.max for v in lengths if v.max is not None), None)
        shortest = next((v.min for v in lengths if v.min), None)
        if shortest and "pattern" not in self.metadata:
            self.metadata = {**self.metadata, "pattern": at_least(shortest)}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text: str = super()._deserialize(value, attr, data, **kwargs)
        if self.max_length is not None and len(text) > self.max_length:
            raise ValidationError(f"Longer than maximum length {self.max_length}.")
        return clean(text)


class Flag(fields.Boolean):
    """A JSON boolean: true or false, not 1, "yes" or "on" (marshmallow's defaults)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):  # 0 == False and 1 == True: look at the type
            raise self.make_error("invalid")
        return value


def _contact(value: str) -> None:
    if not valid_contact(value):
        raise ValidationError("give an e-mail address or a phone number (8 to 15 digits)")


# Valid data in the examples the API documentation shows (and schemathesis sends).
EXAMPLE_TICKET: dict[str, Any] = {
    "kind": "complaint",
    "category": "jalan_rusak",
    "title": "Jalan berlubang di Jl. Merdeka",
    "description": "Lubang besar dekat SD Negeri 3, berbahaya bagi pengendara motor.",
    "location": {
        "address": "Jl. Merdeka 10",
        "latitude": -6.178,
        "longitude": 106.63,
        "kecamatan": "Cipondoh",
    },
    "reporter": {"name": "Budi", "contact": "budi@example.org"},
    "anonymous": False,
    "confidential": False,
}


class ReporterSchema(Schema):
    class Meta:
        unknown = RAISE

    name = Text(validate=validate.Length(min=1, max=120))
    contact = Text(
        validate=[validate.Length(min=3, max=200), _contact],
        metadata={
            "description": "e-mail address or phone number (8 to 15 digits)",
            "pattern": CONTACT_PATTERN,
        },
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
    anonymous = Flag(load_default=False)
    confidential = Flag(load_default=False)
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
    status_colour = fields.String(allow_none=True, metadata={"description": "red | yellow | green"})
    label = fields.String(allow_none=True, metadata={"description": "the form field's label"})
    text = fields.String(allow_none=True)
    photo_id = fields.Integer(allow_none=True)


class TimelineSchema(Schema):
    number = fields.String(required=True)
    timeline = fields.List(fields.Nested(TimelineEntrySchema), required=True)


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


class ErrorDetailSchema(Schema):
    code = fields.String(
        required=True, metadata={"description": "stable, for programs: e.g. invalid_input"}
    )
    message = fields.String(required=True, metadata={"description": "for people, in English"})
    fields_ = fields.Dict(
        data_key="fields",
        keys=fields.String(),
        metadata={
            "description": "per field what is wrong: a list of messages, or an object of them "
            "for a nested field"
        },
    )


class ErrorSchema(Schema):
    """Every error the API answers: 400, 401, 403, 404, 409, 413, 415, 422, 429."""

    error = fields.Nested(ErrorDetailSchema, required=True)
