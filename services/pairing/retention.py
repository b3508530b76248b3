"""The retention job of the pairing service: expired free text of closed programmes (each tenant's policy,
`PUT /retention`) and, when TANDEM_ERASE_AFTER_DAYS is set, the erasure of employees that long after they left.

`run_once` is one pass as of a given moment (the clock is a parameter: tests run it "months later", `tandem
retention run` runs it now); `run_retention` is the service's background task that runs a pass every
TANDEM_RETENTION_INTERVAL_SECONDS. Each tenant's expiry is one unit of work, each erasure another, all through
the same command handlers as the API (handlers.expire_free_text, handlers.erase_subject).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime

import asyncpg

from services.pairing import erasure_repository, handlers
from shared.errors import Conflict, NotFound
from shared.runtime import ServiceHost
from shared.topics import Topics
from shared.uow import UnitOfWork

log = logging.getLogger(__name__)

#: The reason recorded for an erasure after leaving.
AFTER_LEAVING = "retention_after_leaving"


@dataclass
class RetentionReport:
    #: tenant -> the programmes whose free text expired in this pass
    expired: dict[str, list[str]] = field(default_factory=dict)
    #: (tenant, employee id) erased after leaving in this pass
    erased: list[tuple[str, str]] = field(default_factory=list)


async def run_once(
    pool: asyncpg.Pool,
    topics: Topics,
    *,
    now: datetime,
    erase_after_days: int | None = None,
    tenants: Collection[str] | None = None,
) -> RetentionReport:
    """One pass as of `now` (aware): expire free text for every tenant with a policy (or those of `tenants`), then
    erase the leavers of more than `erase_after_days` days (None: nobody)."""
    if now.tzinfo is None:
        raise ValueError("now needs a time zone")
    report = RetentionReport()
    async with pool.acquire() as conn:
        with_policy = await erasure_repository.tenants_with_policy(conn)
    for tenant in with_policy:
        if tenants is not None and tenant not in tenants:
            continue
        async with UnitOfWork(pool, topics, tenant=tenant) as uow:
            expired = await handlers.expire_free_text(uow, now)
        if expired:
            report.expired[tenant] = expired
            log.info("free text expired", extra={"tenant": tenant, "programmes": expired})
    if erase_after_days is None:
        return report
    async with pool.acquire() as conn:
        leavers = await erasure_repository.leavers_to_erase(conn, now.astimezone(UTC).date(), erase_after_days)
    for tenant, employee_id in leavers:
        if tenants is not None and tenant not in tenants:
            continue
        try:
            async with UnitOfWork(pool, topics, tenant=tenant) as uow:
                await handlers.erase_subject(uow, employee_id, reason=AFTER_LEAVING, requested_by="retention")
        except (Conflict, NotFound):  # erased (or renumbered) meanwhile by someone else
            continue
        report.erased.append((tenant, employee_id))
    return report


async def run_retention(host: ServiceHost, clock: Callable[[], datetime] | None = None) -> None:
    """The background task: a pass now and every `retention_interval_seconds`; a failed pass is logged and retried
    at the next interval (the work it did not do is still there to do)."""
    now = clock or (lambda: datetime.now(UTC))
    settings = host.settings
    with contextlib.suppress(asyncio.CancelledError):
        while True:
            try:
                await run_once(
                    host.pool,
                    host.topics,
                    now=now(),
                    erase_after_days=settings.erase_after_days,
                    tenants=None if "*" in settings.tenants else settings.tenants,
                )
            except Exception:
                log.exception("retention pass failed; trying again at the next interval")
            await asyncio.sleep(settings.retention_interval_seconds)
