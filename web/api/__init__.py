"""The JSON API under /api/v1, described by /api/v1/openapi.json."""

from __future__ import annotations

from flask import Flask
from flask_smorest import Api

from web.api.schemas import ErrorSchema


class LaksaApi(Api):  # type: ignore[misc]
    """flask-smorest's Api with LAKSA's error body, and no catch-all ``default`` response:
    web/api/openapi_docs.py lists each operation's statuses."""

    ERROR_SCHEMA = ErrorSchema
    DEFAULT_ERROR_RESPONSE_NAME = None


def init_api(app: Flask) -> Api:
    app.config.update(
        API_TITLE="LAKSA",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api/v1",
        OPENAPI_JSON_PATH="openapi.json",
    )
    api = LaksaApi(
        app,
        spec_kwargs={
            "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}}
        },
    )
    from web.api import http
    from web.api import openapi_docs
    from web.api.definitions import blp as definitions_blp
    from web.api.incidents import blp as incidents_blp
    from web.api.oversight import blp as oversight_blp
    from web.api.partner import blp as partner_blp
    from web.api.reference import blp as reference_blp
    from web.api.replies import blp as replies_blp
    from web.api.schemas import TicketCreateSchema
    from web.api.tasks import blp as tasks_blp
    from web.api.tickets import blp as tickets_blp

    openapi_docs.init_app(app, api)  # the document completed, and the page that shows it
    # POST /tickets reads JSON or multipart itself; its JSON body is this schema.
    api.spec.components.schema("TicketCreate", schema=TicketCreateSchema)
    api.register_blueprint(tickets_blp, url_prefix="/api/v1/tickets")
    api.register_blueprint(replies_blp, url_prefix="/api/v1/tickets")
    api.register_blueprint(tasks_blp, url_prefix="/api/v1/tasks")
    api.register_blueprint(oversight_blp, url_prefix="/api/v1/oversight")
    api.register_blueprint(incidents_blp, url_prefix="/api/v1/incidents")
    api.register_blueprint(definitions_blp, url_prefix="/api/v1/definitions")
    api.register_blueprint(partner_blp, url_prefix="/api/v1/partner")
    api.register_blueprint(reference_blp, url_prefix="/api/v1")
    http.init_app(app)
    return api
