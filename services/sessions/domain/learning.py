"""Learning records: what a participant's time in a programme amounts to, for the HR platform. Pure: no I/O.

When a participant completes or leaves a programme the sessions service publishes one
`LearningRecorded` for them: programme, role, dates, outcome, sessions held, hours, goals set and
achieved. Facts only, never feedback content.

One record per participant and programme of a tenant: `record_id` is a uuid5 of the three, and the
envelope's event id a uuid5 of the record id, so every trigger for the same participation (a redelivered event, a
programme closing after they completed) names the same record and the same event.

When a participation is over:

* `ParticipantWithdrew`: at once, with its reason as the outcome (withdrawn, left_company, by_hr);
* `PairEnded` with reason "completed": for each member who has no other live (active or paused) pair
  in that programme, outcome completed; a member with another live pair is not done yet;
* `ProgramClosed`: everyone still enrolled and not yet recorded, outcome completed (also those who
  were never paired: no start date, no sessions).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from shared.events.common import Role
from shared.events.pairing import PairEnded
from shared.events.sessions import LearningRecorded

NAMESPACE = uuid.UUID("3898c3d6-d817-4e28-abc2-fa3f9e38eea5")

Outcome = Literal["completed", "withdrawn", "left_company", "by_hr"]


def record_id(tenant: str, participant_id: str, programme_id: str) -> str:
    """The one record of this participant in this programme of this tenant (ids may repeat across tenants)."""
    return str(uuid.uuid5(NAMESPACE, json.dumps(["learning-record", tenant, participant_id, programme_id])))


def event_id(record: str) -> str:
    """The CloudEvent id of the record's `LearningRecorded`: the same on every attempt to record it."""
    return str(uuid.uuid5(NAMESPACE, f"{LearningRecorded.TYPE}|{record}"))


@dataclass(frozen=True)
class Participation:
    """What the read model knows of one participant's time in one programme."""

    tenant: str
    participant_id: str
    #: None for an enrolment the read model took in before it kept employee ids (replay fills it in).
    employee_id: str | None
    programme_id: str
    programme_name: str
    role: Role
    #: When each of their pairs in the programme began.
    pair_starts: tuple[datetime, ...] = ()
    #: Minutes of every session held by those pairs.
    held_minutes: tuple[int, ...] = ()
    goals_set: int = 0
    goals_achieved: int = 0


def hours(minutes: Iterable[int]) -> float:
    """Hours to a tenth, halves rounded up (45 minutes are 0.8 h, never 0.7 by float or banker's rounding)."""
    total = Decimal(sum(minutes)) / Decimal(60)
    return float(total.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def utc_date(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


def completes_on_pair_end(end: PairEnded, other_live_pairs: int) -> bool:
    """A pair ending "completed" completes a member's participation unless another pair of theirs goes on."""
    return end.reason == "completed" and other_live_pairs == 0


def learning_record(participation: Participation, outcome: Outcome, ended_at: datetime) -> LearningRecorded:
    """The record, from the facts and the moment the participation ended (the trigger's time)."""
    p = participation
    if p.employee_id is None:
        raise ValueError(f"participant {p.participant_id} has no known employee id: replay the sessions projection")
    started = min(p.pair_starts) if p.pair_starts else None
    return LearningRecorded(
        record_id=record_id(p.tenant, p.participant_id, p.programme_id),
        participant_id=p.participant_id,
        employee_id=p.employee_id,
        programme_id=p.programme_id,
        programme_name=p.programme_name,
        role=p.role,
        outcome=outcome,
        started_on=utc_date(started) if started is not None else None,
        ended_on=utc_date(ended_at),
        sessions_held=len(p.held_minutes),
        hours=hours(p.held_minutes),
        goals_set=p.goals_set,
        goals_achieved=p.goals_achieved,
    )
