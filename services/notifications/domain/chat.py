"""Chat webhooks: where a person's notifications may be posted. The rules, pure (no I/O).

A person may have their notifications posted to a chat webhook (Slack, Teams...). The service then POSTs
their messages to that URL, so where it may point is bounded:

* https only (plain http only where the development setting NOTIFICATIONS_WEBHOOK_ALLOW_INSECURE allows it);
* its host must be on the tenant's list of chat webhook hosts, which HR keeps (`PUT /chat-webhook-hosts`);
  exact host names, compared case-insensitively and in their IDNA (punycode) form, any port;
* its host must resolve to public addresses only (never loopback, private, link-local...: network.py applies
  domain/webhooks.py's address rules), unless the development setting allows them.

Each is checked when a person saves the URL and again before every message is posted: a host HR took off the
list, or a name that now resolves somewhere private, fails the notification with the reason. Redirects are
never followed. Every refusal names the field `chat_webhook_url` (the list's own refusals name `hosts`).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from urllib.parse import urlsplit

from services.notifications.domain.webhooks import Target, check_url, literal_address
from shared.errors import InvalidInput

FIELD = "chat_webhook_url"
HOSTS_FIELD = "hosts"
#: At most this many hosts on a tenant's list.
MAX_HOSTS = 100
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
#: Labels of letters, digits and hyphens; the last one starts with a letter, so that nothing a resolver would read
#: as a number (1.2.3, 0x7f000001) passes for a name.
_HOST_NAME = re.compile(rf"^(?=.{{1,253}}$)(?:{_LABEL}\.)*[a-z](?:[a-z0-9-]{{0,61}}[a-z0-9])?$")


def normal_host(host: str) -> str | None:
    """The host as compared with the list: lower case, no trailing dot, IDNA (punycode) for names, the canonical
    text of an IP address (IPv6 without brackets); None when it is neither a host name nor an IP address."""
    text = host.strip().lower()
    literal = literal_address(text)
    if literal is not None:
        return literal
    text = text.removesuffix(".")
    try:
        ascii_name = text.encode("idna").decode("ascii")
    except UnicodeError:
        return None
    return ascii_name if _HOST_NAME.match(ascii_name) else None


def check_hosts(hosts: Iterable[str]) -> list[str]:
    """A tenant's list of chat webhook hosts: each a bare host name or IP address (no scheme, port, path or
    wildcard), normalised, de-duplicated and sorted; 422 naming `hosts` otherwise."""
    given = list(hosts)
    if len(given) > MAX_HOSTS:
        raise InvalidInput(f"at most {MAX_HOSTS} chat webhook hosts", field=HOSTS_FIELD)
    out: set[str] = set()
    for raw in given:
        host = normal_host(raw)
        if host is None:
            raise InvalidInput(
                f"{raw!r} is not a host name: give the host alone, like hooks.slack.com "
                "(no scheme, port, path or wildcard)",
                field=HOSTS_FIELD,
            )
        out.add(host)
    return sorted(out)


def check_chat_url(url: str, allowed: Collection[str], *, allow_insecure: bool) -> Target:
    """The URL's parts when it is https (http only in development) and its host is on the tenant's list
    `allowed` (normalised hosts); 422 naming `chat_webhook_url` otherwise. Its addresses are checked apart
    (network.py), since that needs the resolver."""
    if len(url) > 2000:
        raise InvalidInput("the URL is longer than 2,000 characters", field=FIELD)
    # what URL parsers read differently (the host checked here must be the host the request goes to)
    if any(c.isspace() or not c.isprintable() or c == "\\" for c in url.strip()):
        raise InvalidInput("the URL holds spaces, control characters or a backslash", field=FIELD)
    target = check_url(url, allow_insecure=allow_insecure, field=FIELD)
    if "@" in urlsplit(target.url).netloc:
        raise InvalidInput("the URL must not carry a user name or password", field=FIELD)
    host = normal_host(target.host)
    if host is None or host not in allowed:
        raise InvalidInput(
            f"host {target.host} is not on this organisation's list of chat webhook hosts (HR keeps it)", field=FIELD
        )
    return target
