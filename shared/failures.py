"""What kind of failure is this: one to retry (the database or broker is away, a conflict between
transactions), or one that retrying will not cure (the event, or the code applying it, is at fault)."""

from __future__ import annotations

import asyncpg
from aiokafka.errors import KafkaError


class TransientError(Exception):
    """Raise from a handler to have the batch retried later instead of dead-lettered."""


class ProjectionSwapped(TransientError):
    """A rebuilt projection was swapped in since the last batch: retry on fresh connections."""


#: Failures retried rather than dead-lettered. Retried without end while the database or the broker does
#: not answer; bounded (see shared.retry.RetryPolicy) when both answer and the failure stays.
TRANSIENT: tuple[type[BaseException], ...] = (
    TransientError,
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.SerializationError,
    asyncpg.exceptions.DeadlockDetectedError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.TooManyConnectionsError,
    KafkaError,
)

#: Failures that say the database is not reachable (the HTTP edge answers 503 with Retry-After).
DATABASE_UNAVAILABLE: tuple[type[Exception], ...] = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.InterfaceError,
)
