"""Erasure and retention in the sessions service: `SubjectErased` and `FreeTextExpired` from the pairing service.

Two parts, as the Handlers class documents: the read model's part (replayable: it writes only projection rows and
depends only on the event) scrubs the names, addresses and free text of the person's enrolments and pairs, or the
free text of the expired programme; the side-effect part (live only) destroys the service's own data keys of those
scopes (shared.erasure.destroy_keys) and scrubs the dead letters that quote the person. The side-effect part of an
erasure runs first, so that it can still read which names the dead letters may quote.
"""

from __future__ import annotations

from typing import Any

from services.sessions import erasure_repository as repo
from shared import erasure
from shared.consumer import Handlers
from shared.db import Conn
from shared.events import Envelope
from shared.events import pairing as p
from shared.runtime import ServiceHost
from shared.topics import Topics

SERVICE = "sessions"


async def scrub(conn: Conn, env: Envelope[Any]) -> None:
    """The read model's part of one erasure or expiry (also what the bulk replay applies after its tables)."""
    e = env.data
    if isinstance(e, p.SubjectErased):
        await repo.scrub_subject(conn, env.tenant, e.participant_ids, e.pair_ids)
    elif isinstance(e, p.FreeTextExpired):
        await repo.scrub_programme_text(conn, env.tenant, e.programme_id)


def build_side_effects(host: ServiceHost | None = None) -> Handlers:
    """The live part: the service's keys, and the dead letters quoting the person."""
    h = Handlers()

    def topics() -> Topics:
        return host.topics if host is not None else Topics()

    @h.on(p.SubjectErased, side_effects=True)
    async def erased(conn: Conn, env: Envelope[Any]) -> None:
        e: p.SubjectErased = env.data
        await erasure.scrub_dead_letters(conn, await repo.quoted_names(conn, env.tenant, e.participant_ids))
        await erasure.destroy_keys_for(conn, topics(), service=SERVICE, env=env)

    @h.on(p.FreeTextExpired, side_effects=True)
    async def expired(conn: Conn, env: Envelope[Any]) -> None:
        await erasure.destroy_keys_for(conn, topics(), service=SERVICE, env=env)

    return h


def build_projection(host: ServiceHost | None = None) -> Handlers:
    """The read model's part (replayable)."""
    h = Handlers()

    @h.on(p.SubjectErased, p.FreeTextExpired)
    async def scrubbed(conn: Conn, env: Envelope[Any]) -> None:
        await scrub(conn, env)

    return h
