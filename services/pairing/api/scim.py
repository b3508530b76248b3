"""SCIM 2.0 (RFC 7643/7644) at /scim/v2: the HR platform (Microsoft Entra ID, Okta, ...) provisions the
employee directory. Users only; discovery at /ServiceProviderConfig, /ResourceTypes and /Schemas.

Every request acts in the tenant of its bearer token (`Authorization: Bearer <integration token>`); the
discovery documents need none. Every write is one unit of work through `handlers.apply_directory_changes`
(origin "scim"), so it becomes directory events through the outbox with everything they cause
(profile updates, leavers withdrawn, reorganisation re-checks). What a User means for the directory is
`services.pairing.scim_mapping`. Errors are SCIM error bodies (application/scim+json).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Coroutine, Mapping
from datetime import UTC, datetime
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from scim2_models import Context, SCIMException
from starlette.routing import Match

from services.pairing import handlers, repository
from services.pairing import scim_mapping as scim
from services.pairing.domain import directory
from services.pairing.domain.directory import Leave, Renumber, Upsert
from services.pairing.repository import ScimRow
from services.pairing.scim_mapping import ScimError
from shared.access import principal
from shared.auth import Forbidden
from shared.errors import Conflict, DomainError, NotFound, Unauthorized
from shared.events.directory import EmployeeChangeIgnored
from shared.http import correlation_id
from shared.runtime import host_of
from shared.uow import UnitOfWork

PREFIX = "/scim/v2"
LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"


class ScimResponse(JSONResponse):
    media_type = scim.MEDIA_TYPE


def error_response(exc: ScimError) -> Response:
    headers = {"WWW-Authenticate": 'Bearer realm="tandem"'} if exc.status == 401 else {}
    return ScimResponse(exc.body(), status_code=exc.status, headers=headers)


def _from_domain(exc: DomainError) -> ScimError:
    if isinstance(exc, Unauthorized):
        return ScimError(401, exc.message)
    if isinstance(exc, Forbidden):
        return ScimError(403, exc.message)
    if isinstance(exc, NotFound):
        return ScimError(404, exc.message)
    if isinstance(exc, Conflict):
        return ScimError(409, exc.message, "uniqueness")
    return ScimError(400, exc.message, "invalidValue")


class ScimRoute(APIRoute):
    """Answers every error of a SCIM route, its dependencies' included, as a SCIM error body."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def scim_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except ScimError as exc:
                return error_response(exc)
            except SCIMException as exc:
                return error_response(ScimError.of(exc))
            except DomainError as exc:
                return error_response(_from_domain(exc))
            except RequestValidationError as exc:
                return error_response(ScimError(400, str(exc.errors()[0].get("msg", exc)), "invalidValue"))

        return scim_handler


router = APIRouter(prefix=PREFIX, tags=["scim"], route_class=ScimRoute)


async def scim_tenant(request: Request) -> str:
    """The tenant the SCIM client provisions: its token's (authorise has checked the integration role)."""
    return principal(request).tenant


#: The tenant a SCIM client provisions, from its bearer token.
ScimTenant = Annotated[str, Depends(scim_tenant)]


# --- request and response helpers -----------------------------------------------------------------


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + PREFIX


async def _body(request: Request) -> Any:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind and kind not in (scim.MEDIA_TYPE, "application/json"):
        raise ScimError(415, f"send {scim.MEDIA_TYPE} or application/json, not {kind}")
    raw = await request.body()
    try:
        return json.loads(raw or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ScimError(400, f"the body is not JSON: {exc}", "invalidSyntax") from None


def _scim_id(value: str) -> str | None:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


def _names(value: Any, parameter: str) -> list[str]:
    """`attributes` / `excludedAttributes`: a comma-separated string (query) or a list (search body)."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return [v.strip() for v in value if v.strip()]
    raise ScimError(400, f"{parameter}: a list of attribute names", "invalidValue")


def _number(value: Any, parameter: str, default: int) -> int:
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ScimError(400, f"{parameter}: {value!r} is not an integer", "invalidValue") from None


def _document(
    row: ScimRow, request: Request, params: Mapping[str, Any] | None = None, *, user: Any = None
) -> tuple[dict[str, Any], str]:
    """The User of a row as served; `user`: the User just written, which is what the row keeps."""
    params = request.query_params if params is None else params
    user = scim.represent(row.scim if user is None else user, row.employee, manager_scim_id=row.manager_scim_id)
    return scim.document(
        user,
        scim_id=row.scim_id,
        created=row.created,
        modified=row.modified,
        location=f"{_base(request)}/Users/{row.scim_id}",
        attributes=_names(params.get("attributes"), "attributes"),
        excluded_attributes=_names(params.get("excludedAttributes"), "excludedAttributes"),
    )


def _user_response(row: ScimRow, request: Request, status: int = 200, *, user: Any = None) -> Response:
    doc, version = _document(row, request, user=user)
    headers = {"ETag": version}
    if status == 201:
        headers["Location"] = doc["meta"]["location"]
    return ScimResponse(doc, status_code=status, headers=headers)


def _tags(header: str) -> set[str]:
    return {t.strip().removeprefix("W/") for t in header.split(",") if t.strip()}


def _check_version(row: ScimRow, request: Request) -> None:
    """If-Match (RFC 7644 §3.14): the write applies only to the version the client read."""
    wanted = request.headers.get("if-match")
    if wanted is None or wanted.strip() == "*":
        return
    _, version = _document(row, request, {})
    if version.removeprefix("W/") not in _tags(wanted):
        raise ScimError(412, f"User {row.scim_id} changed since version {wanted} (now {version}); read it again")


def _not_found(scim_id: str) -> ScimError:
    return ScimError(404, f"User {scim_id} not found")


# --- discovery ----------------------------------------------------------------------------------------


def _list(resources: list[dict[str, Any]], total: int, start: int) -> dict[str, Any]:
    return {
        "schemas": [LIST_RESPONSE],
        "totalResults": total,
        "startIndex": start,
        "itemsPerPage": len(resources),
        "Resources": resources,
    }


def _schemas(request: Request) -> dict[str, dict[str, Any]]:
    return {s.id or "": scim.discovery(s, f"{_base(request)}/Schemas/{s.id}") for s in scim.PROVIDER.schemas}


def _resource_types(request: Request) -> dict[str, dict[str, Any]]:
    return {
        t.id or "": scim.discovery(t, f"{_base(request)}/ResourceTypes/{t.id}") for t in scim.PROVIDER.resource_types
    }


@router.get("/ServiceProviderConfig", summary="What this SCIM endpoint supports")
async def service_provider_config(request: Request) -> Response:
    return ScimResponse(scim.discovery(scim.CONFIG, f"{_base(request)}/ServiceProviderConfig"))


@router.get("/ResourceTypes", summary="The resource types: User")
async def resource_types(request: Request) -> Response:
    found = list(_resource_types(request).values())
    return ScimResponse(_list(found, len(found), 1))


@router.get("/ResourceTypes/{name}")
async def resource_type(name: str, request: Request) -> Response:
    found = _resource_types(request).get(name)
    if found is None:
        raise ScimError(404, f"no resource type {name} (there is User)")
    return ScimResponse(found)


@router.get("/Schemas", summary="The User schema, its enterprise extension and Tandem's extension")
async def schemas(request: Request) -> Response:
    found = list(_schemas(request).values())
    return ScimResponse(_list(found, len(found), 1))


@router.get("/Schemas/{schema_id}")
async def schema(schema_id: str, request: Request) -> Response:
    found = {k.lower(): v for k, v in _schemas(request).items()}.get(schema_id.lower())
    if found is None:
        raise ScimError(404, f"no schema {schema_id}")
    return ScimResponse(found)


# --- Users: queries -------------------------------------------------------------------------------------


async def _search(request: Request, tenant: str, params: dict[str, Any]) -> Response:
    conditions = scim.parse_filter(str(params["filter"])) if params.get("filter") else []
    start = max(1, _number(params.get("startIndex"), "startIndex", 1))
    count = min(max(0, _number(params.get("count"), "count", scim.MAX_RESULTS)), scim.MAX_RESULTS)
    if any(column == "scim_id" and _scim_id(value) is None for column, value in conditions):
        return ScimResponse(_list([], 0, start))  # an id that is no UUID is no User's
    async with host_of(request.app).pool.acquire() as conn:
        rows, total = await repository.scim_users(conn, tenant, conditions, offset=start - 1, limit=count)
    return ScimResponse(_list([_document(r, request, params)[0] for r in rows], total, start))


@router.get("/Users", summary="Users, filtered (eq and and on userName, externalId, emails, id, employeeNumber)")
async def list_users(request: Request, tenant: ScimTenant) -> Response:
    return await _search(request, tenant, dict(request.query_params))


@router.post("/Users/.search", summary="Search Users (a SearchRequest body)")
async def search_users(request: Request, tenant: ScimTenant) -> Response:
    body = await _body(request)
    if not isinstance(body, dict):
        raise ScimError(400, "send a SearchRequest object", "invalidSyntax")
    return await _search(request, tenant, body)


@router.post("/.search", summary="Search every resource type (there is User)")
async def search_all(request: Request, tenant: ScimTenant) -> Response:
    return await search_users(request, tenant)


@router.get("/Users/{scim_id}")
async def get_user(scim_id: str, request: Request, tenant: ScimTenant) -> Response:
    key = _scim_id(scim_id)
    if key is None:
        raise _not_found(scim_id)
    async with host_of(request.app).pool.acquire() as conn:
        row = await repository.scim_user(conn, tenant, scim_id=key)
    if row is None or row.deleted:
        raise _not_found(scim_id)
    response = _user_response(row, request)
    unchanged = request.headers.get("if-none-match")
    if unchanged and response.headers["ETag"].removeprefix("W/") in _tags(unchanged):
        return Response(status_code=304, headers={"ETag": response.headers["ETag"]})
    return response


# --- Users: writes ----------------------------------------------------------------------------------------


def _uow(request: Request, tenant: str) -> UnitOfWork:
    return host_of(request.app).uow(tenant=tenant, correlation_id=correlation_id(request))


async def _locked(uow: UnitOfWork, scim_id: str) -> ScimRow:
    """The User, locked with the tenant's directory (every SCIM write serialises there), or 404."""
    key = _scim_id(scim_id)
    if key is None:
        raise _not_found(scim_id)
    await repository.lock_directory(uow.conn, uow.tenant)
    row = await repository.scim_user(uow.conn, uow.tenant, scim_id=key, for_update=True)
    if row is None or row.deleted:
        raise _not_found(scim_id)
    return row


async def _unique(uow: UnitOfWork, user: Any, employee_id: str, *, own: str | None) -> ScimRow | None:
    """Refuse a userName, externalId or employee id that another record holds (409 uniqueness). For a new
    User (`own` None): the deleted User of the same employee, who is then created again."""
    user_name = str(user.user_name).strip()
    external_id = scim.text_of(user.external_id)
    holders = await repository.scim_holders(
        uow.conn, uow.tenant, employee_id=employee_id, user_name=user_name, external_id=external_id
    )
    again = None
    for holder in holders:
        who = holder.employee
        if who.employee_id == own:
            continue
        if who.employee_id == employee_id and holder.deleted and own is None:
            again = holder
            continue
        if who.employee_id == employee_id:
            attribute, value = f"{scim.ENTERPRISE}:employeeNumber", employee_id
        elif who.user_name.lower() == user_name.lower():
            attribute, value = "userName", user_name
        else:
            attribute, value = "externalId", str(external_id)
        taken_by = (
            f"former employee {who.employee_id} (their User was deleted; the directory keeps the record)"
            if holder.deleted
            else f"User {holder.scim_id}"
        )
        raise ScimError(409, f"{attribute}: {value!r} is already taken by {taken_by}", "uniqueness")
    return again


async def _manager(uow: UnitOfWork, user: Any) -> tuple[str | None, str | None]:
    """The manager's employee id, and their SCIM id when the User names them by it. A SCIM id is resolved;
    anything else is an employee number, kept as given (a manager the directory does not have yet)."""
    value = scim.manager_of(user)
    key = _scim_id(value) if value else None
    if key is not None:
        found = await repository.employee_id_of_scim_id(uow.conn, uow.tenant, key)
        if found is not None:
            return found, value
    return value, None


async def _save(
    uow: UnitOfWork, user: Any, employee_id: str, *, current: ScimRow | None, again: bool, renumber: bool = False
) -> ScimRow:
    """Apply a User to the directory (one Upsert, with all it causes; first a Renumber when the User's employee
    number moves the employee to `employee_id`), keep its attributes, commit. Returns the User's row as it
    now stands."""
    manager_id, manager_scim_id = await _manager(uow, user)
    record = scim.employee_input(
        user,
        employee_id=employee_id,
        manager_employee_id=manager_id,
        current=current.employee.status if current is not None else None,
    )
    kept = scim.stored(user)
    try:
        changes: list[Any] = [Upsert(record)]
        if renumber and current is not None:
            changes.insert(0, Renumber(current.employee.employee_id, employee_id))
        result = await handlers.apply_directory_changes(
            uow, changes, origin="scim", effective_at=datetime.now(UTC), commit=False
        )
        scim_id, created, modified = await repository.save_scim(
            uow.conn, uow.tenant, employee_id, kept, created=current is None or again, new_id=again
        )
    except asyncpg.UniqueViolationError as exc:  # the checks above hold under the directory lock; belt and braces
        raise ScimError(409, f"userName or externalId is already taken ({exc.detail})", "uniqueness") from None
    employee = current.employee if current is not None else None
    for event in result.events:
        if isinstance(event, EmployeeChangeIgnored) or event.employee_id != employee_id:
            employee = None  # newer than this change, or someone else (a report of a renumbered manager): read it
            break
        employee = directory.evolve(employee, event)
    if employee is None:
        row = await repository.scim_user(uow.conn, uow.tenant, employee_id=employee_id)
        assert row is not None
    else:
        row = ScimRow(
            employee=employee,
            scim_id=scim_id,
            scim=kept,
            created=created,
            modified=modified,
            deleted=False,
            manager_scim_id=manager_scim_id,
        )
    await uow.commit()
    return row


@router.post("/Users", status_code=201, summary="Create a User: the employee joins the directory")
async def create_user(request: Request, tenant: ScimTenant) -> Response:
    user = scim.parse_user(await _body(request), Context.RESOURCE_CREATION_REQUEST)
    employee_id = scim.employee_id_of(user)
    async with _uow(request, tenant) as uow:
        await repository.lock_directory(uow.conn, uow.tenant)
        again = await _unique(uow, user, employee_id, own=None)
        row = await _save(uow, user, employee_id, current=again, again=again is not None)
    return _user_response(row, request, 201, user=user)


@router.put("/Users/{scim_id}", summary="Replace a User (what the body leaves out is cleared)")
async def replace_user(scim_id: str, request: Request, tenant: ScimTenant) -> Response:
    user = scim.parse_user(await _body(request), Context.RESOURCE_REPLACEMENT_REQUEST)
    async with _uow(request, tenant) as uow:
        row = await _locked(uow, scim_id)
        _check_version(row, request)
        with scim.PROVIDER:
            user.replace(scim.represent(row.scim, row.employee, manager_scim_id=row.manager_scim_id))
        row = await _write(uow, user, row)
    return _user_response(row, request, user=user)


@router.patch("/Users/{scim_id}", summary="Change a User (RFC 7644 PatchOp, Microsoft Entra ID's variants too)")
async def patch_user(scim_id: str, request: Request, tenant: ScimTenant) -> Response:
    patch = scim.parse_patch(await _body(request))
    async with _uow(request, tenant) as uow:
        row = await _locked(uow, scim_id)
        _check_version(row, request)
        user = scim.represent(row.scim, row.employee, manager_scim_id=row.manager_scim_id)
        with scim.PROVIDER:
            patch.patch(user)
        row = await _write(uow, user, row)
    return _user_response(row, request, user=user)


async def _write(uow: UnitOfWork, user: Any, row: ScimRow) -> ScimRow:
    """A replaced or patched User. A new employee number renumbers the employee (it must be free); a removed
    one keeps the employee's id."""
    current = row.employee.employee_id
    ent = scim.enterprise_of(user)
    employee_id = (scim.text_of(ent.employee_number) if ent is not None else None) or current
    await _unique(uow, user, employee_id, own=current)
    return await _save(uow, user, employee_id, current=row, again=False, renumber=employee_id != current)


@router.delete("/Users/{scim_id}", status_code=204, summary="Delete a User: the employee leaves (the record stays)")
async def delete_user(scim_id: str, request: Request, tenant: ScimTenant) -> Response:
    async with _uow(request, tenant) as uow:
        row = await _locked(uow, scim_id)
        _check_version(row, request)
        now = datetime.now(UTC)
        await handlers.apply_directory_changes(
            uow, [Leave(row.employee.employee_id, now.date())], origin="scim", effective_at=now, commit=False
        )
        await repository.delete_scim(uow.conn, uow.tenant, row.employee.employee_id)
        await uow.commit()
    return Response(status_code=204)


# --- anything else under /scim/v2 -------------------------------------------------------------------------

_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


@router.api_route("/{rest:path}", methods=_METHODS, include_in_schema=False)
async def unknown(rest: str, request: Request) -> Response:
    """404 for a path nothing serves, 405 for a method a path does not take: as SCIM errors."""
    allowed = sorted(
        {
            method
            for route in router.routes
            if isinstance(route, APIRoute)
            and route.path.startswith(PREFIX)
            and route.endpoint is not unknown
            and route.matches(request.scope)[0] == Match.PARTIAL
            for method in route.methods or ()
        }
    )
    if allowed:
        response = error_response(ScimError(405, f"{request.method} is not allowed here (use {', '.join(allowed)})"))
        response.headers["Allow"] = ", ".join(allowed)
        return response
    raise ScimError(404, f"nothing at {PREFIX}/{rest}")
