"""The HTTP edge every service shares: one error shape, health probes, request correlation ids.

Errors are always `{"error": {"code", "message", "field"}}` (validation errors list every field in
`errors` as well), so an integrator handles one shape. Authentication plugs in here later, as a
dependency on the routers (see `authenticated`).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from opentelemetry.trace import SpanKind, Status, StatusCode
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.access import Matrix, authorise, principal, rule_for
from shared.auth import Principal
from shared.db import Conn
from shared.errors import DomainError
from shared.failures import DATABASE_UNAVAILABLE
from shared.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from shared.metrics import CURRENT as CURRENT_METRICS
from shared.metrics import UNMATCHED
from shared.telemetry import CORRELATION_ID, TENANT, context_from_headers, log_context, tracer
from shared.uow import UnitOfWork

CORRELATION_HEADER = "X-Correlation-Id"
#: One line per request at DEBUG (TANDEM_LOG_LEVEL=DEBUG), with the request's log context.
access_log = logging.getLogger("tandem.http")
#: What a 503 asks the caller to wait before trying again (seconds).
RETRY_AFTER_SECONDS = 2
#: Ids a client may choose or name: letters and digits first, then also . _ : @ + - (no "/", which would make
#: them unreachable in a path, no spaces, nothing a spreadsheet would run).
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@+-]{0,99}$"
#: An id in a path.
PathId = Annotated[str, Path(pattern=ID_PATTERN, max_length=100, description="An id (letters, digits, . _ : @ + -)")]
#: Pagination bounds: a page is at most 1,000 items; an offset beyond ten million is refused (422), not a 500.
Limit = Annotated[int, Query(ge=1, le=1000)]
Offset = Annotated[int, Query(ge=0, le=10_000_000)]


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def _describe(error: Any, body: Any) -> dict[str, Any]:
    """One validation error as {code, field, message}; a body that is not JSON says where it breaks."""
    if error.get("type") == "json_invalid":
        position = next((p for p in error.get("loc", ()) if isinstance(p, int)), None)
        where = ""
        if position is not None and isinstance(body, str | bytes):
            text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
            line = text.count("\n", 0, position) + 1
            column = position - (text.rfind("\n", 0, position) + 1) + 1
            where = f" at line {line}, column {column}"
        reason = str((error.get("ctx") or {}).get("error", "invalid JSON"))
        return {"code": "invalid_input", "field": "body", "message": f"the body is not valid JSON{where}: {reason}"}
    return {"code": "invalid_input", "field": _field(error.get("loc", ())), "message": str(error.get("msg", ""))}


def create_app(title: str, description: str, access: Matrix, version: str = "1.0.0") -> FastAPI:
    """The service's app: every route goes through `authorise` (the access matrix `access`, fail closed)."""
    app = FastAPI(
        title=title,
        description=description,
        version=version,
        dependencies=[Depends(authorise)],
        docs_url=None,  # FastAPI's own pages load their scripts from a CDN: blank offline (serve_docs instead)
        redoc_url=None,
    )
    app.state.access = access
    serve_docs(app)

    @app.exception_handler(DomainError)
    async def domain_error(_: Request, exc: DomainError) -> JSONResponse:
        headers = {"WWW-Authenticate": 'Bearer realm="tandem"'} if exc.status == 401 else None
        return JSONResponse({"error": exc.to_dict()}, status_code=exc.status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [_describe(e, exc.body) for e in exc.errors()]
        first = errors[0] if errors else {"code": "invalid_input", "field": "body", "message": "invalid"}
        message = f"{first['field']}: {first['message']}"
        return JSONResponse(
            {
                "error": {"code": "invalid_input", "message": message, "field": first["field"]},
                "errors": errors,
            },
            status_code=422,
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400:  # the framework could not read the body (not UTF-8, not JSON)
            unreadable = {"code": "invalid_input", "field": "body", "message": f"body: {exc.detail}: send UTF-8 JSON"}
            return JSONResponse({"error": unreadable, "errors": [unreadable]}, status_code=422)
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "error")
        error = {"code": code, "field": None, "message": str(exc.detail)}
        return JSONResponse({"error": error}, status_code=exc.status_code, headers=exc.headers)

    async def unavailable(_: Request, exc: Exception) -> JSONResponse:
        """The database is away (restarting, failing over): nothing was done; the caller may try again."""
        message = f"the database is unavailable ({type(exc).__name__}); nothing was changed, try again"
        error = {"code": "unavailable", "field": None, "message": message}
        return JSONResponse({"error": error}, status_code=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})

    for failure in DATABASE_UNAVAILABLE:
        app.add_exception_handler(failure, unavailable)

    app.add_middleware(CorrelationMiddleware)

    @app.get("/metrics", tags=["health"], summary="Prometheus metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        """The service's metrics in the Prometheus text format (shared.metrics); public, like the probes. With a
        metrics port set (<SERVICE>_METRICS_PORT, as in a cluster) they are served there only: not found here."""
        host = request.app.state.host
        if host.settings.metrics_port is not None:
            raise StarletteHTTPException(404, f"metrics are served on port {host.settings.metrics_port}")
        return Response(host.metrics.render(), media_type=METRICS_CONTENT_TYPE)

    @app.get("/health/live", tags=["health"], summary="Liveness probe")
    async def live() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/health/ready",
        tags=["health"],
        summary="Readiness probe: database, broker, topics, consumer progress and relay; reasons when not ready",
    )
    async def ready(request: Request) -> JSONResponse:
        host = request.app.state.host
        checks: dict[str, Any] = {"started": host.started}
        reasons: list[str] = [] if host.started else ["not started"]
        try:
            checks["database"] = await asyncio.wait_for(host.pool.fetchval("SELECT 1"), 3) == 1
        except Exception as exc:
            checks["database"] = False
            checks["database_error"] = str(exc)
            reasons.append(f"database unavailable: {type(exc).__name__}: {exc}".rstrip(": "))
        watchdog = host.watchdog.snapshot()
        reasons += [r for r in watchdog.pop("reasons") if not r.startswith("database")]  # pinged just now instead
        checks |= watchdog
        if host.relay is not None:
            checks["relay"] = {**vars(host.relay.stats), "failing_for_s": round(host.relay.streak.failing_for, 1)}
        if host.consumer is not None:
            consumer = host.consumer
            checks["consumer"] = {
                **vars(consumer.stats),
                "failing_for_s": round(consumer.streak.failing_for, 1),
                "assigned": consumer.assignment(),
            }
        ok = not reasons
        body = {"status": "ok" if ok else "unavailable", "reasons": reasons, "checks": checks}
        return JSONResponse(body, status_code=200 if ok else 503)

    return app


#: Where the API documentation pages take their scripts, styles and icon from: this service itself.
DOCS_ASSETS = "/docs/assets"
#: The documentation pages load nothing from another host (ReDoc would fetch its vendor's logo; it does without).
#: Inline script and style: the pages' own configuration, and the styles the two UIs set at run time.
DOCS_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


def _docs_assets() -> str:
    """The folder of Swagger UI's and ReDoc's built files, as the fastapi-offline package ships them."""
    import importlib.resources

    return str(importlib.resources.files("fastapi_offline") / "static")


def serve_docs(app: FastAPI) -> None:
    """The API documentation, Swagger UI at /docs and ReDoc at /redoc, with every script, style and icon served
    by the service (under DOCS_ASSETS), so the pages work without access to the internet. Public, like FastAPI's
    own pages (plain routes, outside the access matrix and the OpenAPI document)."""
    openapi_url = app.openapi_url or "/openapi.json"
    oauth2_redirect = app.swagger_ui_oauth2_redirect_url or "/docs/oauth2-redirect"

    def root(request: Request) -> str:
        return str(request.scope.get("root_path", "")).rstrip("/")

    def confined(page: HTMLResponse) -> HTMLResponse:
        page.headers["Content-Security-Policy"] = DOCS_POLICY
        return page

    async def swagger_ui(request: Request) -> HTMLResponse:
        base = root(request)
        page = get_swagger_ui_html(
            openapi_url=f"{base}{openapi_url}",
            title=f"{app.title}: API",
            oauth2_redirect_url=f"{base}{oauth2_redirect}",
            swagger_js_url=f"{base}{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{base}{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{base}{DOCS_ASSETS}/favicon.png",
            swagger_ui_parameters={"validatorUrl": None},  # no badge fetched from swagger.io
        )
        return confined(page)

    async def swagger_ui_redirect(_: Request) -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    async def redoc(request: Request) -> HTMLResponse:
        base = root(request)
        page = get_redoc_html(
            openapi_url=f"{base}{openapi_url}",
            title=f"{app.title}: API",
            redoc_js_url=f"{base}{DOCS_ASSETS}/redoc.standalone.js",
            redoc_favicon_url=f"{base}{DOCS_ASSETS}/favicon.png",
            with_google_fonts=False,
        )
        return confined(page)

    app.mount(DOCS_ASSETS, StaticFiles(directory=_docs_assets()), name="docs-assets")
    app.add_route("/docs", swagger_ui, include_in_schema=False)
    app.add_route(oauth2_redirect, swagger_ui_redirect, include_in_schema=False)
    app.add_route("/redoc", redoc, include_in_schema=False)


class CorrelationMiddleware:
    """Gives every request a correlation id (the caller's `X-Correlation-Id`, else a new one), kept in
    `request.state` for the unit of work and echoed on the response; and observes it: a server span (named
    after the route template, continuing the caller's W3C `traceparent` if any), the log context
    (correlation id; the tenant once the caller is known, shared.access) and the HTTP metrics
    (shared.metrics: route template, or "unmatched").

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
        host = getattr(scope["app"].state, "host", None) if "app" in scope else None
        metrics = host.metrics if host is not None else None
        method = scope["method"]
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (header, cid.encode("latin-1"))]
            await send(message)

        caller = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in scope["headers"]
            if name in (b"traceparent", b"tracestate")
        }
        started = time.perf_counter()
        tokens = (CORRELATION_ID.set(cid), TENANT.set(None), CURRENT_METRICS.set(metrics))
        try:
            with (
                log_context(service=host.spec.name if host is not None else None),
                tracer().start_as_current_span(
                    method, context=context_from_headers(caller), kind=SpanKind.SERVER, attributes={
                        "http.request.method": method, "url.path": scope.get("path", ""), "tandem.correlation_id": cid,
                    },
                ) as span,
            ):  # fmt: skip
                try:
                    await self.app(scope, receive, send_with_id)
                finally:
                    route = getattr(scope.get("route"), "path", None) or UNMATCHED
                    span.update_name(f"{method} {route}")
                    span.set_attribute("http.route", route)
                    span.set_attribute("http.response.status_code", status)
                    if status >= 500:
                        span.set_status(Status(StatusCode.ERROR))
                    elapsed = time.perf_counter() - started
                    if metrics is not None:
                        metrics.observe_http(method, route, status, elapsed)
                    access_log.debug("%s %s %d %.1f ms", method, scope.get("path", ""), status, elapsed * 1000)
        finally:
            CURRENT_METRICS.reset(tokens[2])
            TENANT.reset(tokens[1])
            CORRELATION_ID.reset(tokens[0])


def correlation_id(request: Request) -> str:
    cid: str = request.state.correlation_id
    return cid


async def _uow(request: Request) -> UnitOfWork:  # async: a plain def would run in a worker thread
    host = request.app.state.host
    unit: UnitOfWork = host.uow(correlation_id=correlation_id(request), tenant=principal(request).tenant)
    return unit


async def _tenant(request: Request) -> str:
    """The tenant a request acts in: the caller's, from their token."""
    return principal(request).tenant


async def _caller(request: Request) -> Principal:
    return principal(request)


async def _conn(request: Request) -> AsyncIterator[Conn]:
    async with request.app.state.host.pool.acquire() as conn:
        yield conn


#: A unit of work for a command (`async with uow: ...`), with the request's correlation id.
UoW = Annotated[UnitOfWork, Depends(_uow)]
#: A pooled connection for a query.
Connection = Annotated[Conn, Depends(_conn)]
#: The tenant the request acts in (the caller's).
Tenant = Annotated[str, Depends(_tenant)]
#: The verified caller.
Caller = Annotated[Principal, Depends(_caller)]


_ERROR = {"content": {"application/json": {"schema": {"type": "object", "properties": {"error": {"type": "object"}}}}}}


def document_errors(app: FastAPI) -> None:
    """Say in the OpenAPI document which error statuses each operation can answer (the shape of
    shared.errors): 401/403 where a token is needed, 404 where a path names something, 409 and 422 for
    commands, 503 when the database or the identity provider is away. Read from the access matrix, so a
    route's documentation follows its rule."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate()
        for path, operations in schema.get("paths", {}).items():
            for method, operation in operations.items():
                rule = rule_for(app.state.access, method.upper(), path)
                statuses = {"503": "The database or the identity provider is unavailable; try again"}
                if rule is None or not rule.public:
                    statuses |= {"401": "No valid access token", "403": "The caller's role may not do this"}
                if "{" in path:
                    statuses["404"] = "Not found (or another tenant's)"
                if method in ("post", "put", "patch", "delete"):
                    statuses |= {
                        "404": "Something the request names is not found (or another tenant's)",
                        "409": "The current state does not allow it",
                        "422": "Invalid input, naming the field",
                    }
                elif operation.get("parameters"):
                    statuses["422"] = "Invalid input, naming the field"
                responses = operation.setdefault("responses", {})
                for status, description in statuses.items():
                    responses.setdefault(status, {"description": description, **_ERROR})
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
