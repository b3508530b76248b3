"""The pairing service's handlers, in one table: what runs for each event it consumes (the HR platform's, on the
inbound topic), what it leaves alone, and its command handlers (handlers.py; the API, SCIM and the file sync
call them). app.py wires this table, the contracts are generated from it, and tests/unit/test_handler_tables.py
checks it covers every event type of the topics the service consumes and every command handler in handlers.py.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from services.pairing import handlers, projection
from shared.consumer import Handlers
from shared.runtime import ServiceHost


def build_handlers(host: ServiceHost) -> Handlers:
    """Every event handler of the service: the HR events into the employee directory (projection.py)."""
    h = Handlers()
    h.include(projection.build_handlers(host))
    return h


#: Event types of the consumed topics that no handler takes, and why.
IGNORED: dict[str, str] = {}

#: Each command handler, by name: one unit of work each (handlers.py).
COMMANDS: dict[str, Callable[..., Awaitable[Any]]] = {
    # programmes
    "create_programme": handlers.create_programme,
    "launch_programme": handlers.launch_programme,
    "close_programme": handlers.close_programme,
    # participants and the employee directory
    "enrol_participants": handlers.enrol_participants,
    "update_participant": handlers.update_participant,
    "withdraw_participant": handlers.withdraw_participant,
    "apply_directory_changes": handlers.apply_directory_changes,
    "recheck_pairs": handlers.recheck_pairs,
    "resolve_flag": handlers.resolve_flag,
    # pairs
    "create_pair": handlers.create_pair,
    "pause_pair": handlers.pause_pair,
    "resume_pair": handlers.resume_pair,
    "end_pair": handlers.end_pair,
    "extend_pair": handlers.extend_pair,
    "answer_proposal": handlers.answer_proposal,
    # matching
    "start_match_run": handlers.start_match_run,
    "accept_proposals": handlers.accept_proposals,
    "rematch": handlers.rematch,
    # personal data: erasure and retention
    "erase_subject": handlers.erase_subject,
    "set_retention": handlers.set_retention,
    "expire_free_text": handlers.expire_free_text,
}
