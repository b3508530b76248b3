"""Erasure and retention in the notifications service: `SubjectErased` and `FreeTextExpired` from the pairing
service.

The read model's part (replayable) scrubs the recipients' names and addresses, the pairs' rationales, the sessions'
agendas and cancellation reasons and the flags' details. The side-effect part (live only), which runs first so
that it can still read the names the history may quote: erases from the outbound webhook deliveries' bodies the
personal fields whose keys go (domain/erasure.py), cancels what is still planned for the person, drops their chat
address, replaces their name and address wherever the mail history quotes it (notes, errors, delivery receipts,
dead letters), and destroys the service's own data keys of those scopes. An expiry of free text does the same to
the deliveries of the programme's events.
"""

from __future__ import annotations

from typing import Any

from services.notifications import erasure_repository as repo
from services.notifications.domain import erasure as erasure_domain
from shared import erasure
from shared.consumer import Handlers
from shared.db import Conn
from shared.events import Envelope
from shared.events import pairing as p
from shared.runtime import ServiceHost
from shared.topics import Topics

SERVICE = "notifications"


def build_side_effects(host: ServiceHost | None = None) -> Handlers:
    h = Handlers()

    def topics() -> Topics:
        return host.topics if host is not None else Topics()

    @h.on(p.SubjectErased, side_effects=True)
    async def erased(conn: Conn, env: Envelope[Any]) -> None:
        e: p.SubjectErased = env.data
        quoted = await repo.quoted_names(conn, env.tenant, e.participant_ids)
        scopes = {e.employee_id, *e.participant_ids, *e.pair_ids}
        for delivery_id, body in await repo.webhook_bodies_naming(conn, env.tenant, sorted(scopes)):
            scrubbed = erasure_domain.scrubbed_body(body, scope_ids=scopes)
            if scrubbed is not None:
                await repo.set_webhook_body(conn, delivery_id, scrubbed)
        await repo.scrub_history(conn, env.tenant, e.participant_ids, quoted)
        await erasure.scrub_dead_letters(conn, quoted)
        await erasure.destroy_keys_for(conn, topics(), service=SERVICE, env=env)

    @h.on(p.FreeTextExpired, side_effects=True)
    async def expired(conn: Conn, env: Envelope[Any]) -> None:
        e: p.FreeTextExpired = env.data
        for delivery_id, body in await repo.webhook_bodies_naming(conn, env.tenant, [e.programme_id]):
            scrubbed = erasure_domain.scrubbed_body(body, programme_id=e.programme_id, kinds=("text",))
            if scrubbed is not None:
                await repo.set_webhook_body(conn, delivery_id, scrubbed)
        await erasure.destroy_keys_for(conn, topics(), service=SERVICE, env=env)

    return h


def build_projection(host: ServiceHost | None = None) -> Handlers:
    h = Handlers()

    @h.on(p.SubjectErased)
    async def erased(conn: Conn, env: Envelope[Any]) -> None:
        e: p.SubjectErased = env.data
        await repo.scrub_subject(conn, env.tenant, e.participant_ids, e.pair_ids)

    @h.on(p.FreeTextExpired)
    async def expired(conn: Conn, env: Envelope[Any]) -> None:
        e: p.FreeTextExpired = env.data
        await repo.scrub_programme_text(conn, env.tenant, e.programme_id)

    return h
