"""SCIM 2.0 (RFC 7643/7644) for the employee directory: the User resource Tandem serves, the discovery
documents that describe it, and the mapping between a SCIM User and a directory record. Pure: no I/O.

The directory record is the truth. A SCIM User is kept as provisioned (the `scim` column) and served back
with the directory's values laid over it wherever the directory no longer agrees with what the User
states (another source changed the record, or the directory normalised a value): `represent`.

Mapping (SCIM -> directory):
- employee_id  <- enterprise employeeNumber, else userName when the User is created; a later employeeNumber
                  renumbers the employee (the directory follows: reports, enrolments); removing it keeps the id
- user_name    <- userName
- display_name <- displayName, else name.formatted, else name.givenName + name.familyName, else userName
- email        <- the primary (else first) emails[].value
- external_id  <- externalId
- department   <- enterprise department
- manager_employee_id <- enterprise manager.value (a SCIM id is resolved to that employee's id by the caller)
- timezone, locale <- timezone, locale (UTC and en when absent)
- languages    <- tandem languages (one string of BCP 47 tags: "de, en-GB"), else [preferredLanguage]
- location     <- addresses[type eq "work"].locality, else the first address's locality
- grade        <- tandem grade (a string of digits, 0 to 30: as HR systems and Entra's attribute maps send it)
- status       <- active: false means the employee left; true (or absent) means employed
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar

from pydantic import EmailStr, Field, ValidationError
from scim2_models import (
    URN,
    Address,
    AnyExtension,
    AuthenticationScheme,
    Bulk,
    CaseExact,
    ChangePassword,
    ComplexAttribute,
    Context,
    Error,
    ETag,
    Extension,
    Filter,
    Meta,
    Name,
    Patch,
    PatchOp,
    PhoneNumber,
    Reference,
    Required,
    Resource,
    ResourceType,
    ResponseParameters,
    SchemaExtension,
    SCIMException,
    ScimFilter,
    ScimPolicy,
    ScimProvider,
    ServiceProviderConfig,
    Sort,
    Uniqueness,
)
from scim2_models import Email as _Email
from scim2_models.path import CompareOperator, Comparison, FilterNode, LogicalExpr, LogicalOperator

from services.pairing.domain.directory import Employee, EmployeeInput, normalise_language
from shared.events.directory import EmployeeStatus

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
TANDEM = "urn:ietf:params:scim:schemas:extension:tandem:2.0:User"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
MEDIA_TYPE = "application/scim+json"
#: The most Users one list or search answers (ServiceProviderConfig filter.maxResults).
MAX_RESULTS = 200

#: Suggested values the directory accepts as they are (BCP 47 tags in their standard form, IANA zones).
LANGUAGE_TAGS = [
    "en", "en-US", "en-GB", "de", "de-DE", "de-CH", "de-AT", "fr", "fr-FR", "fr-CH", "it", "es", "nl", "pl", "pt",
    "pt-BR", "sv", "da", "fi", "nb", "cs", "ja", "zh", "zh-Hans", "ko", "tr", "ar", "hi", "fil",
]  # fmt: skip
TIME_ZONES = [
    "UTC", "Europe/Berlin", "Europe/Zurich", "Europe/Vienna", "Europe/London", "Europe/Paris", "Europe/Madrid",
    "Europe/Warsaw", "America/New_York", "America/Chicago", "America/Los_Angeles", "America/Sao_Paulo",
    "Asia/Tokyo", "Asia/Singapore", "Asia/Kolkata", "Australia/Sydney",
]  # fmt: skip


class ScimError(Exception):
    """A SCIM error response (RFC 7644 §3.12): status, scimType and a detail naming the attribute."""

    def __init__(self, status: int, detail: str, scim_type: str | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.scim_type = scim_type

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"schemas": [ERROR], "status": str(self.status), "detail": self.detail}
        if self.scim_type:
            out["scimType"] = self.scim_type
        return out

    @classmethod
    def of(cls, exc: SCIMException) -> ScimError:
        return cls(exc.status, exc.detail, exc.scim_type or None)

    @classmethod
    def invalid(cls, exc: ValidationError) -> ScimError:
        """The first error of a payload that scim2-models refused, as RFC 7644 words it."""
        errors = Error.from_validation_errors(exc)
        first = errors[0] if errors else Error(status=400, scim_type="invalidValue", detail=str(exc))
        return cls(first.status or 400, first.detail or "invalid payload", first.scim_type)


# --- the resource ---------------------------------------------------------------------------------


class Email(_Email):
    value: Annotated[EmailStr | None, Required.true] = None
    """The e-mail address; Tandem mails the person at the primary one."""


class Manager(ComplexAttribute):
    value: Annotated[str | None, Required.true, CaseExact.true] = None
    """The SCIM id of the manager's User, or the manager's employee number (kept as given while the
    manager is not in the directory yet)."""

    ref: Reference["User"] | None = Field(  # type: ignore[type-arg]  # noqa: UP037
        None, serialization_alias="$ref", validation_alias="$ref"
    )
    """The URI of the manager's User."""


class EnterpriseUser(Extension):
    """Enterprise User (RFC 7643 §4.3)."""

    __schema__ = URN(ENTERPRISE)

    employee_number: str | None = None
    """The employee's id in the directory (the HR system's employee number); when absent at creation, the
    userName is the employee id. A new value renumbers the employee everywhere in Tandem."""

    cost_center: str | None = None
    """Identifies the name of a cost center."""

    organization: str | None = None
    """Identifies the name of an organization."""

    division: str | None = None
    """Identifies the name of a division."""

    department: str | None = None
    """The department, which programmes match on."""

    manager: Manager | None = None
    """The User's manager: the reporting line programmes' rules read."""


class TandemUser(Extension):
    """What reverse-mentoring matching needs beyond the enterprise extension."""

    __schema__ = URN(TANDEM)

    grade: str | None = Field(None, examples=[str(g) for g in range(31)])
    """The job grade, a whole number from 0 to 30 (a string, as HR systems send it)."""

    languages: str | None = Field(None, examples=LANGUAGE_TAGS)
    """The languages the person can mentor or be mentored in: BCP 47 tags separated by commas or spaces
    (e.g. 'de, en-GB'). One value, so that an identity provider can map a single string attribute to it."""


class User(Resource[AnyExtension]):
    """An employee of the organisation (Tandem's employee directory)."""

    __schema__ = URN(CORE)

    user_name: Annotated[str | None, Uniqueness.server, Required.true] = None
    """The sign-in name (e.g. the UPN), unique in the tenant, case-insensitively."""

    name: Name | None = None
    """The components of the user's name."""
    Name: ClassVar[type[ComplexAttribute]] = Name

    display_name: str | None = None
    """The name shown and used in mails (else name.formatted, else given and family name)."""

    nick_name: str | None = None
    """The casual way to address the user."""

    title: str | None = None
    """The user's title, such as 'Vice President'."""

    user_type: str | None = None
    """The relationship to the organisation, such as 'Employee' or 'Contractor'."""

    preferred_language: str | None = Field(None, examples=LANGUAGE_TAGS)
    """A BCP 47 tag; the person's language when the tandem extension names none."""

    locale: str | None = Field(None, examples=LANGUAGE_TAGS)
    """A BCP 47 tag; Tandem writes German to German locales and English to everyone else."""

    timezone: str | None = Field(None, examples=TIME_ZONES)
    """An IANA time zone, such as 'Europe/Berlin' (UTC when absent)."""

    active: bool | None = None
    """False: the employee has left (they are withdrawn from every programme). True or absent: employed."""

    emails: Annotated[list[Email] | None, Required.true] = None
    """E-mail addresses; Tandem needs one."""
    Emails: ClassVar[type[ComplexAttribute]] = Email

    phone_numbers: list[PhoneNumber] | None = None
    """Phone numbers (kept as provisioned)."""
    PhoneNumbers: ClassVar[type[ComplexAttribute]] = PhoneNumber

    addresses: list[Address] | None = None
    """Addresses; the work (else first) address's locality is the person's location."""
    Addresses: ClassVar[type[ComplexAttribute]] = Address


ScimUser = User[EnterpriseUser | TandemUser]

RESOURCE_TYPE = ResourceType(
    id="User",
    name="User",
    description="An employee of the organisation: the employee directory",
    endpoint="/Users",
    schema_=CORE,
    schema_extensions=[
        SchemaExtension(schema_=ENTERPRISE, required=False),
        SchemaExtension(schema_=TANDEM, required=False),
    ],
)

CONFIG = ServiceProviderConfig(
    patch=Patch(supported=True),
    bulk=Bulk(supported=False, max_operations=0, max_payload_size=0),
    filter=Filter(supported=True, max_results=MAX_RESULTS),
    change_password=ChangePassword(supported=False),
    sort=Sort(supported=False),
    etag=ETag(supported=True),
    authentication_schemes=[
        AuthenticationScheme(
            type="oauthbearertoken",
            name="Integration token",
            description="The tenant's integration token (`tandem hr token`): Authorization: Bearer <token>",
            primary=True,
        )
    ],
)

#: What the endpoint tolerates beyond the strict reading: what Microsoft Entra ID sends (a remove whose
#: value selects the entries, a filter path that creates the entry it describes).
POLICY = ScimPolicy(
    remove_value_as_filter=ScimPolicy.RemoveValue.apply,
    unmatched_path_filter=ScimPolicy.UnmatchedPathFilter.create,
)

PROVIDER = ScimProvider(
    models=[User, EnterpriseUser, TandemUser], resource_types=[RESOURCE_TYPE], config=CONFIG, policy=POLICY
)


def discovery(obj: Resource[Any], location: str) -> dict[str, Any]:
    """A discovery document (Schema, ResourceType, ServiceProviderConfig) with its meta."""
    out = obj.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
    out["meta"] = {"resourceType": type(obj).__name__, "location": location}
    return out


# --- reading a User -----------------------------------------------------------------------------


def parse_user(body: Any, context: Context) -> Any:
    """A User from a request body (creation or replacement), or the SCIM error that refuses it."""
    if not isinstance(body, dict):
        raise ScimError(400, "the body must be a JSON object (a SCIM User)", "invalidSyntax")
    try:
        with PROVIDER:
            user = ScimUser.model_validate(body, scim_ctx=context)
    except ValidationError as exc:
        raise ScimError.invalid(exc) from None
    except SCIMException as exc:
        raise ScimError.of(exc) from None
    if not text_of(user.user_name):
        raise ScimError(400, "userName: must not be blank", "invalidValue")
    return user


def parse_patch(body: Any) -> Any:
    """A PatchOp on a User from a request body (Entra's variants read too), or the SCIM error that refuses it."""
    if not isinstance(body, dict):
        raise ScimError(400, "the body must be a JSON object (a PatchOp)", "invalidSyntax")
    try:
        with PROVIDER:
            return PatchOp[ScimUser].model_validate(entra_patch(body), scim_ctx=Context.RESOURCE_PATCH_REQUEST)
    except ValidationError as exc:
        raise ScimError.invalid(exc) from None
    except SCIMException as exc:
        raise ScimError.of(exc) from None


def load(stored: dict[str, Any] | None) -> Any:
    """A User as it was kept (validated when it came in)."""
    with PROVIDER:
        return ScimUser.model_validate(stored or {"schemas": [CORE]}, scim_ctx=Context.DEFAULT)


def stored(user: Any) -> dict[str, Any]:
    """What is kept of a User: everything a client may write (no id, no meta)."""
    with PROVIDER:
        out: dict[str, Any] = user.model_dump(scim_ctx=Context.RESOURCE_REPLACEMENT_REQUEST)
    return out


def enterprise_of(user: Any) -> EnterpriseUser | None:
    ext: EnterpriseUser | None = user.EnterpriseUser  # the field a User[EnterpriseUser | ...] holds it in
    return ext


def _tandem(user: Any) -> TandemUser | None:
    ext: TandemUser | None = user.TandemUser
    return ext


def text_of(value: str | None) -> str | None:
    """A string as the directory keeps it: stripped, blank is none."""
    return (value.strip() or None) if isinstance(value, str) else None


def employee_id_of(user: Any) -> str:
    """The directory id a new User gets: its employee number, else its userName."""
    ent = enterprise_of(user)
    return text_of(ent.employee_number if ent else None) or text_of(user.user_name) or ""


def display_name_of(user: Any) -> str | None:
    if text_of(user.display_name):
        return text_of(user.display_name)
    name: Name | None = user.name
    if name is not None:
        if text_of(name.formatted):
            return text_of(name.formatted)
        parts = [p for p in (text_of(name.given_name), text_of(name.family_name)) if p]
        if parts:
            return " ".join(parts)
    return text_of(user.user_name)


def _primary(entries: list[Any] | None) -> Any:
    if not entries:
        return None
    return next((e for e in entries if e.primary), entries[0])


def email_of(user: Any) -> str | None:
    entry = _primary(user.emails)
    return str(entry.value) if entry is not None and entry.value else None


def _work_address(user: Any) -> Address | None:
    addresses: list[Address] = user.addresses or []
    work = next((a for a in addresses if a.type == "work"), None)
    return work or (addresses[0] if addresses else None)


def location_of(user: Any) -> str | None:
    address = _work_address(user)
    return text_of(address.locality) if address is not None else None


def split_languages(value: str | None) -> list[str]:
    return [tag for tag in (value or "").replace(",", " ").replace(";", " ").split() if tag]


def grade_of(user: Any) -> int | None:
    """The grade a User states, or a 400 naming the attribute."""
    tandem = _tandem(user)
    text = text_of(tandem.grade) if tandem is not None else None
    if text is None:
        return None
    if not text.isdigit() or not 0 <= int(text) <= 30:
        raise ScimError(400, f"{TANDEM}:grade: {text!r} is not a whole number from 0 to 30", "invalidValue")
    return int(text)


def languages_of(user: Any) -> tuple[list[str], str]:
    """The languages a User states, and the attribute they come from."""
    tandem = _tandem(user)
    if tandem is not None and split_languages(tandem.languages):
        return split_languages(tandem.languages), f"{TANDEM}:languages"
    if text_of(user.preferred_language):
        return [str(user.preferred_language)], "preferredLanguage"
    return [], f"{TANDEM}:languages"


def manager_of(user: Any) -> str | None:
    ent = enterprise_of(user)
    return text_of(ent.manager.value) if ent is not None and ent.manager is not None else None


#: The attribute that carries each directory field, for errors.
ATTRIBUTE_OF = {
    "employee_id": f"{ENTERPRISE}:employeeNumber",
    "user_name": "userName",
    "display_name": "displayName",
    "email": "emails.value",
    "external_id": "externalId",
    "department": f"{ENTERPRISE}:department",
    "grade": f"{TANDEM}:grade",
    "manager_employee_id": f"{ENTERPRISE}:manager.value",
    "location": "addresses.locality",
    "timezone": "timezone",
    "languages": f"{TANDEM}:languages",
    "locale": "locale",
}


def employee_input(
    user: Any, *, employee_id: str, manager_employee_id: str | None, current: EmployeeStatus | None
) -> EmployeeInput:
    """The directory record a User states, validated by the directory. Every field is stated, so what the
    User leaves out is cleared (PUT semantics; a PATCH is applied to the whole User first). `current` is the
    record's status now (None for a new one): `active` true or absent keeps an employee on leave on leave."""
    email = email_of(user)
    if email is None:
        raise ScimError(400, "emails: Tandem needs an e-mail address (emails[].value)", "invalidValue")
    ent = enterprise_of(user)
    languages, languages_attribute = languages_of(user)
    fields: dict[str, Any] = {
        "employee_id": employee_id,
        "user_name": user.user_name,
        "display_name": display_name_of(user),
        "email": email,
        "external_id": user.external_id,
        "department": ent.department if ent else None,
        "grade": grade_of(user),
        "manager_employee_id": manager_employee_id,
        "location": location_of(user),
        "timezone": text_of(user.timezone) or "UTC",
        "languages": languages,
        "locale": text_of(user.locale) or "en",
    }
    if user.active is False:
        fields["status"] = "left"
    elif current in (None, "left"):
        fields["status"] = "active"
    try:
        return EmployeeInput.model_validate(fields)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = str(err["loc"][0]) if err["loc"] else "employee_id"
        attribute = languages_attribute if field == "languages" else ATTRIBUTE_OF.get(field, field)
        message = str(err["msg"]).removeprefix("Value error, ")
        raise ScimError(400, f"{attribute}: {message}", "invalidValue") from None


# --- serving a User ---------------------------------------------------------------------------------


def _language_list(values: list[str]) -> list[str]:
    out = []
    for value in values:
        try:
            out.append(normalise_language(value))
        except ValueError:
            out.append(value)
    return list(dict.fromkeys(out))


def _locale(value: str | None) -> str:
    try:
        return normalise_language(text_of(value) or "en")
    except ValueError:
        return str(value)


def represent(user: Any, employee: Employee, *, manager_scim_id: str | None) -> Any:
    """The User to serve: the one kept (`user`: as stored, or a User in hand, which is changed in place),
    with the directory's value laid over every attribute whose mapping no longer gives the directory's
    record (the directory is the truth). A User whose every attribute agrees is served exactly as
    provisioned. `manager_scim_id` is the SCIM id of the record's manager. The employee number is shown
    unless the client removed it (the record keeps its id)."""
    provisioned = user is not None and not (isinstance(user, dict) and not user)
    if user is None or isinstance(user, dict):
        user = load(user)
    e = employee
    if text_of(user.user_name) != e.user_name:
        user.user_name = e.user_name
    if display_name_of(user) != e.display_name:
        user.display_name = e.display_name
    if (email_of(user) or "").lower() != e.email.lower():
        entry = _primary(user.emails)
        if entry is not None:
            entry.value = e.email
        else:
            user.emails = [Email(value=e.email, type="work", primary=True)]
    if text_of(user.external_id) != e.external_id:
        user.external_id = e.external_id
    if (text_of(user.timezone) or "UTC") != e.timezone:
        user.timezone = e.timezone
    if _locale(user.locale) != e.locale:
        user.locale = e.locale
    if location_of(user) != e.location:
        _set_location(user, e.location)
    if (user.active is False) != (e.status == "left"):
        user.active = e.status != "left"

    ent = enterprise_of(user) or EnterpriseUser()
    removed = provisioned and text_of(ent.employee_number) is None
    if not removed and text_of(ent.employee_number) != e.employee_id:
        ent.employee_number = e.employee_id
    if text_of(ent.department) != e.department:
        ent.department = e.department
    given = manager_of(user)
    if e.manager_employee_id is None:
        ent.manager = None
    elif given is None or given not in (e.manager_employee_id, manager_scim_id):
        ent.manager = Manager(value=manager_scim_id or e.manager_employee_id)
    user.EnterpriseUser = ent

    tandem = _tandem(user) or TandemUser()
    stated = text_of(tandem.grade)
    if (int(stated) if stated is not None and stated.isdigit() else None) != e.grade:
        tandem.grade = str(e.grade) if e.grade is not None else None
    if _language_list(languages_of(user)[0]) != list(e.languages):
        tandem.languages = ", ".join(e.languages) or None
    user.TandemUser = tandem if tandem.grade is not None or tandem.languages else None
    return user


def _set_location(user: Any, location: str | None) -> None:
    address = _work_address(user)
    if address is None:
        if location is not None:
            user.addresses = [*(user.addresses or []), Address(type="work", locality=location)]
        return
    address.locality = location
    if location is None and not address.model_dump(exclude_none=True, scim_ctx=None):
        user.addresses = [a for a in user.addresses if a is not address] or None


def version_of(document: dict[str, Any]) -> str:
    """A weak entity tag of a User's representation (without its meta)."""
    content = {k: v for k, v in document.items() if k != "meta"}
    digest = hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()
    return f'W/"{digest[:24]}"'


def document(
    user: Any,
    *,
    scim_id: str,
    created: datetime,
    modified: datetime,
    location: str,
    attributes: list[str] | None = None,
    excluded_attributes: list[str] | None = None,
) -> tuple[dict[str, Any], str]:
    """The User as served, and its version (an entity tag of the whole representation). `attributes` and
    `excludedAttributes` (RFC 7644 §3.9) select what the document carries."""
    user.id = scim_id
    user.meta = None
    with PROVIDER:
        whole: dict[str, Any] = user.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
    version = version_of(whole)
    meta = {
        "resourceType": "User",
        "created": _instant(created),
        "lastModified": _instant(modified),
        "location": location,
        "version": version,
    }
    if not attributes and not excluded_attributes:
        return {**whole, "meta": meta}, version
    user.meta = Meta(resource_type="User", created=created, last_modified=modified, location=location, version=version)
    try:
        selection: ResponseParameters[Any] = ResponseParameters(
            attributes=attributes or None, excluded_attributes=excluded_attributes or None
        )
    except ValidationError as exc:
        raise ScimError.invalid(exc) from None
    with PROVIDER:
        out: dict[str, Any] = user.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE, response_parameters=selection)
    return out, version


def _instant(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


# --- filters ----------------------------------------------------------------------------------------

#: attribute (lower case) -> the directory column an `eq` on it compares; its schema URN when qualified.
_FILTERABLE: dict[tuple[str, str, str | None], str] = {
    (CORE, "username", None): "user_name",
    (CORE, "externalid", None): "external_id",
    (CORE, "emails", None): "email",
    (CORE, "emails", "value"): "email",
    (CORE, "id", None): "scim_id",
    (ENTERPRISE, "employeenumber", None): "employee_id",
}
FILTER_HELP = (
    "Tandem filters with eq, joined by and, on userName, externalId, emails (emails.value), id and employeeNumber"
)


def parse_filter(text: str) -> list[tuple[str, str]]:
    """The (column, value) pairs a filter ANDs together, or a SCIM invalidFilter error."""
    try:
        ast = ScimFilter(text).ast
    except (SCIMException, ValueError) as exc:
        raise ScimError(400, f"filter: {exc} ({FILTER_HELP})", "invalidFilter") from None
    return [_condition(term) for term in _and_terms(ast)]


def _and_terms(node: FilterNode) -> list[FilterNode]:
    if isinstance(node, LogicalExpr) and node.op == LogicalOperator.and_:
        return [t for term in node.terms for t in _and_terms(term)]
    return [node]


def _condition(node: FilterNode) -> tuple[str, str]:
    if not isinstance(node, Comparison):
        raise ScimError(400, f"filter: {node} is not supported ({FILTER_HELP})", "invalidFilter")
    path = node.attr_path
    uri = path.uri.lower() if path.uri else None
    attr, sub = path.attr.lower(), path.sub_attr.lower() if path.sub_attr else None
    column = next(
        (c for (schema, a, s), c in _FILTERABLE.items() if a == attr and s == sub and uri in (None, schema.lower())),
        None,
    )
    if column is None:
        raise ScimError(400, f"filter: {path} cannot be filtered on ({FILTER_HELP})", "invalidFilter")
    if node.op != CompareOperator.eq:
        raise ScimError(400, f"filter: {path} {node.op.value} is not supported ({FILTER_HELP})", "invalidFilter")
    if not isinstance(node.value, str):
        raise ScimError(400, f"filter: {path} is compared to a string", "invalidFilter")
    return column, node.value


# --- what Microsoft Entra ID sends ------------------------------------------------------------------


def entra_patch(body: Any) -> Any:
    """A PatchOp with Entra's spellings of the manager made standard: a bare id, a one-element list, a
    null $ref (`{"value": "<id>"}` is what RFC 7643 §4.3 defines), a remove that names the manager. Other
    Entra variants (capitalised op names, booleans as strings, path-less Replace with dotted or URN-qualified
    keys, filter paths that create the entry) are read by scim2-models under `POLICY`."""
    if not isinstance(body, dict) or not isinstance(body.get("Operations"), list):
        return body
    manager = f"{ENTERPRISE}:manager".lower()
    for op in body["Operations"]:
        if not isinstance(op, dict):
            continue
        path = op.get("path")
        removal = str(op.get("op", "")).lower() == "remove"
        if isinstance(path, str) and path.strip().lower() == manager and removal:
            op.pop("value", None)  # a single manager: removing it needs no value to select it
        elif isinstance(path, str) and path.strip().lower() == manager and "value" in op:
            op["value"] = _manager_value(op["value"])
        elif path is None and isinstance(op.get("value"), dict):
            for key in list(op["value"]):
                if key.lower() == manager:
                    op["value"][key] = _manager_value(op["value"][key])
    return body


def _manager_value(value: Any) -> Any:
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if isinstance(value, str):
        return {"value": value} if value.strip() else None
    if isinstance(value, dict) and value.get("$ref", 0) is None:
        value = {k: v for k, v in value.items() if k != "$ref"}
    return value
