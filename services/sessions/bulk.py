"""The sessions projection's bulk replay path: fold events in memory, then COPY the tables.

It produces exactly the rows the per-event handlers in projection.py produce for the same events in the
same order (a test replays one stream both ways and diffs them): the same upserts, the same updates that
change nothing when the row is missing, and the same rejections where a handler's insert would violate a
primary key (the live consumer dead-letters those events; replay skips them). Every row names the event's
tenant and every key starts with it, as in the tables.
"""

from __future__ import annotations

import json
from typing import Any

from services.sessions.projection import FEEDBACK_FIELDS, PAIR_STATE, began
from shared.db import Conn
from shared.events import Envelope
from shared.events import pairing as p
from shared.events import sessions as s

COLUMNS: dict[str, tuple[str, ...]] = {
    "programmes": (
        "tenant",
        "programme_id",
        "name",
        "starts_on",
        "ends_on",
        "cadence_days",
        "focus_topics",
        "closed",
        "min_group_size",
    ),
    "participants": (
        "tenant",
        "participant_id",
        "programme_id",
        "role",
        "display_name",
        "email",
        "withdrawn",
        "employee_id",
    ),
    "pairs": ("tenant", "pair_id", "programme_id", "mentor_id", "mentee_id", "state", "created_at", "updated_at"),
    "pair_changes": ("tenant", "event_id", "pair_id", "at", "kind"),
    "agreements": (
        "tenant",
        "pair_id",
        "participant_id",
        "role",
        "meeting_rhythm",
        "confidentiality",
        "learning_focus",
        "confirmed_at",
    ),
    "goals": ("tenant", "goal_id", "pair_id", "programme_id", "topic", "description", "set_at", "achieved_at"),
    "confidence": ("tenant", "pair_id", "programme_id", "participant_id", "phase", "ratings", "rated_at"),
    "sessions": (
        "tenant",
        "session_id",
        "pair_id",
        "programme_id",
        "starts_at",
        "duration_minutes",
        "agenda",
        "sequence",
        "status",
        "cancel_reason",
        "held_at",
        "minutes",
        "topics",
        "tools",
        "action_items",
        "updated_at",
    ),
    "feedback": ("tenant", *FEEDBACK_FIELDS, "submitted_at"),
}


class SessionsBulk:
    def __init__(self) -> None:
        self.tables: dict[str, dict[Any, dict[str, Any]]] = {name: {} for name in COLUMNS}

    def apply(self, env: Envelope[Any]) -> bool:
        """Fold one event; False where the per-event handler would have been rejected."""
        t, e, at, tenant = env.type, env.data, env.time, env.tenant
        rows = self.tables
        if t == p.ProgramLaunched.TYPE:
            key: tuple[str, ...] = (tenant, e.programme_id)
            old = rows["programmes"].get(key)
            rows["programmes"][key] = {
                "tenant": tenant, "programme_id": e.programme_id, "name": e.name, "starts_on": e.starts_on,
                "ends_on": e.ends_on, "cadence_days": e.cadence_days, "focus_topics": list(e.focus_topics),
                "closed": old["closed"] if old else False, "min_group_size": e.min_group_size,
            }  # fmt: skip
        elif t == p.ProgramClosed.TYPE:
            key = (tenant, e.programme_id)
            if key in rows["programmes"]:
                rows["programmes"][key]["closed"] = True
        elif t in (p.ParticipantEnrolled.TYPE, p.ParticipantUpdated.TYPE):
            key = (tenant, e.participant_id)
            old = rows["participants"].get(key)
            if old:
                old.update(display_name=e.display_name, email=str(e.email), employee_id=e.employee_id)
            else:
                rows["participants"][key] = {
                    "tenant": tenant, "participant_id": e.participant_id, "programme_id": e.programme_id,
                    "role": e.role, "display_name": e.display_name, "email": str(e.email), "withdrawn": False,
                    "employee_id": e.employee_id,
                }  # fmt: skip
        elif t == p.ParticipantWithdrew.TYPE:
            key = (tenant, e.participant_id)
            if key in rows["participants"]:
                rows["participants"][key]["withdrawn"] = True
        elif t == p.PairCreated.TYPE:
            key = (tenant, e.pair_id)
            if key not in rows["pairs"]:
                start = began(e, env)
                rows["pairs"][key] = {"tenant": tenant, "pair_id": e.pair_id, "programme_id": e.programme_id,
                                      "mentor_id": e.mentor_id, "mentee_id": e.mentee_id, "state": "active",
                                      "created_at": start, "updated_at": start}  # fmt: skip
        elif t in PAIR_STATE:
            kind = PAIR_STATE[t]
            if (tenant, env.id) in rows["pair_changes"]:
                return False
            pair = rows["pairs"].get((tenant, e.pair_id))
            if pair:
                pair.update(state="active" if kind == "resumed" else kind, updated_at=at)
            rows["pair_changes"][(tenant, env.id)] = {"tenant": tenant, "event_id": env.id, "pair_id": e.pair_id,
                                                      "at": at, "kind": kind}  # fmt: skip
        elif t == s.AgreementConfirmed.TYPE:
            key = (tenant, e.pair_id, e.role)
            if key in rows["agreements"]:
                return False
            rows["agreements"][key] = {"tenant": tenant, "pair_id": e.pair_id, "participant_id": e.participant_id,
                                       "role": e.role, "meeting_rhythm": e.meeting_rhythm,
                                       "confidentiality": e.confidentiality, "learning_focus": e.learning_focus,
                                       "confirmed_at": at}  # fmt: skip
        elif t == s.GoalSet.TYPE:
            key = (tenant, e.goal_id)
            old = rows["goals"].get(key)
            if old:
                old.update(topic=e.topic, description=e.description, set_at=at)
            else:
                rows["goals"][key] = {"tenant": tenant, "goal_id": e.goal_id, "pair_id": e.pair_id,
                                      "programme_id": e.programme_id, "topic": e.topic, "description": e.description,
                                      "set_at": at, "achieved_at": None}  # fmt: skip
        elif t == s.GoalAchieved.TYPE:
            key = (tenant, e.goal_id)
            if key in rows["goals"]:
                rows["goals"][key]["achieved_at"] = at
        elif t == s.ConfidenceRated.TYPE:
            key = (tenant, e.pair_id, e.participant_id, e.phase)
            if key in rows["confidence"]:
                return False
            rows["confidence"][key] = {"tenant": tenant, "pair_id": e.pair_id, "programme_id": e.programme_id,
                                       "participant_id": e.participant_id, "phase": e.phase,
                                       "ratings": dict(e.ratings), "rated_at": at}  # fmt: skip
        elif t == s.SessionScheduled.TYPE:
            key = (tenant, e.session_id)
            if key in rows["sessions"]:
                return False
            rows["sessions"][key] = {
                "tenant": tenant, "session_id": e.session_id, "pair_id": e.pair_id, "programme_id": e.programme_id,
                "starts_at": e.starts_at, "duration_minutes": e.duration_minutes, "agenda": e.agenda,
                "sequence": e.sequence, "status": "scheduled", "cancel_reason": "", "held_at": None, "minutes": None,
                "topics": [], "tools": [], "action_items": [], "updated_at": at,
            }  # fmt: skip
        elif t in (s.SessionRescheduled.TYPE, s.SessionCancelled.TYPE, s.SessionLogged.TYPE):
            row = rows["sessions"].get((tenant, e.session_id))
            if row is None:
                return True
            if t == s.SessionRescheduled.TYPE:
                row.update(starts_at=e.starts_at, duration_minutes=e.duration_minutes, sequence=e.sequence)
            elif t == s.SessionCancelled.TYPE:
                row.update(status="cancelled", cancel_reason=e.reason, sequence=e.sequence)
            else:
                row.update(status="held", held_at=e.held_at, minutes=e.minutes, topics=list(e.topics),
                           tools=list(e.tools), action_items=list(e.action_items))  # fmt: skip
            row["updated_at"] = at
        elif t == s.FeedbackSubmitted.TYPE:
            key = (tenant, e.feedback_id)
            if key in rows["feedback"]:
                return False
            rows["feedback"][key] = {"tenant": tenant, **{c: getattr(e, c) for c in FEEDBACK_FIELDS},
                                     "submitted_at": at}  # fmt: skip
        return True

    def handles(self, event_type: str) -> bool:
        return event_type in HANDLED

    async def flush(self, conn: Conn, schema: str) -> None:
        """Write everything folded so far into the rebuild schema (replacing what an earlier flush wrote)."""
        async with conn.transaction():
            for table, columns in COLUMNS.items():
                await conn.execute(f'TRUNCATE "{schema}"."{table}"')
                records = [tuple(row[c] for c in columns) for row in self.tables[table].values()]
                if not records:
                    continue
                if table in JSONB:  # binary COPY has no jsonb encoder: copy text, then cast
                    await conn.execute(f'CREATE TEMP TABLE bulk_{table} (LIKE "{schema}"."{table}") ON COMMIT DROP')
                    for column in JSONB[table]:
                        await conn.execute(f"ALTER TABLE bulk_{table} ALTER COLUMN {column} TYPE text")
                    records = [
                        tuple(json.dumps(v) if columns[i] in JSONB[table] else v for i, v in enumerate(r))
                        for r in records
                    ]
                    await conn.copy_records_to_table(f"bulk_{table}", columns=list(columns), records=records)
                    select = ", ".join(f"{c}::jsonb" if c in JSONB[table] else c for c in columns)
                    await conn.execute(f'INSERT INTO "{schema}"."{table}" ({", ".join(columns)}) '
                                       f"SELECT {select} FROM bulk_{table}")  # fmt: skip
                    continue
                await conn.copy_records_to_table(table, schema_name=schema, columns=list(columns), records=records)


JSONB = {"confidence": ("ratings",)}

HANDLED = frozenset(
    {p.ProgramLaunched.TYPE, p.ProgramClosed.TYPE, p.ParticipantEnrolled.TYPE, p.ParticipantUpdated.TYPE,
     p.ParticipantWithdrew.TYPE, p.PairCreated.TYPE, *PAIR_STATE, *(m.TYPE for m in s.SESSIONS_EVENTS)}
)  # fmt: skip
