"""Value types shared by several events."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

Role = Literal["mentor", "mentee"]
Locale = Literal["de", "en"]
PairEndReason = Literal["completed", "rematched", "withdrawn", "left_company", "by_hr"]

_TOPIC = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


def _topic(value: str) -> str:
    if not _TOPIC.match(value):
        raise ValueError(f"AI topic {value!r} must be a lowercase slug such as 'prompt-writing'")
    return value


#: An AI topic slug, e.g. "prompt-writing", "office-copilots", "data-analysis", "ai-agents", "ai-risk-policy".
Topic = Annotated[str, AfterValidator(_topic)]
Level = Annotated[int, Field(ge=1, le=3)]
Id = Annotated[str, Field(min_length=1, max_length=100)]
#: An id a client chooses (HTTP input): letters and digits first, then also . _ : @ + - (see shared.http).
SafeId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@+-]{0,99}$", max_length=100)]

_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")


def _hhmm(value: str) -> str:
    if not _HHMM.match(value):
        raise ValueError(f"time {value!r} must be HH:MM")
    return value


class AvailabilityWindow(BaseModel):
    """A weekly window in the participant's own time zone (weekday 0 = Monday)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    weekday: int = Field(ge=0, le=6)
    start: Annotated[str, AfterValidator(_hhmm)]
    end: Annotated[str, AfterValidator(_hhmm)]
