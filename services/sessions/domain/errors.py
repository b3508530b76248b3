"""The errors a sessions command can end in.

These are the project-wide `shared.errors` classes, re-exported so that the domain reads on its own and
the HTTP edge (which already maps `DomainError` to `{"error": {"code", "message", "field"}}`) needs
nothing new:

* `InvalidInput` (422): the request itself is wrong; `field` names the input to blame.
* `NotFound` (404): an id (session, goal) is unknown to this pair.
* `Conflict` (409): well-formed, but the current state forbids it (an illegal transition).

Every error carries a stable `code` (the constants below) besides the default one of its class, and
a message that names the thing and the problem, e.g. "session s1 is cancelled; it cannot be logged".
"""

from __future__ import annotations

from typing import Final

from shared.errors import Conflict, DomainError, InvalidInput, NotFound

__all__ = [
    "AGREEMENT_ALREADY_CONFIRMED",
    "AGREEMENT_INCOMPLETE",
    "CONFIDENCE_ALREADY_RATED",
    "DUPLICATE_ID",
    "FEEDBACK_ALREADY_GIVEN",
    "GOAL_ALREADY_ACHIEVED",
    "MENTEE_ONLY",
    "NOT_A_PARTICIPANT",
    "PAIR_MISMATCH",
    "PAIR_NOT_ACTIVE",
    "PAIR_NOT_ENDED",
    "QUESTION_FOR_OTHER_ROLE",
    "SESSION_ALREADY_LOGGED",
    "SESSION_CANCELLED",
    "SESSION_NOT_LOGGED",
    "SESSION_NOT_STARTED",
    "UNKNOWN_GOAL",
    "UNKNOWN_SESSION",
    "Conflict",
    "DomainError",
    "InvalidInput",
    "NotFound",
]

# Conflict (409)
PAIR_NOT_ACTIVE: Final = "pair_not_active"
PAIR_NOT_ENDED: Final = "pair_not_ended"
AGREEMENT_INCOMPLETE: Final = "agreement_incomplete"
AGREEMENT_ALREADY_CONFIRMED: Final = "agreement_already_confirmed"
DUPLICATE_ID: Final = "duplicate_id"
GOAL_ALREADY_ACHIEVED: Final = "goal_already_achieved"
CONFIDENCE_ALREADY_RATED: Final = "confidence_already_rated"
SESSION_ALREADY_LOGGED: Final = "session_already_logged"
SESSION_CANCELLED: Final = "session_cancelled"
SESSION_NOT_STARTED: Final = "session_not_started"
SESSION_NOT_LOGGED: Final = "session_not_logged"
FEEDBACK_ALREADY_GIVEN: Final = "feedback_already_given"

# NotFound (404)
UNKNOWN_GOAL: Final = "unknown_goal"
UNKNOWN_SESSION: Final = "unknown_session"

# InvalidInput (422); most input errors keep the class default "invalid_input" and name the field.
NOT_A_PARTICIPANT: Final = "not_a_participant"
MENTEE_ONLY: Final = "mentee_only"
QUESTION_FOR_OTHER_ROLE: Final = "question_for_other_role"
PAIR_MISMATCH: Final = "pair_mismatch"
