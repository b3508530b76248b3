"""What kind of failure is this: one to retry (the database or broker is away, a conflict between
transactions), or one that retrying will not cure (the event, or the code applying it, is at fault)."""

from __future__ import annotations

import asyncpg
from aiokafka.errors import KafkaError


class TransientError(Exception):
    """Raise from a handler to have the batch retried later instead of dead-lettered."""


class ProjectionSwapped(TransientError):
    """A rebuilt projection was swapped in since the last batch: retry on fresh connections."""


#: Failures of the environment, not of the event: the database is read-only (a failover in progress), out of
#: space or memory, or lacks a table or a grant (a deployment gone wrong). Every event would fail alike, so
#: they are retried without end (readiness says why) and never turn an event into a dead letter.
SYSTEMIC: tuple[type[Exception], ...] = (
    asyncpg.exceptions.ReadOnlySQLTransactionError,
    asyncpg.exceptions.InsufficientPrivilegeError,
    asyncpg.exceptions.UndefinedTableError,
    asyncpg.exceptions.UndefinedColumnError,
    asyncpg.exceptions.UndefinedFunctionError,
    asyncpg.exceptions.InvalidSchemaNameError,
    asyncpg.exceptions.InsufficientResourcesError,
)

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
    *SYSTEMIC,
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
