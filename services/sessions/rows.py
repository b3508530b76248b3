"""The rows of the sessions read model: each is an entity of the sessions domain in one tenant (a pair's
`PairView`, `Goal`, `Session`, a `Recorded` agreement, confidence check or feedback; a `ProgrammeView` or a
`ParticipantView`); only pair_changes is a log of events rather than a state.

Both ways of building the read model (per event in projection.py, in bulk in bulk.py) evolve these
entities with the domain's own `evolve_*` functions and write them through the functions here, so they
cannot drift apart, nor from the aggregate or the audit, which fold the very same way.
"""

from __future__ import annotations

from typing import Any

from services.sessions.domain.model import Goal, PairView, Recorded, Session
from services.sessions.domain.references import ParticipantView, ProgrammeView
from shared.events import sessions as s

#: The columns of a feedback row that come from the event as they are (then `submitted_at`, its time).
FEEDBACK_FIELDS = (
    "feedback_id",
    "pair_id",
    "programme_id",
    "session_id",
    "author_id",
    "author_role",
    "rating",
    "productivity_gain",
    "minutes_saved_per_day",
    "new_business_opportunity",
    "opportunity_text",
    "team_productivity_gain",
    "career_benefit",
    "confidential_comment",
)

#: Each table's columns, in the order of its rows here (the primary key first).
COLUMNS: dict[str, tuple[str, ...]] = {
    "programmes": ("tenant", "programme_id", "name", "starts_on", "ends_on", "cadence_days", "focus_topics", "closed",
                   "min_group_size"),
    "participants": ("tenant", "participant_id", "programme_id", "role", "display_name", "email", "withdrawn",
                     "employee_id", "locale"),
    "pairs": ("tenant", "pair_id", "programme_id", "mentor_id", "mentee_id", "state", "created_at", "updated_at",
              "rationale", "reasons"),
    "pair_changes": ("tenant", "event_id", "pair_id", "at", "kind"),
    "agreements": ("tenant", "pair_id", "participant_id", "role", "meeting_rhythm", "confidentiality",
                   "learning_focus", "confirmed_at"),
    "goals": ("tenant", "goal_id", "pair_id", "programme_id", "topic", "description", "set_at", "achieved_at"),
    "confidence": ("tenant", "pair_id", "programme_id", "participant_id", "phase", "ratings", "rated_at"),
    "sessions": ("tenant", "session_id", "pair_id", "programme_id", "starts_at", "duration_minutes", "agenda",
                 "sequence", "status", "cancel_reason", "held_at", "minutes", "topics", "tools", "action_items",
                 "updated_at"),
    "feedback": ("tenant", *FEEDBACK_FIELDS, "submitted_at"),
}  # fmt: skip

#: The primary key of each table of an evolving entity.
KEYS: dict[str, tuple[str, ...]] = {
    "programmes": ("tenant", "programme_id"),
    "participants": ("tenant", "participant_id"),
    "pairs": ("tenant", "pair_id"),
    "goals": ("tenant", "goal_id"),
    "sessions": ("tenant", "session_id"),
}


def programme_row(tenant: str, programme: ProgrammeView) -> dict[str, Any]:
    return {
        "tenant": tenant,
        "programme_id": programme.programme_id,
        "name": programme.name,
        "starts_on": programme.starts_on,
        "ends_on": programme.ends_on,
        "cadence_days": programme.cadence_days,
        "focus_topics": list(programme.focus_topics),
        "closed": programme.closed,
        "min_group_size": programme.min_group_size,
    }


def programme_of(row: Any) -> ProgrammeView:
    return ProgrammeView(
        row["programme_id"],
        row["name"],
        row["starts_on"],
        row["ends_on"],
        row["cadence_days"],
        tuple(row["focus_topics"]),
        row["closed"],
        row["min_group_size"],
    )


def participant_row(tenant: str, participant: ParticipantView) -> dict[str, Any]:
    return {
        "tenant": tenant,
        "participant_id": participant.participant_id,
        "programme_id": participant.programme_id,
        "role": participant.role,
        "display_name": participant.display_name,
        "email": participant.email,
        "withdrawn": participant.withdrawn,
        "employee_id": participant.employee_id,
        "locale": participant.locale,
    }


def participant_of(row: Any) -> ParticipantView:
    return ParticipantView(
        row["participant_id"],
        row["programme_id"],
        row["role"],
        row["display_name"],
        row["email"],
        row["withdrawn"],
        row["employee_id"],
        row["locale"],
    )


def pair_row(tenant: str, pair: PairView) -> dict[str, Any]:
    return {
        "tenant": tenant,
        "pair_id": pair.pair_id,
        "programme_id": pair.programme_id,
        "mentor_id": pair.mentor_id,
        "mentee_id": pair.mentee_id,
        "state": pair.state,
        "created_at": pair.created_at,
        "updated_at": pair.updated_at,
        "rationale": pair.rationale,
        "reasons": list(pair.reasons),
    }


def pair_of(row: Any) -> PairView:
    return PairView(
        row["pair_id"],
        row["programme_id"],
        row["mentor_id"],
        row["mentee_id"],
        row["state"],
        row["created_at"],
        row["updated_at"],
        row["rationale"],
        tuple(row["reasons"] or ()),
    )


def goal_row(tenant: str, goal: Goal) -> dict[str, Any]:
    return {
        "tenant": tenant,
        "goal_id": goal.goal_id,
        "pair_id": goal.pair_id,
        "programme_id": goal.programme_id,
        "topic": goal.topic,
        "description": goal.description,
        "set_at": goal.set_at,
        "achieved_at": goal.achieved_at,
    }


def goal_of(row: Any) -> Goal:
    return Goal(
        row["goal_id"],
        row["topic"],
        row["description"],
        row["achieved_at"] is not None,
        row["pair_id"],
        row["programme_id"],
        row["set_at"],
        row["achieved_at"],
    )


def session_row(tenant: str, session: Session) -> dict[str, Any]:
    return {
        "tenant": tenant,
        "session_id": session.session_id,
        "pair_id": session.pair_id,
        "programme_id": session.programme_id,
        "starts_at": session.starts_at,
        "duration_minutes": session.duration_minutes,
        "agenda": session.agenda,
        "sequence": session.sequence,
        "status": session.status,
        "cancel_reason": session.cancel_reason,
        "held_at": session.held_at,
        "minutes": session.minutes,
        "topics": list(session.topics),
        "tools": list(session.tools),
        "action_items": list(session.action_items),
        "updated_at": session.updated_at,
    }


def session_of(row: Any) -> Session:
    return Session(
        session_id=row["session_id"],
        pair_id=row["pair_id"],
        programme_id=row["programme_id"],
        starts_at=row["starts_at"],
        duration_minutes=row["duration_minutes"],
        agenda=row["agenda"],
        sequence=row["sequence"],
        status=row["status"],
        cancel_reason=row["cancel_reason"],
        held_at=row["held_at"],
        minutes=row["minutes"],
        topics=tuple(row["topics"]),
        tools=tuple(row["tools"]),
        action_items=tuple(row["action_items"]),
        updated_at=row["updated_at"],
    )


def agreement_row(tenant: str, agreed: Recorded[s.AgreementConfirmed]) -> dict[str, Any]:
    e = agreed.event
    return {
        "tenant": tenant,
        "pair_id": e.pair_id,
        "participant_id": e.participant_id,
        "role": e.role,
        "meeting_rhythm": e.meeting_rhythm,
        "confidentiality": e.confidentiality,
        "learning_focus": e.learning_focus,
        "confirmed_at": agreed.at,
    }


def confidence_row(tenant: str, rated: Recorded[s.ConfidenceRated]) -> dict[str, Any]:
    e = rated.event
    return {
        "tenant": tenant,
        "pair_id": e.pair_id,
        "programme_id": e.programme_id,
        "participant_id": e.participant_id,
        "phase": e.phase,
        "ratings": dict(e.ratings),
        "rated_at": rated.at,
    }


def feedback_row(tenant: str, given: Recorded[s.FeedbackSubmitted]) -> dict[str, Any]:
    return {"tenant": tenant, **{c: getattr(given.event, c) for c in FEEDBACK_FIELDS}, "submitted_at": given.at}


def values(table: str, row: dict[str, Any]) -> list[Any]:
    return [row[c] for c in COLUMNS[table]]
