"""The pair aggregate and its state machine: proposed -> active <-> paused -> ended. Pure: no I/O."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from shared.errors import Conflict, InvalidInput
from shared.events.common import PairEndReason
from shared.events.pairing import PairCreated, PairEnded, PairPaused, PairResumed

PairState = Literal["proposed", "active", "paused", "ended"]
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
    )
    event = PairCreated(
        pair_id=pair_id,
        programme_id=programme_id,
        mentor_id=mentor_id,
        mentee_id=mentee_id,
        score=score,
        rationale=rationale,
        origin=origin,
        match_run_id=match_run_id,
    )
    return pair, event
