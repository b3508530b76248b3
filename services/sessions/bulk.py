"""The sessions projection's bulk replay path: fold events in memory, then COPY the tables.

It produces exactly the rows the per-event handlers in projection.py produce for the same events in the
same order (a test replays one stream both ways and diffs them): a pair's entities are evolved by the
same domain functions (`evolve_pair`, `evolve_goal`, `evolve_session`, `record`) and written by the same
row functions (rows.py), with the same rejections where a handler's insert would violate a primary key
(the live consumer dead-letters those events; replay skips them). Every row names the event's
tenant and every key starts with it, as in the tables.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from services.sessions import personal_data
from services.sessions import projection_repository as repo
from services.sessions import rows as r
from services.sessions.domain import model as m
from services.sessions.domain import references as ref
from services.sessions.domain.errors import Conflict
from services.sessions.domain.references import ParticipantView, ProgrammeView
from services.sessions.projection import PAIR_STATE
from services.sessions.rows import COLUMNS
from shared.db import Conn
from shared.events import Envelope
from shared.events import pairing as p
from shared.events import sessions as s


class SessionsBulk:
    def __init__(self) -> None:
        #: pair changes (a log) as rows; everything else as the domain's entities, by their table's key
        self.tables: dict[str, dict[Any, dict[str, Any]]] = {"pair_changes": {}}
        self.programmes: dict[tuple[str, ...], ProgrammeView] = {}
        self.participants: dict[tuple[str, ...], ParticipantView] = {}
        self.pairs: dict[tuple[str, str], m.PairView] = {}
        self.agreements: dict[tuple[str, str, str], m.Recorded[s.AgreementConfirmed]] = {}
        self.goals: dict[tuple[str, str], m.Goal] = {}
        self.confidence: dict[tuple[str, str, str, str], m.Recorded[s.ConfidenceRated]] = {}
        self.sessions: dict[tuple[str, str], m.Session] = {}
        self.feedback: dict[tuple[str, str], m.Recorded[s.FeedbackSubmitted]] = {}
        #: erasures and expiries, applied to the written tables (they only scrub what is there)
        self.scrubs: list[Envelope[Any]] = []

    def apply(self, env: Envelope[Any]) -> bool:
        """Fold one event; False where the per-event handler would have been rejected."""
        try:
            self._apply(env)
        except Conflict:  # recorded twice: the per-event handler's insert breaks the table's key
            return False
        return True

    def _apply(self, env: Envelope[Any]) -> None:
        t, e, at, tenant = env.type, env.data, env.time, env.tenant
        changes = self.tables["pair_changes"]
        if t in SCRUBS:
            self.scrubs.append(env)
            return
        if t in (p.ProgramLaunched.TYPE, p.ProgramClosed.TYPE):
            key: tuple[str, ...] = (tenant, e.programme_id)
            _put(self.programmes, key, ref.evolve_programme(self.programmes.get(key), e))
        elif t in (p.ParticipantEnrolled.TYPE, p.ParticipantUpdated.TYPE, p.ParticipantWithdrew.TYPE):
            key = (tenant, e.participant_id)
            _put(self.participants, key, ref.evolve_participant(self.participants.get(key), e))
        elif t == p.PairCreated.TYPE or t in PAIR_STATE:
            if t in PAIR_STATE:
                if (tenant, env.id) in changes:
                    raise Conflict(f"pair change {env.id} is already recorded")
                changes[(tenant, env.id)] = {
                    "tenant": tenant,
                    "event_id": env.id,
                    "pair_id": e.pair_id,
                    "at": at,
                    "kind": PAIR_STATE[t],
                }
            _put(self.pairs, (tenant, e.pair_id), m.evolve_pair(self.pairs.get((tenant, e.pair_id)), e, at))
        elif t == s.AgreementConfirmed.TYPE:
            key = (tenant, e.pair_id, e.role)
            self.agreements[key] = m.record(self.agreements.get(key), e, at, "agreement", env.id)
        elif t in (s.GoalSet.TYPE, s.GoalAchieved.TYPE):
            key = (tenant, e.goal_id)
            _put(self.goals, key, m.evolve_goal(self.goals.get(key), e, at))
        elif t == s.ConfidenceRated.TYPE:
            key = (tenant, e.pair_id, e.participant_id, e.phase)
            self.confidence[key] = m.record(self.confidence.get(key), e, at, "confidence", env.id)
        elif t in SESSION_TYPES:
            key = (tenant, e.session_id)
            _put(self.sessions, key, m.evolve_session(self.sessions.get(key), e, at))
        elif t == s.FeedbackSubmitted.TYPE:
            key = (tenant, e.feedback_id)
            self.feedback[key] = m.record(self.feedback.get(key), e, at, "feedback", env.id)

    def rows(self, table: str) -> list[dict[str, Any]]:
        """The rows of one table as folded so far."""
        if table in self.tables:
            return list(self.tables[table].values())
        entities: dict[Any, Any] = getattr(self, table)
        row = _ROW[table]
        return [row(key[0], entity) for key, entity in entities.items()]

    def handles(self, event_type: str) -> bool:
        return event_type in HANDLED

    async def flush(self, conn: Conn, schema: str) -> None:
        """Write everything folded so far into the rebuild schema (replacing what an earlier flush wrote)."""
        await repo.replace_tables(conn, schema, ((table, self.rows(table)) for table in COLUMNS))
        if self.scrubs:  # the same statements as the per-event handler, in the rebuild schema
            async with conn.transaction():
                await repo.use_schema(conn, schema)
                for env in self.scrubs:
                    await personal_data.scrub(conn, env)


#: Erasure and retention: scrubs of what the tables hold (personal_data.scrub).
SCRUBS = frozenset({p.SubjectErased.TYPE, p.FreeTextExpired.TYPE})

SESSION_TYPES = frozenset(
    {s.SessionScheduled.TYPE, s.SessionRescheduled.TYPE, s.SessionCancelled.TYPE, s.SessionLogged.TYPE}
)

_ROW: dict[str, Callable[[str, Any], dict[str, Any]]] = {
    "programmes": r.programme_row,
    "participants": r.participant_row,
    "pairs": r.pair_row,
    "agreements": r.agreement_row,
    "goals": r.goal_row,
    "confidence": r.confidence_row,
    "sessions": r.session_row,
    "feedback": r.feedback_row,
}
_K = TypeVar("_K")
_V = TypeVar("_V")


def _put(entities: dict[_K, _V], key: _K, entity: _V | None) -> None:
    if entity is not None:
        entities[key] = entity


HANDLED = frozenset(
    {
        p.ProgramLaunched.TYPE,
        p.ProgramClosed.TYPE,
        p.ParticipantEnrolled.TYPE,
        p.ParticipantUpdated.TYPE,
        p.ParticipantWithdrew.TYPE,
        p.PairCreated.TYPE,
        *PAIR_STATE,
        *(ev.TYPE for ev in s.SESSIONS_EVENTS),
        *SCRUBS,
    }
)
