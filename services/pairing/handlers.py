"""Command handlers: plain functions, one unit of work each; state and events commit together."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import asyncpg

from services.pairing import repository
from services.pairing.domain import pairs
from shared.errors import Conflict
from shared.events.common import PairEndReason
from shared.uow import UnitOfWork


@dataclass(frozen=True)
class CreatePair:
    programme_id: str
    mentor_id: str
    mentee_id: str
    pair_id: str | None = None


async def create_pair(uow: UnitOfWork, cmd: CreatePair) -> pairs.Pair:
    pair, event = pairs.create_pair(cmd.pair_id or str(uuid.uuid4()), cmd.programme_id, cmd.mentor_id, cmd.mentee_id)
    try:
        await repository.insert_pair(uow.conn, pair, uow.tenant)
    except asyncpg.UniqueViolationError:
        raise Conflict(
            f"{cmd.mentor_id} and {cmd.mentee_id} already form a live pair in programme {cmd.programme_id}",
            field="mentee_id",
            code="duplicate_pair",
        ) from None
    uow.emit(event)
    await uow.commit()
    return pair


async def pause_pair(uow: UnitOfWork, pair_id: str, reason: str = "") -> pairs.Pair:
    pair, event = (await repository.get_pair(uow.conn, pair_id, for_update=True)).pause(reason)
    await repository.update_pair(uow.conn, pair)
    uow.emit(event)
    await uow.commit()
    return pair


async def resume_pair(uow: UnitOfWork, pair_id: str) -> pairs.Pair:
    pair, event = (await repository.get_pair(uow.conn, pair_id, for_update=True)).resume()
    await repository.update_pair(uow.conn, pair)
    uow.emit(event)
    await uow.commit()
    return pair


async def end_pair(uow: UnitOfWork, pair_id: str, reason: PairEndReason, note: str = "") -> pairs.Pair:
    pair, event = (await repository.get_pair(uow.conn, pair_id, for_update=True)).end(reason, note)
    await repository.update_pair(uow.conn, pair)
    uow.emit(event)
    await uow.commit()
    return pair
