"""The sessions service's handlers, in one table: what runs for each event it consumes (from the pairing and
sessions topics), what it leaves alone, and which handler runs each command. app.py wires this table, the
contracts are generated from it, and tests/unit/test_handler_tables.py checks it covers every event type of
the topics the service consumes and every command."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, get_args

from services.sessions import handlers, learning, pair_ended, personal_data, projection
from services.sessions.bulk import SessionsBulk
from services.sessions.domain.commands import Command
from shared.consumer import Handlers
from shared.events import pairing as p
from shared.events import sessions as s
from shared.runtime import ServiceHost


def build_handlers(host: ServiceHost | None = None) -> Handlers:
    """Every event handler of the service. For one event type they run in this order, in one transaction:
    the read model (projection.py) first, so that what follows sees the event applied; then the sessions
    of an ended pair are called off (pair_ended.py); then the learning records (learning.py)."""
    h = Handlers()
    h.include(personal_data.build_side_effects(host))  # reads the names before the read model scrubs them
    h.include(projection.build_handlers(host))
    h.include(personal_data.build_projection(host))
    h.include(pair_ended.build_handlers(host))
    h.include(learning.build_learning_handlers(host))
    h.bulk = SessionsBulk  # the bulk replay path of the read model (replay only)
    return h


#: Event types of the consumed topics that no handler takes, and why.
IGNORED: dict[str, str] = {
    p.MatchRunCompleted.TYPE: "match runs and proposals are the pairing service's; a pair exists here from PairCreated",
    p.PairProposed.TYPE: "a proposal is not a pair yet (PairCreated follows consent)",
    p.PairDeclined.TYPE: "a declined proposal never was a pair here",
    p.PairExtended.TYPE: "the read model keeps no end date; the pair stays as it is",
    p.PairFlagged.TYPE: "a reorganisation flag is for HR (notifications); sessions go on",
    p.PairFlagResolved.TYPE: "see PairFlagged",
    p.SensitiveDataAccessed.TYPE: "an audit fact of the pairing service",
    s.LearningRecorded.TYPE: "the service's own record for the HR platform; nothing here reads it back",
    s.SensitiveDataAccessed.TYPE: "an audit fact; nothing here reads it back",
    p.RetentionPolicySet.TYPE: "the pairing service's retention job acts on it (FreeTextExpired reaches here)",
}

#: Each command and its handler: every one runs on its pair's Mentorship (load, decide, emit) in one unit of
#: work. The API's routers call `handlers.execute`.
COMMANDS: dict[type[Any], Callable[..., Awaitable[Any]]] = {command: handlers.execute for command in get_args(Command)}
