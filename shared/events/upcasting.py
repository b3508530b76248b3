"""Upcasters: old payload versions are turned into the current one on read, one step at a time.

Each upcaster takes the JSON `data` of version N and returns version N+1. `upcast` chains them up to the
model's current VERSION. Stored events are never rewritten: the log keeps what was said, and readers
see it in today's shape.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shared.events.registry import model_for

Data = dict[str, Any]
Upcaster = Callable[[Data], Data]

UPCASTERS: dict[tuple[str, int], Upcaster] = {}


class UpcastError(ValueError):
    pass


def upcaster(event_type: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
    def register(fn: Upcaster) -> Upcaster:
        key = (event_type, from_version)
        if key in UPCASTERS:
            raise RuntimeError(f"two upcasters for {event_type} v{from_version}")
        UPCASTERS[key] = fn
        return fn

    return register


def upcast(event_type: str, version: int, data: Data) -> Data:
    """Bring `data` of `event_type` at `version` up to the current version of its model."""
    current = model_for(event_type).VERSION
    if version > current:
        raise UpcastError(f"{event_type} schema version {version} is newer than this reader (v{current})")
    while version < current:
        step = UPCASTERS.get((event_type, version))
        if step is None:
            raise UpcastError(f"no upcaster for {event_type} from v{version} to v{version + 1}")
        data = step(dict(data))
        version += 1
    return data


# --- ParticipantEnrolled -------------------------------------------------------------------------

_ENROLLED = "tandem.pairing.ParticipantEnrolled"


@upcaster(_ENROLLED, 1)
def _enrolled_v1_to_v2(data: Data) -> Data:
    """v1 had `name` and a single `language`; v2 has `display_name` and a list of `languages`."""
    data["display_name"] = data.pop("name")
    language = data.pop("language", None)
    data["languages"] = [language] if language else ["en"]
    return data


@upcaster(_ENROLLED, 2)
def _enrolled_v2_to_v3(data: Data) -> Data:
    """v2 had one flat `topics` list; v3 has levels (mentors) or priorities (mentees), default 2."""
    topics = data.pop("topics", [])
    field = "teach_topics" if data.get("role") == "mentor" else "learn_topics"
    data[field] = {topic: 2 for topic in topics}
    return data


# --- HR inbound: EmployeeUpdated --------------------------------------------------------------------


@upcaster("tandem.hr.EmployeeUpdated", 1)
def _hr_updated_v1_to_v2(data: Data) -> Data:
    """v1 had `on_leave: bool`; v2 has `status`: "on_leave" or "active"."""
    data["status"] = "on_leave" if data.pop("on_leave", False) else "active"
    return data


# --- MatchRunCompleted -----------------------------------------------------------------------------


@upcaster("tandem.pairing.MatchRunCompleted", 1)
def _match_run_v1_to_v2(data: Data) -> Data:
    """v1 did not record which directory the reporting-line rule read."""
    data.setdefault("directory_revision", None)
    data.setdefault("org_chart_hash", None)
    return data
