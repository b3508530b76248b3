"""The employee directory of a tenant: every employee, not only participants. Pure: no I/O, no clock.

Three sources feed it (SCIM, HR events, a full-file sync); each hands over changes (`Upsert` of a record,
`Leave`), and `decide` turns a change into directory events against the record as it stands. `evolve`
folds one event into a record: the write model, the audit ("who was X's manager on date Y") and any
replay use that one fold.

Ordering: every change carries the time it took effect at its source. A change older than the record it
would overwrite is not applied; it becomes `EmployeeChangeIgnored`, so the log still says it came.
"""

from __future__ import annotations

import functools
from dataclasses import MISSING, dataclass, fields, replace
from datetime import UTC, date, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import langcodes
from pydantic import BaseModel, ConfigDict, EmailStr, Field, ValidationInfo, field_validator

from shared.errors import InvalidInput, NotFound
from shared.events.common import SafeId
from shared.events.directory import (
    EmployeeChangeIgnored,
    EmployeeHired,
    EmployeeLeft,
    EmployeeRenumbered,
    EmployeeStatus,
    EmployeeUpdated,
    Origin,
)

DirectoryEvent = EmployeeHired | EmployeeUpdated | EmployeeRenumbered | EmployeeLeft | EmployeeChangeIgnored
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

#: Changes to these fields can make a live pair break a hard rule: they trigger a re-check.
RULE_FIELDS = frozenset({"manager_employee_id", "languages"})
#: The fields a participant's profile takes from the directory.
PROFILE_FIELDS = (
    "display_name",
    "email",
    "locale",
    "department",
    "grade",
    "manager_employee_id",
    "location",
    "timezone",
    "languages",
)


# --- languages ---------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4096)
def normalise_language(tag: str) -> str:
    """A valid BCP 47 tag in its standard form ('EN' -> 'en', 'de_ch' -> 'de-CH'); else ValueError."""
    text = tag.strip()
    if not text or not langcodes.tag_is_valid(text):
        raise ValueError(f"{tag!r} is not a BCP 47 language tag (e.g. 'en', 'de', 'de-CH', 'fil')")
    return str(langcodes.standardize_tag(text))


def primary_language(tag: str) -> str:
    """The language a tag names, without region or script: 'de-CH' and 'de' share 'de'."""
    return tag.split("-", 1)[0].lower()


def supported_locale(tag: str) -> Literal["de", "en"]:
    """The message language for a person's locale: German for any German locale, else English."""
    return "de" if primary_language(tag) == "de" else "en"


# --- a change as a source hands it over --------------------------------------------------------------


class EmployeeInput(BaseModel):
    """One employee's record as a source states it. Fields a source leaves out keep their current value
    (`model_fields_set`); a source that means "clear it" sends null."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    employee_id: SafeId
    external_id: str | None = Field(default=None, max_length=300)
    user_name: str | None = Field(default=None, min_length=1, max_length=300)
    display_name: str = Field(min_length=1, max_length=200)
    email: EmailStr
    department: str | None = Field(default=None, max_length=200)
    grade: int | None = Field(default=None, ge=0, le=30)
    manager_employee_id: SafeId | None = None
    location: str | None = Field(default=None, max_length=200)
    timezone: str = "UTC"
    languages: list[str] = Field(default_factory=list)
    locale: str = "en"
    status: EmployeeStatus = "active"
    hired_on: date | None = None
    left_on: date | None = None

    @field_validator("languages")
    @classmethod
    def _languages(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(normalise_language(v) for v in value))

    @field_validator("locale")
    @classmethod
    def _locale(cls, value: str) -> str:
        return normalise_language(value)

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name such as 'Europe/Berlin')") from None
        return value

    @field_validator("department", "location", "external_id")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value or None

    @field_validator("manager_employee_id")
    @classmethod
    def _not_self(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value and value == info.data.get("employee_id"):
            raise ValueError("nobody is their own manager")
        return value or None


@dataclass(frozen=True)
class Upsert:
    record: EmployeeInput


@dataclass(frozen=True)
class Leave:
    employee_id: str
    left_on: date


@dataclass(frozen=True)
class Renumber:
    """The employee's id changes (the HR platform renumbered them). The new id must be free."""

    employee_id: str
    new_employee_id: str


Change = Upsert | Leave | Renumber


# --- the record ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Employee:
    employee_id: str
    user_name: str
    display_name: str
    email: str
    external_id: str | None = None
    department: str | None = None
    grade: int | None = None
    manager_employee_id: str | None = None
    location: str | None = None
    timezone: str = "UTC"
    languages: tuple[str, ...] = ()
    locale: str = "en"
    status: EmployeeStatus = "active"
    hired_on: date | None = None
    left_on: date | None = None
    #: When the record's latest change took effect at its source, and the directory revision it made.
    effective_at: datetime = EPOCH
    revision: int = 0

    def record(self) -> dict[str, Any]:
        """The record's fields (what an event carries), without bookkeeping."""
        out = {f: getattr(self, f) for f in RECORD_FIELDS}
        out["languages"] = list(self.languages)
        return out


RECORD_FIELDS = tuple(f.name for f in fields(Employee) if f.name not in ("effective_at", "revision"))


def _merged(current: Employee | None, change: EmployeeInput) -> dict[str, Any]:
    given = change.model_dump(include=change.model_fields_set | {"employee_id", "display_name", "email"})
    base = current.record() if current is not None else {}
    merged = {**base, **given}
    if not merged.get("user_name"):
        merged["user_name"] = str(merged["email"])
    merged["email"] = str(merged["email"])
    merged["languages"] = list(merged.get("languages") or [])
    return {f: merged.get(f, _DEFAULTS.get(f)) for f in RECORD_FIELDS}


_DEFAULTS: dict[str, Any] = {f.name: f.default for f in fields(Employee) if f.default is not MISSING}


def decide(
    current: Employee | None,
    change: Change,
    *,
    revision: int,
    origin: Origin,
    effective_at: datetime,
    source_event_id: str | None = None,
) -> list[DirectoryEvent]:
    """The events one change makes against the record as it stands (none when nothing changes).

    `revision` is the tenant's directory revision before the change; every event that changes the record
    takes the next one.
    """
    meta: dict[str, Any] = {"origin": origin, "effective_at": effective_at, "source_event_id": source_event_id}
    employee_id = change.record.employee_id if isinstance(change, Upsert) else change.employee_id
    if current is not None and effective_at < current.effective_at:
        return [
            EmployeeChangeIgnored(
                employee_id=employee_id, revision=max(revision, 1), record_effective_at=current.effective_at, **meta
            )
        ]
    if isinstance(change, Renumber):
        if current is None:
            raise NotFound(f"employee {employee_id} is not in the directory", field="employee_id")
        if change.new_employee_id == employee_id:
            return []
        return [
            EmployeeRenumbered(
                **{**current.record(), "employee_id": change.new_employee_id},
                previous_employee_id=employee_id,
                revision=revision + 1,
                **meta,
            )
        ]
    if isinstance(change, Leave):
        if current is None:
            raise NotFound(f"employee {employee_id} is not in the directory", field="employee_id")
        if current.status == "left":
            return []
        return [EmployeeLeft(employee_id=employee_id, revision=revision + 1, left_on=change.left_on, **meta)]
    record = _merged(current, change.record)
    leaving = record["status"] == "left"
    if leaving:
        record["left_on"] = record["left_on"] or effective_at.date()
    if current is None:
        return [EmployeeHired(**record, revision=revision + 1, **meta)]
    if current.status == "left" and not leaving:
        return [EmployeeHired(**{**record, "left_on": None}, revision=revision + 1, rehired=True, **meta)]
    before = current.record()
    events: list[DirectoryEvent] = []
    if leaving and current.status != "left":  # any other change first, then the leave as its own event
        left_on = record["left_on"]
        record = {**record, "status": current.status, "left_on": current.left_on}
        changed = [f for f in RECORD_FIELDS if record[f] != before[f]]
        if changed:
            events.append(EmployeeUpdated(**record, changed=changed, revision=revision + 1, **meta))
        events.append(
            EmployeeLeft(employee_id=employee_id, revision=revision + len(events) + 1, left_on=left_on, **meta)
        )
        return events
    changed = [f for f in RECORD_FIELDS if record[f] != before[f]]
    if changed:
        events.append(EmployeeUpdated(**record, changed=changed, revision=revision + 1, **meta))
    return events


def evolve(current: Employee | None, event: DirectoryEvent) -> Employee | None:
    """The record after one event. The only place a directory history is folded."""
    if isinstance(event, EmployeeChangeIgnored):
        return current
    if isinstance(event, EmployeeLeft):
        if current is None:
            return None
        return replace(
            current, status="left", left_on=event.left_on, effective_at=event.effective_at, revision=event.revision
        )
    data = event.model_dump(include=set(RECORD_FIELDS))
    data["languages"] = tuple(data["languages"])
    return Employee(**data, effective_at=event.effective_at, revision=event.revision)


def changed_fields(before: Employee | None, after: Employee | None) -> set[str]:
    if before is None or after is None:
        return set(RECORD_FIELDS)
    return {f for f in RECORD_FIELDS if getattr(before, f) != getattr(after, f)}


# --- what a participant takes from the directory -----------------------------------------------------


def participant_profile(employee: Employee) -> dict[str, Any]:
    """The directory's part of a participant profile. Raises InvalidInput for what matching needs and the
    directory lacks, naming the field and where to set it."""
    missing = [
        name
        for name, value in (
            ("department", employee.department),
            ("grade", employee.grade),
            ("languages", employee.languages),
        )
        if value in (None, "", ())
    ]
    if missing:
        raise InvalidInput(
            f"the directory has no {' or '.join(missing)} for employee {employee.employee_id}; "
            "the HR platform sets it (SCIM, HR event or file)",
            field=missing[0],
        )
    if employee.status == "left":
        raise InvalidInput(f"employee {employee.employee_id} has left the company", field="employee_id")
    return {
        "display_name": employee.display_name,
        "email": employee.email,
        "locale": supported_locale(employee.locale),
        "department": employee.department,
        "grade": employee.grade,
        "manager_employee_id": employee.manager_employee_id,
        "location": employee.location,
        "timezone": employee.timezone,
        "languages": list(employee.languages),
    }
