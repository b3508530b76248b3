"""Addressing a mail: the rules, pure (no I/O).

* **Header values** (display names, subjects) are made single-line: a carriage return, a line feed and every
  other control, line or paragraph separator character becomes a space, runs of white space become one, and the
  ends are trimmed. That is cleaning, not an error: "Chloé\\nMüller" goes out as "Chloé Müller".
* **An address** is `local@domain`. Its domain goes out in its IDNA form (UTS 46, IDNA 2008:
  `müller.example` -> `xn--mller-kva.example`), so any mail server routes it; its local part is kept as it is.
  A local part that is not ASCII (`chloé.9`) needs SMTPUTF8 (RFC 6531) from the server that takes the mail.
  Anything else that cannot be an address (no @, a line break, spaces, quotes, an empty or dotted-out part, a
  domain that is no host name) is an AddressError with the reason: the notification fails with it, visibly,
  and can be resent once the address is corrected.
* **The Message-ID** of a notification is `<notification id@sender's domain>`: the same on every attempt, retry,
  resend and restart, so a receiver that gets the same notification twice can tell (and drop the second).
  A chat message carries the same id (without the angle brackets) as its Idempotency-Key.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from dataclasses import dataclass
from email.utils import parseaddr

import idna


class AddressError(ValueError):
    """An address that no mail can go to, with the reason in words."""


#: Characters a dot-atom local part may hold besides letters and digits (RFC 5322 atext).
_ATEXT = frozenset("!#$%&'*+-/=?^_`{|}~")
_SPACES = re.compile(r"\s+")
MAX_LOCAL_OCTETS = 64
MAX_ADDRESS_OCTETS = 254


def single_line(value: str) -> str:
    """`value` as one line: control characters (CR and LF among them) and line or paragraph separators become
    spaces, runs of white space one space, no white space at either end."""
    out = "".join(" " if unicodedata.category(c) in ("Cc", "Zl", "Zp") else c for c in value)
    return _SPACES.sub(" ", out).strip()


@dataclass(frozen=True)
class Mailbox:
    """An address as it goes out: the local part as given, the domain in ASCII (IDNA), a single-line name."""

    local_part: str
    domain: str
    display_name: str = ""

    @property
    def addr_spec(self) -> str:
        return f"{self.local_part}@{self.domain}"

    @property
    def needs_smtputf8(self) -> bool:
        """Whether a server must offer SMTPUTF8 to take mail for (or from) this address."""
        return not self.local_part.isascii()


def ascii_domain(domain: str) -> str:
    """The domain in its IDNA (ASCII) form; AddressError when it is no host name."""
    name = domain.strip().removesuffix(".")
    if not name:
        raise AddressError("the address has no domain after the @")
    if name.startswith("["):
        raise AddressError(f"address literals are not accepted: {name}")
    try:
        return idna.encode(name, uts46=True).decode("ascii")
    except idna.IDNAError as exc:
        raise AddressError(f"the domain {name!r} is not a valid host name: {exc}") from exc


def _check_local_part(local: str) -> None:
    if not local:
        raise AddressError("the address has nothing before the @")
    if local.startswith('"'):
        raise AddressError("quoted local parts are not accepted")
    if local.startswith(".") or local.endswith(".") or ".." in local:
        raise AddressError(f"the local part {local!r} starts or ends with a dot, or has two in a row")
    for c in local:
        if c.isascii():
            if not (c.isalnum() or c == "." or c in _ATEXT):
                raise AddressError(f"the local part {local!r} holds a character not allowed there: {c!r}")
        elif unicodedata.category(c)[0] in ("C", "Z"):
            raise AddressError(f"the local part {local!r} holds a control or space character: {c!r}")
    if len(local.encode()) > MAX_LOCAL_OCTETS:
        raise AddressError(f"the local part is longer than {MAX_LOCAL_OCTETS} octets")


def mailbox(address: str, display_name: str = "") -> Mailbox:
    """The mailbox of `address` (a bare `local@domain`) with `display_name` made single-line; AddressError with the
    reason when the address cannot take mail."""
    text = address.strip()
    if not text:
        raise AddressError("no address")
    if any(c in text for c in "\r\n"):
        raise AddressError(f"the address {text!r} holds a line break")
    if "@" not in text:
        raise AddressError(f"the address {text!r} has no @")
    local, _, domain = text.rpartition("@")
    _check_local_part(local)
    box = Mailbox(local, ascii_domain(domain), single_line(display_name))
    if len(box.addr_spec.encode()) > MAX_ADDRESS_OCTETS:
        raise AddressError(f"the address is longer than {MAX_ADDRESS_OCTETS} octets")
    return box


def sender(configured: str) -> Mailbox:
    """The sender from its setting, `Name <local@domain>` or a bare address; AddressError when it is none."""
    name, address = parseaddr(configured)
    if not address:
        raise AddressError(f"the sender {configured!r} has no address")
    return mailbox(address, name)


def message_id(notification_id: uuid.UUID | str, sender_domain: str) -> str:
    """The notification's Message-ID: `<id@domain>`, one per notification and sender domain, whatever the try."""
    return f"<{uuid.UUID(str(notification_id))}@{ascii_domain(sender_domain)}>"


def idempotency_key(message_id: str) -> str:
    """The id a chat message is sent with: the Message-ID without its angle brackets."""
    return message_id.removeprefix("<").removesuffix(">")


def smtputf8_refused(box: Mailbox) -> str:
    """The reason a notification fails when the server cannot take the address (it offers no SMTPUTF8)."""
    return (f"the mail server does not offer SMTPUTF8, which the address {box.addr_spec} needs (its local part "
            "is not ASCII); correct the address or use a server that offers SMTPUTF8")  # fmt: skip
