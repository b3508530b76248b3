"""The HTTP edge every service shares: one error shape, health probes, request correlation ids.

Errors are always `{"error": {"code", "message", "field"}}` (validation errors list every field in
`errors` as well), so an integrator handles one shape. Authentication plugs in here later, as a
dependency on the routers (see `authenticated`).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.db import Conn
from shared.errors import DomainError
from shared.uow import UnitOfWork

CORRELATION_HEADER = "X-Correlation-Id"


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def create_app(title: str, description: str, version: str = "1.0.0") -> FastAPI:
    app = FastAPI(title=title, description=description, version=version)

    @app.exception_handler(DomainError)
    async def domain_error(_: Request, exc: DomainError) -> JSONResponse:
        headers = {"WWW-Authenticate": 'Bearer realm="tandem"'} if exc.status == 401 else None
        return JSONResponse({"error": exc.to_dict()}, status_code=exc.status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"code": "invalid_input", "field": _field(e.get("loc", ())), "message": str(e.get("msg", ""))}
            for e in exc.errors()
        ]
        first = errors[0] if errors else {"code": "invalid_input", "field": "body", "message": "invalid"}
        message = f"{first['field']}: {first['message']}"
        return JSONResponse(
            {
                "error": {"code": "invalid_input", "message": message, "field": first["field"]},
                "errors": errors,
            },
            status_code=422,
        )

    app.add_middleware(CorrelationMiddleware)

    @app.get("/health/live", tags=["health"], summary="Liveness probe")
    async def live() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/health/ready", tags=["health"], summary="Readiness probe: database, relay and consumer")
    async def ready(request: Request) -> JSONResponse:
        host = request.app.state.host
        checks: dict[str, Any] = {"started": host.started}
        try:
            checks["database"] = await host.pool.fetchval("SELECT 1") == 1
        except Exception as exc:
            checks["database"] = False
            checks["database_error"] = str(exc)
        if host.relay is not None:
            checks["relay_leader"] = host.relay.stats.is_leader
            checks["outbox_published"] = host.relay.stats.published
        if host.consumer is not None:
            checks["consumer"] = vars(host.consumer.stats)
        ok = bool(checks["started"] and checks["database"])
        return JSONResponse({"status": "ok" if ok else "unavailable", "checks": checks}, status_code=200 if ok else 503)

    return app


class CorrelationMiddleware:
    """Gives every request a correlation id (the caller's `X-Correlation-Id`, else a new one), kept in
    `request.state` for the unit of work and echoed on the response.

    Plain ASGI rather than `@app.middleware("http")`: Starlette's BaseHTTPMiddleware runs each request in
    an extra task group with memory streams, which cost a fifth of the pairing service's CPU under load.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header = CORRELATION_HEADER.lower().encode()
        raw = next((value for name, value in scope["headers"] if name == header), b"")
        cid = raw.decode("latin-1") or str(uuid.uuid4())
        scope.setdefault("state", {})["correlation_id"] = cid

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (header, cid.encode("latin-1"))]
            await send(message)

        await self.app(scope, receive, send_with_id)


def correlation_id(request: Request) -> str:
    cid: str = request.state.correlation_id
    return cid


async def _uow(request: Request) -> UnitOfWork:  # async: a plain def would run in a worker thread
    host = request.app.state.host
    unit: UnitOfWork = host.uow(correlation_id=correlation_id(request))
    return unit


async def _tenant(request: Request) -> str:
    """The tenant a request acts in: the service's configured tenant (sign-in will take it from the token)."""
    tenant: str = request.app.state.host.settings.tenant
    return tenant


async def _conn(request: Request) -> AsyncIterator[Conn]:
    async with request.app.state.host.pool.acquire() as conn:
        yield conn


#: A unit of work for a command (`async with uow: ...`), with the request's correlation id.
UoW = Annotated[UnitOfWork, Depends(_uow)]
#: A pooled connection for a query.
Connection = Annotated[Conn, Depends(_conn)]
#: The tenant the request acts in.
Tenant = Annotated[str, Depends(_tenant)]
