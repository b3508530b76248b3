"""The fixtures the notifications integration tests share: a real SMTP server, a webhook receiver, and the rig
(one programme, a mentor and a mentee, and the notifications service they are known to)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from shared.infra import Infra
from tests import auth
from tests.conftest import HostFactory
from tests.integration.notifications.receiver import Receiver
from tests.integration.notifications.servers import SmtpServer
from tests.integration.notifications.test_delivery import Rig


async def rigged(
    infra: Infra, start: HostFactory, smtp: SmtpServer, tenant: str = auth.DEFAULT_TENANT
) -> AsyncIterator[Rig]:
    """A rig for a test, and afterwards its service's HTTP server stopped (where the test started one)."""
    rig = Rig(infra, start, smtp, tenant=tenant)
    yield rig
    if rig.host is not None and hasattr(rig.host.app.state, "test_server"):
        server, task = rig.host.app.state.test_server
        server.should_exit = True
        await task


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture
async def rig(infra: Infra, start_service: HostFactory, smtp: SmtpServer) -> AsyncIterator[Rig]:
    async for r in rigged(infra, start_service, smtp):
        yield r


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = await Receiver().start()
    yield r
    await r.stop()
