"""The employee directory's history: what Tandem recorded about every employee of a tenant, and when.

Three ways in (SCIM 2.0, HR events on the inbound topic, a full-file sync) become these events, written
by the pairing service through its outbox, so the log is the org chart's history: "who was X's manager
on date Y" is a fold of it. Each event carries the tenant's directory `revision` after the change (a
match run records the revision it used) and the time the change took effect at the source.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import ClassVar, Literal

from pydantic import Field

from shared.events.base import EventPayload
from shared.events.common import Id

SOURCE = "/tandem/directory"

EmployeeStatus = Literal["active", "on_leave", "left"]
#: Where a change came from: the SCIM endpoint, an HR event on the inbound topic, a full-file sync.
Origin = Literal["scim", "hr_event", "file"]


class _DirectoryEvent(EventPayload):
    SOURCE: ClassVar[str] = SOURCE
    SUBJECT_FIELD: ClassVar[str] = "employee_id"

    employee_id: Id
    revision: int = Field(ge=1, description="The tenant's directory revision after this change.")
    origin: Origin
    effective_at: datetime = Field(description="When the change took effect at its source (the source's clock).")
    source_event_id: str | None = Field(default=None, description="The inbound HR event or file it came from.")


class EmployeeData(_DirectoryEvent):
    """The whole record as it stands after the change."""

    PERSONAL_FIELDS: ClassVar[dict[str, str]] = {
        "user_name": "identity:employee_id",
        "display_name": "identity:employee_id",
        "email": "identity:employee_id",
    }

    PERSONAL_DATA: ClassVar[bool] = True

    external_id: str | None = None
    user_name: str = Field(min_length=1, max_length=300)
    display_name: str = Field(min_length=1, max_length=200)
    email: str = Field(min_length=3, max_length=320)
    department: str | None = None
    grade: int | None = Field(default=None, ge=0, le=30)
    manager_employee_id: str | None = None
    location: str | None = None
    timezone: str = "UTC"
    languages: list[str] = Field(default_factory=list, description="BCP 47 tags, normalised (e.g. 'de-CH').")
    locale: str = Field(default="en", description="BCP 47 tag of the person's preferred locale.")
    status: EmployeeStatus = "active"
    hired_on: date | None = None
    left_on: date | None = None


class EmployeeHired(EmployeeData):
    """A new employee, or one who left and came back (`rehired`)."""

    TYPE: ClassVar[str] = "tandem.directory.EmployeeHired"
    WHOLE_RECORD: ClassVar[bool] = True

    rehired: bool = False


class EmployeeUpdated(EmployeeData):
    """Any change of an employee's record: transfer, manager change, leave of absence and return."""

    TYPE: ClassVar[str] = "tandem.directory.EmployeeUpdated"
    WHOLE_RECORD: ClassVar[bool] = True

    changed: list[str] = Field(description="The fields that changed.")


class EmployeeRenumbered(EmployeeData):
    """The HR platform gave the employee a new employee id (e.g. after a merger): the record, now under the
    new id. Whoever named the old id as manager gets an EmployeeUpdated; enrolments follow."""

    TYPE: ClassVar[str] = "tandem.directory.EmployeeRenumbered"

    previous_employee_id: Id


class EmployeeLeft(_DirectoryEvent):
    TYPE: ClassVar[str] = "tandem.directory.EmployeeLeft"

    left_on: date


class EmployeeChangeIgnored(_DirectoryEvent):
    """A change older than the record it would overwrite: kept out of the directory, kept in the log."""

    TYPE: ClassVar[str] = "tandem.directory.EmployeeChangeIgnored"

    reason: Literal["stale"] = "stale"
    record_effective_at: datetime = Field(description="When the record's current state took effect.")


DIRECTORY_EVENTS: tuple[type[EventPayload], ...] = (
    EmployeeHired,
    EmployeeUpdated,
    EmployeeRenumbered,
    EmployeeLeft,
    EmployeeChangeIgnored,
)
