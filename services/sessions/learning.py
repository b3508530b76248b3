"""Learning records for the HR platform: when a participation ends, `LearningRecorded` goes out through the outbox.

Side-effect handlers on the pairing topic (the live consumer runs them, replay never does), in the
consumer's own transaction: the record row, the outbox row and the inbox row commit together. They run
after the projection handlers of the same event, so the read model already shows the pair ended or the
participant withdrawn. Which trigger completes a participation, and the figures: domain/learning.py.

Exactly once: the inbox drops a redelivered event; beyond that every trigger of the same participation
(a programme closing after someone completed, a withdrawal after a completion) claims the same
`record_id` in `learning_records` first and emits only when the claim inserted a row. The envelope's id is
deterministic too, so not even a second outbox row could carry it.
"""

from __future__ import annotations

import logging
from typing import Any

from services.sessions import learning_repository as repo
from services.sessions.domain import learning
from shared import outbox
from shared.consumer import Handlers, WaitFor
from shared.db import Conn
from shared.events import Envelope
from shared.events import pairing as p
from shared.runtime import ServiceHost

log = logging.getLogger(__name__)


def build_learning_handlers(host: ServiceHost | None) -> Handlers:
    h = Handlers()

    async def record(conn: Conn, trigger: Envelope[Any], participant_id: str, programme_id: str,
                     outcome: learning.Outcome) -> None:  # fmt: skip
        if host is None:
            raise RuntimeError("learning records are published by a running sessions service")
        facts = await repo.participation(conn, trigger.tenant, participant_id, programme_id)
        if facts is None:  # the enrolment (another partition) is not applied yet: park the event until it is
            raise WaitFor(participant_id, f"participant {participant_id} of programme {programme_id} not known yet")
        if facts.employee_id is None:
            log.error("no learning record for %s: employee id unknown (replay the sessions projection)", participant_id)
            return
        payload = learning.learning_record(facts, outcome, trigger.time)
        eid = learning.event_id(payload.record_id)
        claimed = await repo.claim_record(
            conn, record_id=payload.record_id, event_id=eid, participant_id=participant_id, programme_id=programme_id,
            tenant=trigger.tenant, outcome=outcome, trigger_event_id=trigger.id,
        )  # fmt: skip
        if claimed:
            env = Envelope.new(payload, caused_by=trigger, event_id=eid, time=trigger.time)
            await outbox.append(conn, host.topics, [env])

    @h.on(p.ParticipantWithdrew, side_effects=True)
    async def withdrew(conn: Conn, env: Envelope[Any]) -> None:
        e: p.ParticipantWithdrew = env.data
        await record(conn, env, e.participant_id, e.programme_id, e.reason)

    @h.on(p.PairEnded, side_effects=True)
    async def pair_ended(conn: Conn, env: Envelope[Any]) -> None:
        e: p.PairEnded = env.data
        if e.reason != "completed":
            return
        members = await repo.pair_members(conn, env.tenant, e.pair_id)
        if members is None:  # PairCreated shares the partition, so this means it was dead-lettered
            log.warning("pair %s ended but was never known: no learning record", e.pair_id)
            return
        for member in members:
            if learning.completes_on_pair_end(
                e, await repo.other_live_pairs(conn, env.tenant, member, e.programme_id, e.pair_id)
            ):
                await record(conn, env, member, e.programme_id, "completed")

    @h.on(p.ProgramClosed, side_effects=True)
    async def closed(conn: Conn, env: Envelope[Any]) -> None:
        programme_id = env.data.programme_id
        for participant_id in await repo.enrolled_without_record(conn, env.tenant, programme_id):
            await record(conn, env, participant_id, programme_id, "completed")

    return h
