"""Inbound events from the enterprise HR platform (CloudEvents on the inbound topic).

These are what an HR platform (Workday, SuccessFactors and the like, through their integration layer)
publishes. The pairing service consumes them into the employee directory, whose own history is
`shared.events.directory`. The CloudEvent `time` is when the change took effect at the HR platform: an
event older than the stored record is ignored (and recorded as such).
"""

from __future__ import annotations

from datetime import date
from typing import ClassVar, Literal

from pydantic import EmailStr, Field

from shared.events.base import EventPayload
from shared.events.common import Id

SOURCE = "/hr-platform"


class _Employee(EventPayload):
    SOURCE: ClassVar[str] = SOURCE
    SUBJECT_FIELD: ClassVar[str] = "employee_id"

    employee_id: Id


class EmployeeRecord(_Employee):
    PERSONAL_DATA: ClassVar[bool] = True

    display_name: str = Field(min_length=1, max_length=200)
    email: EmailStr
    department: str
    grade: int = Field(ge=0, le=30)
    manager_employee_id: str | None = None
    location: str | None = None
    timezone: str = "UTC"
    languages: list[str] = Field(default_factory=list, description="BCP 47 language tags, e.g. 'de', 'en-GB'.")
    locale: str = Field(default="en", description="BCP 47 tag of the preferred locale, e.g. 'de-DE'.")
    external_id: str | None = Field(default=None, description="The HR platform's own id of the person.")
    user_name: str | None = Field(default=None, description="Sign-in name; the e-mail when absent.")


class EmployeeHired(EmployeeRecord):
    """A new employee, or a re-hire of one who left."""

    TYPE: ClassVar[str] = "tandem.hr.EmployeeHired"
    WHOLE_RECORD: ClassVar[bool] = True

    hired_on: date | None = None


class EmployeeUpdated(EmployeeRecord):
    """Transfer, manager change, leave of absence and return: the full new record.

    Version history: v1 said `on_leave: bool`; v2 says `status` ("active" or "on_leave").
    """

    TYPE: ClassVar[str] = "tandem.hr.EmployeeUpdated"
    WHOLE_RECORD: ClassVar[bool] = True
    VERSION: ClassVar[int] = 2

    status: Literal["active", "on_leave"] = "active"


class EmployeeLeft(_Employee):
    TYPE: ClassVar[str] = "tandem.hr.EmployeeLeft"

    left_on: date


HR_EVENTS: tuple[type[EventPayload], ...] = (EmployeeHired, EmployeeUpdated, EmployeeLeft)
