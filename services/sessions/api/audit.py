"""Audit for HR and auditors: a subject's timeline from the log, or with `as_of` a pair as the sessions domain
folds it (agreement, goals, sessions, feedback). The pairing service answers the same route for the pair's
state and people; `tandem audit` puts both together."""

from __future__ import annotations

from services.sessions.api.callers import Who
from services.sessions.audit import kinds
from shared.audit_route import Reader, audit_router
from shared.events.sessions import SensitiveDataAccessed


async def reader(who: Who) -> Reader:
    return Reader(who.tenant, "hr" in who.roles, who.principal.who, who.acting_role)


router = audit_router(reader, SensitiveDataAccessed, kinds)
