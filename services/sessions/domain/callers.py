"""What each caller may reach and see in the sessions service. Pure: no I/O.

The access matrix (api/access.py) says which roles may call a route; these rules say what a caller who
got in reaches through it:

* Own records: on a route marked `own`, a caller who gets in only as a participant (none of the route's
  other roles, such as hr or auditor) reaches only pairs where they are the mentor or the mentee, and the
  sessions of those pairs. Anything else answers exactly as an unknown id (404), so nobody learns which ids
  exist. They are known by the employee id of their token, matched to the participants of their tenant (one
  employee has one participant id per programme they are enrolled in).
* Acting as oneself: such a caller gives feedback, confirms an agreement and rates confidence only as one
  of their own participant ids (403 naming the field otherwise). HR may act for either side.
* Confidential comments: shown to their author and to HR (of the pair's tenant: another tenant never
  finds the pair). Never to the other side of the pair, never to an auditor.
* Names of the people in at-risk pairs: HR only.
* Who did it: an access record names the role the caller acted in (the first of hr, auditor, operator,
  integration, participant that both the caller and the route have).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from services.sessions.domain.model import PairView
from shared.auth import Forbidden

PARTICIPANT = "participant"
HR = "hr"
#: The order in which a caller's roles name what they acted as.
ROLE_ORDER = ("hr", "auditor", "operator", "integration", "participant")


def only_as_participant(roles: frozenset[str], route_roles: frozenset[str]) -> bool:
    """True when the caller reaches the route only through the participant role: then only their own records."""
    return PARTICIPANT in roles and not (roles & (route_roles - {PARTICIPANT}))


def is_member(pair: PairView, own_ids: Iterable[str]) -> bool:
    """Whether one of the caller's participant ids is the pair's mentor or mentee."""
    return bool({pair.mentor_id, pair.mentee_id} & set(own_ids))


def check_acting_as(field: str, participant_id: str, own_ids: frozenset[str]) -> None:
    """A participant acts only as themselves: `participant_id` (from `field`) must be one of their ids."""
    if participant_id not in own_ids:
        raise Forbidden(
            f"{field} {participant_id} is not you: a participant acts only as themselves", field=field, code="not_you"
        )


def sees_confidential(roles: frozenset[str], own_ids: frozenset[str], author_id: str) -> bool:
    """HR and the comment's author see a confidential comment; nobody else (an auditor never)."""
    return HR in roles or author_id in own_ids


def redact_feedback(
    rows: Iterable[Mapping[str, Any]], roles: frozenset[str], own_ids: frozenset[str]
) -> tuple[list[dict[str, Any]], int]:
    """The feedback as this caller may see it, and how many confidential comments it shows them that are not
    their own (what an access record is kept for)."""
    out: list[dict[str, Any]] = []
    others = 0
    for row in rows:
        item = dict(row)
        if item.get("confidential_comment") is not None:
            if not sees_confidential(roles, own_ids, str(item["author_id"])):
                item["confidential_comment"] = None
            elif item["author_id"] not in own_ids:
                others += 1
        out.append(item)
    return out, others


def sees_names(roles: frozenset[str]) -> bool:
    """Who may see the names of the people in at-risk pairs."""
    return HR in roles


def acting_role(roles: frozenset[str], route_roles: frozenset[str]) -> str:
    """The role a caller acted in on a route (for access records)."""
    for role in ROLE_ORDER:
        if role in roles and role in route_roles:
            return role
    return ", ".join(sorted(roles)) or "none"
