"""Audit for the HR platform and auditors: a subject's timeline from the log, or its state at a time as the
pairing domain folds it (a pair's state and people, a participant, a programme, an employee). The sessions
service answers the same route for its part of a pair (agreement, goals, sessions, feedback)."""

from __future__ import annotations

from services.pairing.api.deps import Caller
from services.pairing.audit import kinds
from shared.audit_route import Reader, audit_router
from shared.events.pairing import SensitiveDataAccessed


async def reader(caller: Caller) -> Reader:
    return Reader(caller.tenant, caller.has("hr"), caller.who, ",".join(sorted(caller.roles)))


router = audit_router(reader, SensitiveDataAccessed, kinds)
