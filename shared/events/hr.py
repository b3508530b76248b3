"""Inbound events from the enterprise HR platform (CloudEvents on the inbound topic, or via SCIM)."""

from __future__ import annotations

from datetime import date
from typing import ClassVar

from pydantic import EmailStr, Field

from shared.events.base import EventPayload
from shared.events.common import Id, Locale

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
    languages: list[str] = Field(default_factory=list)
    locale: Locale = "en"


class EmployeeHired(EmployeeRecord):
    TYPE: ClassVar[str] = "tandem.hr.EmployeeHired"


class EmployeeUpdated(EmployeeRecord):
    """Transfer, manager change, leave of absence: the full new record."""

    TYPE: ClassVar[str] = "tandem.hr.EmployeeUpdated"

    on_leave: bool = False


class EmployeeLeft(_Employee):
    TYPE: ClassVar[str] = "tandem.hr.EmployeeLeft"

    left_on: date


HR_EVENTS: tuple[type[EventPayload], ...] = (EmployeeHired, EmployeeUpdated, EmployeeLeft)
