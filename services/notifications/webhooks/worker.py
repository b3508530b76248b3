"""The delivery worker: claims due deliveries (several replicas never send one at once), POSTs each signed
CloudEvent, and settles it: delivered, failed with the next attempt planned, or dead after the last one.

Claims are leases (`claimed_until`), taken with FOR UPDATE SKIP LOCKED; the attempt is counted in the claim,
before the request goes out. A worker that dies mid-send leaves the attempt on record; its lease lapses and
another worker sends again with the same webhook-id, which the receiver de-duplicates by. Settling checks
the claim (worker and attempt number), so a worker that outlived its lease cannot overwrite a newer attempt.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx

from services.notifications.domain import webhooks
from services.notifications.webhooks import repository as repo
from services.notifications.webhooks.config import WebhookSettings
from services.notifications.webhooks.network import check_target
from shared.errors import InvalidInput
from shared.runtime import ServiceHost

log = logging.getLogger(__name__)
USER_AGENT = "Tandem-Webhooks/1.0"


class WebhookWorker:
    def __init__(self, host: ServiceHost, settings: WebhookSettings) -> None:
        self.host = host
        self.settings = settings
        self.worker = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.delivered = 0
        self.failed = 0
        self._client = httpx.AsyncClient(
            follow_redirects=False,
            timeout=httpx.Timeout(settings.timeout),
            headers={"user-agent": USER_AGENT},
            trust_env=False,  # no proxies from the environment: the address rules apply to the receiver itself
        )

    async def run(self) -> None:
        try:
            while True:
                try:
                    await repo.bury_abandoned(self.host.pool, self.settings.retry.max_attempts)
                    while await self.deliver_due():
                        pass
                except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                    log.warning("webhook delivery: %s; retrying", exc)
                await asyncio.sleep(self.settings.interval)
        finally:
            await self._client.aclose()

    async def deliver_due(self) -> int:
        s = self.settings
        jobs = await repo.claim(self.host.pool, self.worker, timedelta(seconds=s.lease), s.batch, s.retry.max_attempts)
        results = await asyncio.gather(*(self.attempt(job) for job in jobs), return_exceptions=True)
        for job, result in zip(jobs, results, strict=True):
            if isinstance(result, BaseException):  # its claim lapses and it is tried again
                log.error("webhook delivery %s failed unexpectedly", job["delivery_id"], exc_info=result)
        return len(jobs)

    async def attempt(self, job: Any) -> None:
        status_code, error = await self.send(job)
        if status_code is not None and webhooks.is_success(status_code):
            await repo.delivered(self.host.pool, job["delivery_id"], self.worker, job["attempts"], status_code)
            self.delivered += 1
            return
        status, next_at = self.settings.retry.after_failure(job["attempts"], datetime.now(UTC), random.random())
        await repo.attempt_failed(
            self.host.pool,
            job["delivery_id"],
            self.worker,
            job["attempts"],
            status=status,
            next_attempt_at=next_at,
            status_code=status_code,
            error=error or "failed",
        )
        self.failed += 1
        log.info("webhook delivery %s attempt %d: %s (%s)", job["delivery_id"], job["attempts"], error, status)

    async def send(self, job: Any) -> tuple[int | None, str | None]:
        """One POST; (status code, error in words). Never follows a redirect."""
        try:
            await check_target(job["url"], allow_insecure=self.settings.allow_insecure)
        except InvalidInput as exc:
            return None, f"refused: {exc.message}"
        body: str = job["body"]
        headers = webhooks.signed_headers(job["secret"], str(job["delivery_id"]), datetime.now(UTC), body)
        try:
            async with self._client.stream("POST", job["url"], content=body.encode(), headers=headers) as r:
                code = r.status_code
                location = r.headers.get("location", "")
        except httpx.TimeoutException:
            return None, f"timed out after {self.settings.timeout:g} s"
        except httpx.HTTPError as exc:
            return None, f"unreachable: {type(exc).__name__}: {exc}"
        if webhooks.is_success(code):
            return code, None
        return code, webhooks.describe_failure(code, None, {"location": location} if location else None)


async def run_webhook_worker(host: ServiceHost) -> None:
    worker = WebhookWorker(host, WebhookSettings.from_extra(host.settings.extra))
    host.app.state.webhook_worker = worker
    with contextlib.suppress(asyncio.CancelledError):
        await worker.run()
