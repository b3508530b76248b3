"""What every router needs: the unit of work and a connection, from the service host."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request

from shared.db import Conn
from shared.http import correlation_id
from shared.runtime import host_of
from shared.uow import UnitOfWork


def _uow(request: Request) -> UnitOfWork:
    return host_of(request.app).uow(correlation_id=correlation_id(request))


async def _conn(request: Request) -> AsyncIterator[Conn]:
    async with host_of(request.app).pool.acquire() as conn:
        yield conn


UoW = Annotated[UnitOfWork, Depends(_uow)]
Connection = Annotated[Conn, Depends(_conn)]
