"""Notifications HTTP API (FastAPI; OpenAPI at /docs): preferences, history, resend, chat webhook hosts, outbound
webhooks."""

from __future__ import annotations

from fastapi import FastAPI

from services.notifications.api import chat_hosts, recipients, subjects
from services.notifications.api.access import MATRIX
from services.notifications.webhooks import api as webhooks
from shared import web
from shared.http import create_app, document_errors
from shared.runtime import ServiceHost


def build_api(host: ServiceHost) -> FastAPI:
    app = create_app("Tandem notifications", "Welcome, reminders, feedback requests and nudges, exactly once.", MATRIX)
    app.include_router(recipients.router)
    app.include_router(chat_hosts.router)
    app.include_router(subjects.router)
    app.include_router(webhooks.router)
    web.mount(app, host.settings.web_origins, home=None)  # no pages of its own: the portal and console call it
    document_errors(app)
    return app
