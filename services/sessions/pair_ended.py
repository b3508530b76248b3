"""When a pair ends, its sessions still to come are called off (a side effect: the live consumer runs it,
replay never does; the SessionCancelled events it emits are replayed instead, from the sessions topic).

Included by `handler_table.build_handlers` after the projection handler of PairEnded, so that the Mentorship
it loads already sees the pair ended.
"""

from __future__ import annotations

from typing import Any

from services.sessions import handlers
from shared.consumer import Handlers
from shared.db import Conn
from shared.events import Envelope
from shared.events import pairing as p
from shared.runtime import ServiceHost
from shared.uow import UnitOfWork


def build_handlers(host: ServiceHost | None) -> Handlers:
    h = Handlers()

    @h.on(p.PairEnded, side_effects=True)
    async def call_off_sessions(conn: Conn, env: Envelope[Any]) -> None:
        if host is None:
            raise RuntimeError("calling sessions off needs the running service (its topics)")
        uow = UnitOfWork.joining(conn, host.topics, tenant=env.tenant, caused_by=env)
        await handlers.call_off_after_end(uow, env.data, ended_at=env.time)

    return h
