"""Handler registration: several per type, side effects never replayed."""

from __future__ import annotations

from typing import Any

from shared.consumer import Handlers
from shared.db import Conn
from shared.events import Envelope
from shared.events.pairing import PairCreated, PairEnded


def test_replay_runs_only_projection_handlers_in_registration_order() -> None:
    h = Handlers()

    @h.on(PairCreated, PairEnded)
    async def project(conn: Conn, env: Envelope[Any]) -> None: ...

    @h.on(PairEnded, side_effects=True)
    async def send_survey(conn: Conn, env: Envelope[Any]) -> None: ...

    assert h.for_type(PairEnded.TYPE) == [project, send_survey]
    assert h.for_type(PairEnded.TYPE, replay=True) == [project]
    assert h.for_type("tandem.pairing.Nothing") == []
    other = Handlers()
    other.include(h)
    assert other.for_type(PairEnded.TYPE, replay=True) == [project]
