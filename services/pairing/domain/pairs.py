"""The pair aggregate and its state machine: proposed -> active <-> paused -> ended. Pure: no I/O.

Decide/evolve (see the README's "Domain style"): `create_pair`, `propose_pair` and the command methods of
`Pair` check the rules and return what happens (an event, or a list of changes); the pair changes only
through `evolve`. A few facts the write model keeps are published by no event (how a pair was made, one
side's consent, why it paused, HR's override): they are notes, folded by the same `evolve` and never emitted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any, Literal

from shared.errors import Conflict, InvalidInput
from shared.events.common import PairEndReason
from shared.events.pairing import (
    FlagRule,
    PairCreated,
    PairDeclined,
    PairEnded,
    PairExtended,
    PairFlagged,
    PairFlagResolved,
    PairPaused,
    PairProposed,
    PairResumed,
    Reason,
)

PairState = Literal["proposed", "active", "paused", "ended", "declined"]
Origin = Literal["match_run", "manual", "rematch"]
#: Why a pair is paused: by hand, for a leave of absence of one of the two, or by a reorganisation flag.
PauseCause = Literal["manual", "leave", "flag"]
LIVE: tuple[PairState, ...] = ("proposed", "active", "paused")


def _reasons(reasons: Sequence[Mapping[str, Any]]) -> list[Reason]:
    return [Reason.model_validate(dict(r)) for r in reasons]


@dataclass(frozen=True)
class Flag:
    """A hard rule a live pair breaks since a directory change."""

    rule: FlagRule
    detail: str
    chain: tuple[str, ...]
    since: datetime
    directory_revision: int
    action: Literal["paused", "left_running"]

    def same_conflict(self, other: dict[str, Any] | Flag | None) -> bool:
        if other is None:
            return False
        if isinstance(other, Flag):
            return (other.rule, other.chain) == (self.rule, self.chain)
        return (other.get("rule"), tuple(other.get("chain") or ())) == (self.rule, self.chain)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "detail": self.detail,
            "chain": list(self.chain),
            "since": self.since.isoformat(),
            "directory_revision": self.directory_revision,
            "action": self.action,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Flag:
        return cls(
            rule=data["rule"],
            detail=data["detail"],
            chain=tuple(data.get("chain") or ()),
            since=datetime.fromisoformat(data["since"]),
            directory_revision=int(data["directory_revision"]),
            action=data["action"],
        )


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
    pause_cause: PauseCause | None = None
    flag: Flag | None = None
    #: HR kept the pair despite a flag: {rule, chain, reason, by, at}. The same conflict is not flagged again.
    flag_override: dict[str, Any] | None = None
    #: the rationale as reasons with stable codes (matching.reasons); none on pairs from before
    reasons: tuple[dict[str, Any], ...] = ()

    @property
    def is_live(self) -> bool:
        return self.state in LIVE

    def created_event(self) -> PairCreated:
        return PairCreated(
            pair_id=self.pair_id,
            programme_id=self.programme_id,
            mentor_id=self.mentor_id,
            mentee_id=self.mentee_id,
            score=self.score,
            rationale=self.rationale,
            reasons=_reasons(self.reasons),
            origin=self.origin,
            match_run_id=self.match_run_id,
            started_on=self.started_on,
        )

    def consent(self, participant_id: str, accept: bool, now: datetime) -> list[PairChange]:
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
            return [self.decline(participant_id)]
        given = ConsentGiven(participant_id)
        answered = evolve_all(self, [given])
        if answered.mentor_consent and answered.mentee_consent:
            return [given, answered.created_event()]
        return [given]

    def decline(self, by: str, reason: str = "") -> PairDeclined:
        """The proposal is off (declined, or one of them withdrew); both are free for the next run."""
        self._require("decline", "proposed")
        return PairDeclined(pair_id=self.pair_id, programme_id=self.programme_id, declined_by=by, reason=reason)

    def expire(self, now: datetime) -> PairDeclined | None:
        """A proposal nobody answered in time lapses, freeing both for the next run."""
        if self.state != "proposed" or self.consent_deadline is None or now <= self.consent_deadline:
            return None
        return PairDeclined(
            pair_id=self.pair_id, programme_id=self.programme_id, declined_by="deadline", reason="no answer in time"
        )

    def _require(self, action: str, *allowed: PairState) -> None:
        if self.state not in allowed:
            raise Conflict(
                f"cannot {action} pair {self.pair_id}: it is {self.state} (allowed from {', '.join(allowed)})",
                field="state",
                code="illegal_transition",
            )

    def pause(self, reason: str = "") -> PairPaused:
        """A pause by hand (`evolve` records its cause as "manual")."""
        self._require("pause", "active")
        return PairPaused(pair_id=self.pair_id, programme_id=self.programme_id, reason=reason)

    def _pause(self, reason: str, cause: PauseCause) -> list[PairChange]:
        return [self.pause(reason), PauseCaused(cause)]

    def resume(self) -> PairResumed:
        """HR or the pair resumes a pair paused by hand. A flag is resolved, a leave ends, not resumed."""
        self._require("resume", "paused")
        if self.pause_cause == "flag":
            raise Conflict(
                f"pair {self.pair_id} is paused by a reorganisation flag: resolve the flag (keep or end)",
                field="state",
                code="flagged",
            )
        if self.pause_cause == "leave":
            raise Conflict(
                f"pair {self.pair_id} is paused for a leave of absence: it resumes when the person returns",
                field="state",
                code="on_leave",
            )
        return self._resumed()

    def _resumed(self) -> PairResumed:
        return PairResumed(pair_id=self.pair_id, programme_id=self.programme_id)

    # -- leave of absence ---------------------------------------------------------------------------

    def pause_for_leave(self, who: str) -> list[PairChange]:
        """One of the two went on leave: an active pair pauses (a pair paused for another cause stays so)."""
        if self.state != "active":
            return []
        return self._pause(f"{who} is on leave of absence", "leave")

    def resume_after_leave(self) -> list[PairChange]:
        """Both are back: a pair paused for the leave resumes."""
        if self.state != "paused" or self.pause_cause != "leave":
            return []
        return [self._resumed()]

    # -- reorganisations ----------------------------------------------------------------------------

    def flag_conflict(self, flag: Flag, *, pause: bool) -> list[PairChange]:
        """A directory change made this live pair break a hard rule. Nothing happens when the pair is already
        flagged for this conflict, or HR kept it despite this conflict; an active pair pauses if `pause`."""
        if not self.is_live or flag.same_conflict(self.flag) or flag.same_conflict(self.flag_override):
            return []
        action: Literal["paused", "left_running"] = "paused" if pause and self.state == "active" else "left_running"
        if self.state == "paused" and self.pause_cause == "flag":
            action = "paused"
        event = PairFlagged(
            pair_id=self.pair_id,
            programme_id=self.programme_id,
            rule=flag.rule,
            detail=flag.detail,
            chain=list(flag.chain),
            since=flag.since,
            directory_revision=flag.directory_revision,
            action=action,
        )
        if action == "paused" and self.state == "active":
            return [event, *self._pause(f"reorganisation: {flag.detail}", "flag")]
        return [event]

    def clear_flag(self) -> list[PairChange]:
        """A later directory change removed the conflict: the flag goes, a pair it paused resumes."""
        if self.flag is None:
            return []
        return self._unflag("cleared", "the conflict no longer exists", "directory", override=None)

    def resolve_flag(self, decision: Literal["keep", "end"], reason: str, by: str, now: datetime) -> list[PairChange]:
        """HR decides on a flagged pair: keep it (the reason, who and when are recorded, and the same
        conflict is not flagged again), or end it so that both can be rematched."""
        if self.flag is None:
            raise Conflict(f"pair {self.pair_id} is not flagged", field="pair_id", code="not_flagged")
        if not reason.strip():
            raise InvalidInput("say why (the reason is kept in the audit trail)", field="reason")
        if decision == "keep":
            override = {
                "rule": self.flag.rule,
                "chain": list(self.flag.chain),
                "reason": reason.strip(),
                "by": by,
                "at": now.isoformat(),
            }
            return self._unflag("keep", reason.strip(), by, override=override)
        resolved = PairFlagResolved(
            pair_id=self.pair_id, programme_id=self.programme_id, decision="end", reason=reason.strip(), resolved_by=by
        )
        if self.state == "proposed":
            return [resolved, self.decline(by, reason=f"reorganisation: {reason.strip()}")]
        return [resolved, self.end("rematched", note=f"reorganisation: {reason.strip()}")]

    def _unflag(
        self, decision: Literal["keep", "cleared"], reason: str, by: str, override: dict[str, Any] | None
    ) -> list[PairChange]:
        changes: list[PairChange] = [
            PairFlagResolved(
                pair_id=self.pair_id, programme_id=self.programme_id, decision=decision, reason=reason, resolved_by=by
            )
        ]
        if override is not None:
            changes.append(FlagKept(override))
        if self.state == "paused" and self.pause_cause == "flag":
            changes.append(self._resumed())
        return changes

    def extend(self, until: date, programme_ends_on: date) -> PairExtended:
        """Go on past the programme's end; ending it later as completed still counts as completed."""
        self._require("extend", "active", "paused")
        if until <= programme_ends_on:
            raise InvalidInput(
                f"an extension runs past the programme's end ({programme_ends_on.isoformat()})", field="until"
            )
        return PairExtended(pair_id=self.pair_id, programme_id=self.programme_id, until=until)

    def end(self, reason: PairEndReason, note: str = "") -> PairEnded:
        self._require("end", "active", "paused")
        return PairEnded(pair_id=self.pair_id, programme_id=self.programme_id, reason=reason, note=note)


def create_pair(
    pair_id: str,
    programme_id: str,
    mentor_id: str,
    mentee_id: str,
    *,
    score: float | None = None,
    rationale: str = "",
    reasons: Sequence[Mapping[str, Any]] = (),
    origin: Origin = "manual",
    match_run_id: str | None = None,
    warnings: tuple[str, ...] = (),
    started_on: date | None = None,
) -> list[PairChange]:
    """A pair made at once (by hand, or from a match run without consent): its `PairCreated`, and the
    warnings it was made with (`PairNoted`: kept with the pair, not published)."""
    if mentor_id == mentee_id:
        raise InvalidInput("a participant cannot mentor themselves", field="mentee_id")
    created = PairCreated(
        pair_id=pair_id,
        programme_id=programme_id,
        mentor_id=mentor_id,
        mentee_id=mentee_id,
        score=score,
        rationale=rationale,
        reasons=_reasons(reasons),
        origin=origin,
        match_run_id=match_run_id,
        started_on=started_on,
    )
    return [created, PairNoted(origin, warnings)]


def propose_pair(
    pair_id: str,
    programme_id: str,
    mentor_id: str,
    mentee_id: str,
    *,
    consent_deadline: datetime,
    score: float | None = None,
    rationale: str = "",
    reasons: Sequence[Mapping[str, Any]] = (),
    origin: Origin = "match_run",
    match_run_id: str | None = None,
) -> list[PairChange]:
    """A pair that waits for both people's consent (best practice: ask the senior first): its
    `PairProposed`, and its origin (`PairNoted`: the proposal does not publish it)."""
    if mentor_id == mentee_id:
        raise InvalidInput("a participant cannot mentor themselves", field="mentee_id")
    proposed = PairProposed(
        pair_id=pair_id,
        programme_id=programme_id,
        mentor_id=mentor_id,
        mentee_id=mentee_id,
        score=score,
        rationale=rationale,
        reasons=_reasons(reasons),
        consent_deadline=consent_deadline,
        match_run_id=match_run_id,
    )
    return [proposed, PairNoted(origin, ())]


# --------------------------------------------------------------------------------------------------
# What the write model keeps of a pair and no published event carries. These are decided and folded like
# the published events, saved with the pair, and never emitted (`published` leaves them out); a fold of
# the published log alone (the audit) rebuilds everything but them.


@dataclass(frozen=True)
class PairNoted:
    """How a pair was made: its origin (a proposal does not publish it) and the warnings it was made with."""

    origin: Origin
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class ConsentGiven:
    """One side accepted a proposal; the pair is made (`PairCreated`) when both have."""

    participant_id: str


@dataclass(frozen=True)
class PauseCaused:
    """Why the pause just decided happened, when not by hand: a leave of absence or a reorganisation flag."""

    cause: PauseCause


@dataclass(frozen=True)
class FlagKept:
    """HR kept a flagged pair: the conflict, the reason, who and when. The same conflict is not flagged again."""

    override: dict[str, Any]


Note = PairNoted | ConsentGiven | PauseCaused | FlagKept
_NOTES = (PairNoted, ConsentGiven, PauseCaused, FlagKept)


# --------------------------------------------------------------------------------------------------
# How a pair's state evolves by its events: the state machine above, read back from what it published.

PairEvent = (
    PairProposed
    | PairCreated
    | PairDeclined
    | PairPaused
    | PairResumed
    | PairEnded
    | PairExtended
    | PairFlagged
    | PairFlagResolved
)
#: What a command decides: published events, and the notes only the write model keeps.
PairChange = PairEvent | Note
#: The states a pair never leaves.
FINAL: tuple[PairState, ...] = ("ended", "declined")


def evolve(pair: Pair | None, event: PairChange) -> Pair | None:
    """The pair after one of its events (no checks: the event already happened): the only place a pair's
    state changes, for the write model and the audit alike. A pair is known from its proposal or its
    creation; an event of an unknown pair changes nothing, nor does any event of an ended or declined pair
    but the resolution of a flag it still carries.
    What only the notes carry (how a pair was made, one side's consent, a pause's cause, HR's override) is
    not rebuilt from the published events alone."""
    if isinstance(event, PairProposed):
        if pair is not None:
            return pair
        return Pair(
            event.pair_id,
            event.programme_id,
            event.mentor_id,
            event.mentee_id,
            state="proposed",
            score=event.score,
            rationale=event.rationale,
            reasons=tuple(r.model_dump() for r in event.reasons),
            origin="match_run",
            match_run_id=event.match_run_id,
            consent_deadline=event.consent_deadline,
        )
    if isinstance(event, PairCreated):
        if pair is not None and pair.state != "proposed":
            return pair
        if pair is None:
            return Pair(
                event.pair_id,
                event.programme_id,
                event.mentor_id,
                event.mentee_id,
                score=event.score,
                rationale=event.rationale,
                reasons=tuple(r.model_dump() for r in event.reasons),
                origin=event.origin,
                match_run_id=event.match_run_id,
                started_on=event.started_on,
            )
        return replace(
            pair,
            state="active",
            score=event.score,
            rationale=event.rationale,
            reasons=tuple(r.model_dump() for r in event.reasons),
            origin=event.origin,
            match_run_id=event.match_run_id,
            started_on=event.started_on,
            mentor_consent=True,
            mentee_consent=True,
        )
    if pair is None:
        return None
    if isinstance(event, PairFlagResolved):  # HR may resolve the flag a pair still carries after it ended
        return replace(pair, flag=None)
    if isinstance(event, FlagKept):
        return replace(pair, flag_override=event.override)
    if pair.state in FINAL:
        return pair
    if isinstance(event, PairDeclined):
        return replace(pair, state="declined")
    if isinstance(event, PairPaused):
        return replace(pair, state="paused", pause_cause="manual")
    if isinstance(event, PairResumed):
        return replace(pair, state="active", pause_cause=None)
    if isinstance(event, PairEnded):
        return replace(pair, state="ended", end_reason=event.reason, pause_cause=None)
    if isinstance(event, PairExtended):
        return replace(pair, extended_until=event.until)
    if isinstance(event, PairFlagged):
        flag = Flag(event.rule, event.detail, tuple(event.chain), event.since, event.directory_revision, event.action)
        return replace(pair, flag=flag)
    if isinstance(event, PairNoted):
        return replace(pair, origin=event.origin, warnings=event.warnings)
    if isinstance(event, ConsentGiven):
        if event.participant_id == pair.mentor_id:
            return replace(pair, mentor_consent=True)
        return replace(pair, mentee_consent=True)
    return replace(pair, pause_cause=event.cause)


def evolve_all(pair: Pair | None, changes: Iterable[PairChange]) -> Pair:
    """The pair after a command's changes, in order (a command always leaves a known pair)."""
    for change in changes:
        pair = evolve(pair, change)
    if pair is None:
        raise ValueError("no pair: its history starts with PairProposed or PairCreated")
    return pair


def published(changes: Iterable[PairChange]) -> list[PairEvent]:
    """The events to publish: the changes without the write model's notes."""
    return [c for c in changes if not isinstance(c, _NOTES)]
