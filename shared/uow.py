"""Unit of work: one Postgres transaction around a command, with its events going to the outbox."""

from __future__ import annotations

from types import TracebackType
from typing import Any

import asyncpg
from asyncpg.transaction import Transaction

from shared import outbox
from shared.events import Envelope, EventPayload
from shared.telemetry import tracer
from shared.topics import Topics


class UnitOfWork:
    """`async with UnitOfWork(pool, topics) as uow:` ... `uow.emit(payload)` ... `await uow.commit()`.

    Leaving the block without commit rolls everything back, events included.

    `UnitOfWork.joining(conn, ...)` is one inside a transaction someone else owns (an inbox consumer's
    batch): `commit()` writes the events to the outbox on that connection, and the owner commits or rolls
    back the whole, so a consumed event, its state change and the events it causes are one transaction.
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        topics: Topics,
        *,
        tenant: str = "default",
        correlation_id: str | None = None,
        causation_id: str | None = None,
    ) -> None:
        self.pool = pool
        self.topics = topics
        self.tenant = tenant
        self.correlation_id = correlation_id
        self.causation_id = causation_id
        self.events: list[Envelope[Any]] = []
        self._conn: asyncpg.pool.PoolConnectionProxy | None = None
        self._tx: Transaction | None = None
        self._joined = False

    @classmethod
    def joining(cls, conn: Any, topics: Topics, *, tenant: str, caused_by: Envelope[Any] | None = None) -> UnitOfWork:
        """A unit of work inside the caller's open transaction on `conn` (see the class docstring)."""
        uow = cls(
            None,  # type: ignore[arg-type]  # never acquires: the connection is given
            topics,
            tenant=tenant,
            correlation_id=caused_by.correlationid if caused_by is not None else None,
            causation_id=caused_by.id if caused_by is not None else None,
        )
        uow._conn = conn
        uow._joined = True
        return uow

    @property
    def conn(self) -> asyncpg.pool.PoolConnectionProxy:
        if self._conn is None:
            raise RuntimeError("unit of work not started")
        return self._conn

    async def __aenter__(self) -> UnitOfWork:
        if self._joined:
            return self
        self._conn = await self.pool.acquire()
        self._tx = self._conn.transaction()
        await self._tx.start()
        return self

    def emit(self, *payloads: EventPayload) -> list[Envelope[Any]]:
        envs = [
            Envelope.new(p, tenant=self.tenant, correlation_id=self.correlation_id, causation_id=self.causation_id)
            for p in payloads
        ]
        self.events.extend(envs)
        return envs

    def emit_as(self, event_id: str, payload: EventPayload) -> Envelope[Any]:
        """One event with the id given: a deterministic id for an event that must exist once, whoever emits it and
        however often (the outbox's event ids are unique, consumers drop what they have seen)."""
        env = Envelope.new(
            payload,
            tenant=self.tenant,
            correlation_id=self.correlation_id,
            causation_id=self.causation_id,
            event_id=event_id,
        )
        self.events.append(env)
        return env

    async def commit(self) -> None:
        """Write the events to the outbox and commit (a joined unit: leave the commit to the owner), in a span
        whose trace context the outbox rows keep (shared.outbox.append)."""
        types = sorted({e.type for e in self.events})
        with tracer().start_as_current_span(
            "unit of work commit", attributes={"tandem.events": len(self.events), "tandem.event_types": types}
        ):
            await outbox.append(self.conn, self.topics, self.events)
            self.events = []
            if self._joined:
                return
            assert self._tx is not None
            await self._tx.commit()
            self._tx = None

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._joined:
            return
        try:
            if self._tx is not None:
                await self._tx.rollback()
        finally:
            if self._conn is not None:
                await self.pool.release(self._conn)
            self._conn = None
