"""The pair aggregate and its state machine: proposed -> active <-> paused -> ended. Pure: no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Literal

from shared.errors import Conflict, InvalidInput
from shared.events.common import PairEndReason
from shared.events.pairing import (
    PairCreated,
    PairDeclined,
    PairEnded,
    PairExtended,
    PairPaused,
    PairProposed,
    PairResumed,
)

PairState = Literal["proposed", "active", "paused", "ended", "declined"]
Origin = Literal["match_run", "manual", "rematch"]


@dataclass(frozen=True)
class Pair:
    pair_id: str
    programme_id: str
    mentor_id: str
    mentee_id: str
    state: PairState = "active"
    score: float | None = None
    rationale: str = ""
    origin: Origin = "manual"
    match_run_id: str | None = None
    end_reason: PairEndReason | None = None
    mentor_consent: bool | None = None
    mentee_consent: bool | None = None
    consent_deadline: datetime | None = None
    warnings: tuple[str, ...] = field(default_factory=tuple)
    extended_until: date | None = None
    started_on: date | None = None

    def created_event(self) -> PairCreated:
        return PairCreated(
            pair_id=self.pair_id,
            programme_id=self.programme_id,
            mentor_id=self.mentor_id,
            mentee_id=self.mentee_id,
            score=self.score,
            rationale=self.rationale,
            origin=self.origin,
            match_run_id=self.match_run_id,
            started_on=self.started_on,
        )

    def consent(
        self, participant_id: str, accept: bool, now: datetime
    ) -> tuple[Pair, list[PairCreated | PairDeclined]]:
        """One side answers a proposal. Both accepting makes the pair; one decline frees both."""
        self._require("answer the proposal of", "proposed")
        if participant_id not in (self.mentor_id, self.mentee_id):
            raise InvalidInput(f"{participant_id} is not part of pair {self.pair_id}", field="participant_id")
        if self.consent_deadline is not None and now > self.consent_deadline:
            raise Conflict(
                f"the consent deadline of pair {self.pair_id} passed at {self.consent_deadline.isoformat()}",
                field="consent_deadline",
                code="deadline_passed",
            )
        if not accept:
            declined, event = self.decline(participant_id)
            return declined, [event]
        answered = (
            replace(self, mentor_consent=True)
            if participant_id == self.mentor_id
            else replace(self, mentee_consent=True)
        )
        if answered.mentor_consent and answered.mentee_consent:
            active = replace(answered, state="active")
            return active, [active.created_event()]
        return answered, []

    def decline(self, by: str, reason: str = "") -> tuple[Pair, PairDeclined]:
        """The proposal is off (declined, or one of them withdrew); both are free for the next run."""
        self._require("decline", "proposed")
        return replace(self, state="declined"), PairDeclined(
            pair_id=self.pair_id, programme_id=self.programme_id, declined_by=by, reason=reason
        )

    def expire(self, now: datetime) -> tuple[Pair, PairDeclined] | None:
        """A proposal nobody answered in time lapses, freeing both for the next run."""
        if self.state != "proposed" or self.consent_deadline is None or now <= self.consent_deadline:
            return None
        return replace(self, state="declined"), PairDeclined(
            pair_id=self.pair_id, programme_id=self.programme_id, declined_by="deadline", reason="no answer in time"
        )

    def _require(self, action: str, *allowed: PairState) -> None:
        if self.state not in allowed:
            raise Conflict(
                f"cannot {action} pair {self.pair_id}: it is {self.state} (allowed from {', '.join(allowed)})",
                field="state",
                code="illegal_transition",
            )

    def pause(self, reason: str = "") -> tuple[Pair, PairPaused]:
        self._require("pause", "active")
        return replace(self, state="paused"), PairPaused(
            pair_id=self.pair_id, programme_id=self.programme_id, reason=reason
        )

    def resume(self) -> tuple[Pair, PairResumed]:
        self._require("resume", "paused")
        return replace(self, state="active"), PairResumed(pair_id=self.pair_id, programme_id=self.programme_id)

    def extend(self, until: date, programme_ends_on: date) -> tuple[Pair, PairExtended]:
        """Go on past the programme's end; ending it later as completed still counts as completed."""
        self._require("extend", "active", "paused")
        if until <= programme_ends_on:
            raise InvalidInput(
                f"an extension runs past the programme's end ({programme_ends_on.isoformat()})", field="until"
            )
        return replace(self, extended_until=until), PairExtended(
            pair_id=self.pair_id, programme_id=self.programme_id, until=until
        )

    def end(self, reason: PairEndReason, note: str = "") -> tuple[Pair, PairEnded]:
        self._require("end", "active", "paused")
        return replace(self, state="ended", end_reason=reason), PairEnded(
            pair_id=self.pair_id, programme_id=self.programme_id, reason=reason, note=note
        )


def create_pair(
    pair_id: str,
    programme_id: str,
    mentor_id: str,
    mentee_id: str,
    *,
    score: float | None = None,
    rationale: str = "",
    origin: Origin = "manual",
    match_run_id: str | None = None,
    warnings: tuple[str, ...] = (),
    started_on: date | None = None,
) -> tuple[Pair, PairCreated]:
    if mentor_id == mentee_id:
        raise InvalidInput("a participant cannot mentor themselves", field="mentee_id")
    pair = Pair(
        pair_id=pair_id,
        programme_id=programme_id,
        mentor_id=mentor_id,
        mentee_id=mentee_id,
        score=score,
        rationale=rationale,
        origin=origin,
        match_run_id=match_run_id,
        warnings=warnings,
        started_on=started_on,
    )
    return pair, pair.created_event()


def propose_pair(
    pair_id: str,
    programme_id: str,
    mentor_id: str,
    mentee_id: str,
    *,
    consent_deadline: datetime,
    score: float | None = None,
    rationale: str = "",
    origin: Origin = "match_run",
    match_run_id: str | None = None,
) -> tuple[Pair, PairProposed]:
    """A pair that waits for both people's consent (best practice: ask the senior first)."""
    pair, _ = create_pair(
        pair_id,
        programme_id,
        mentor_id,
        mentee_id,
        score=score,
        rationale=rationale,
        origin=origin,
        match_run_id=match_run_id,
    )
    proposed = replace(pair, state="proposed", consent_deadline=consent_deadline)
    return proposed, PairProposed(
        pair_id=pair_id,
        programme_id=programme_id,
        mentor_id=mentor_id,
        mentee_id=mentee_id,
        score=score,
        rationale=rationale,
        consent_deadline=consent_deadline,
        match_run_id=match_run_id,
    )
