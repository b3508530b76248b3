"""Where a webhook URL leads: resolve its host and apply the address rules (domain/webhooks.py).

Checked when a subscription (or a person's chat webhook) is saved and again before every attempt, since what
a name resolves to can change after it was accepted.
"""

from __future__ import annotations

import asyncio
import socket

from services.notifications.domain.webhooks import Target, check_addresses, check_url, literal_address


async def resolve(host: str, port: int) -> list[str]:
    literal = literal_address(host)
    if literal is not None:
        return [literal]
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return []
    return sorted({str(info[4][0]) for info in infos})


async def check_target(url: str, *, allow_insecure: bool, field: str = "url") -> Target:
    """The URL's parts once it passes every rule; InvalidInput (naming `field`) otherwise."""
    target = check_url(url, allow_insecure=allow_insecure, field=field)
    await check_resolved(target, allow_insecure=allow_insecure, field=field)
    return target


async def check_resolved(target: Target, *, allow_insecure: bool, field: str = "url") -> None:
    """Refuse a target whose host resolves to nothing or to any address that is not public (unless the
    development setting allows it); InvalidInput (naming `field`)."""
    check_addresses(target.host, await resolve(target.host, target.port), allow_private=allow_insecure, field=field)
