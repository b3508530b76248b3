"""Sessions HTTP API (FastAPI; OpenAPI at /docs): one small router per concern, the HR dashboard and the
participant portal."""

from __future__ import annotations

from fastapi import FastAPI

from services.sessions.api import audit, dashboard, feedback, mentorship, outcomes, portal, sessions, subjects
from services.sessions.api.access import MATRIX
from shared import web
from shared.http import create_app, document_errors
from shared.runtime import ServiceHost


def build_api(host: ServiceHost) -> FastAPI:
    app = create_app("Tandem sessions", "Agreements, goals, sessions, feedback and programme outcomes for HR.", MATRIX)
    for module in (mentorship, sessions, feedback, outcomes, audit, subjects, dashboard):
        app.include_router(module.router)
    portal.install(app)
    web.mount(app, host.settings.web_origins, home="/dashboard")
    document_errors(app)
    return app
