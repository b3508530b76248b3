"""Pairing HTTP API (FastAPI; OpenAPI at /docs): one small router per concern."""

from __future__ import annotations

from fastapi import FastAPI

from services.pairing.api import (
    audit,
    console,
    directory,
    match_runs,
    pairs,
    participants,
    personal_data,
    programmes,
    scim,
    subjects,
)
from services.pairing.api.access import MATRIX
from shared import web
from shared.http import create_app, document_errors
from shared.runtime import ServiceHost


def build_api(host: ServiceHost) -> FastAPI:
    app = create_app(
        "Tandem pairing",
        "Programmes, participants, explainable matching and the pair lifecycle of reverse-mentoring programmes.",
        MATRIX,
    )
    for module in (
        programmes,
        participants,
        match_runs,
        pairs,
        directory,
        audit,
        scim,
        subjects,
        console,
        personal_data,
    ):
        app.include_router(module.router)
    web.mount(app, host.settings.web_origins, home="/console")
    document_errors(app)
    return app
