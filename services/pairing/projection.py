"""Events pairing consumes. The HR inbound feed arrives here (employee hired / updated / left)."""

from __future__ import annotations

from shared.consumer import Handlers
from shared.runtime import ServiceHost


def build_handlers(host: ServiceHost) -> Handlers:
    return Handlers()
