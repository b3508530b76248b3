"""E-mail over SMTP (aiosmtplib): STARTTLS and authentication configurable.

Every mail carries the notification's Message-ID (the same on every attempt). Headers are single-line (names and
subjects cleaned of line breaks), the recipient's domain goes out in its IDNA form, and an address whose local part
is not ASCII is sent with SMTPUTF8 (RFC 6531) when the server offers it; when it does not, the notification fails
with that reason (domain/mail.py). aiosmtplib would add SMTPUTF8 by itself for such an address; it is asked for
explicitly here, and the server's answer to EHLO checked first, so the reason is ours and nothing is half-sent.

The mail is written out here, once, as the server gets it: headers RFC 2047-encoded (UTF-8 as they are under
SMTPUTF8) and not folded (Python 3.11 folds two encoded words onto two lines and so drops the space between them:
"Chloé Müller" would arrive as "ChloéMüller"; a header line may be 998 octets), the body 7-bit (quoted-printable
when it is not ASCII), so it needs neither 8BITMIME nor anything else of the server."""

from __future__ import annotations

import email.policy
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

import aiosmtplib

from services.notifications.channels import Outgoing, PermanentDeliveryError, TransientDeliveryError
from services.notifications.domain import mail


@dataclass(frozen=True)
class SmtpSettings:
    host: str = "127.0.0.1"
    port: int = 25
    starttls: bool = False
    username: str | None = None
    password: str | None = None
    sender: str = "Tandem <tandem@localhost>"
    timeout: float = 15.0
    verify_tls: bool = True


#: RFC 5322's limit for a line; headers are written unfolded (see above)
MAX_LINE = 998


@dataclass(frozen=True)
class PreparedMail:
    mail: EmailMessage
    #: the mail as the server gets it
    data: bytes
    to: mail.Mailbox
    #: the envelope needs SMTPUTF8 (a local part that is not ASCII)
    smtputf8: bool


def _address(box: mail.Mailbox) -> Address:
    return Address(display_name=box.display_name, username=box.local_part, domain=box.domain)


class SmtpChannel:
    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        #: the sender's mailbox (AddressError at start-up when NOTIFICATIONS_SMTP_FROM is none)
        self.sender = mail.sender(settings.sender)

    def prepare(self, message: Outgoing) -> PreparedMail:
        """The mail as it will go out; PermanentDeliveryError with the reason when the address or a header
        cannot be sent (checked here, before any attempt)."""
        try:
            to = mail.mailbox(message.to_address, message.to_name)
        except mail.AddressError as exc:
            raise PermanentDeliveryError(f"address refused: {exc}") from exc
        smtputf8 = to.needs_smtputf8 or self.sender.needs_smtputf8
        try:
            built = EmailMessage()
            built["From"] = _address(self.sender)
            built["To"] = _address(to)
            built["Subject"] = mail.single_line(message.subject)
            built["Date"] = format_datetime(datetime.now(UTC))
            # the same on every attempt: a receiving system can drop a second copy of the same notification
            built["Message-ID"] = message.message_id
            built["X-Tandem-Notification"] = message.notification_id
            plain = message.text.isascii() and all(len(line) < MAX_LINE for line in message.text.splitlines())
            built.set_content(message.text, cte="7bit" if plain else "quoted-printable")
            for filename, mime, data in message.attachments:
                maintype, _, subtype = mime.partition("/")
                params = subtype.split(";")
                built.add_attachment(data, maintype=maintype, subtype=params[0].strip(), filename=filename)
            # written out now, as the server will get it: whatever the headers cannot carry fails here
            policy = email.policy.SMTPUTF8 if smtputf8 else email.policy.SMTP
            data = built.as_bytes(policy=policy.clone(max_line_length=MAX_LINE))
        except (ValueError, TypeError, LookupError) as exc:
            raise PermanentDeliveryError(f"the mail cannot be built: {type(exc).__name__}: {exc}") from exc
        return PreparedMail(built, data, to, smtputf8)

    async def send(self, prepared: PreparedMail) -> str:
        """Hand the mail to the server; its reply once it took it (250)."""
        s = self.settings
        context = ssl.create_default_context()
        if not s.verify_tls:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        client = aiosmtplib.SMTP(
            hostname=s.host, port=s.port, start_tls=s.starttls, use_tls=False, username=s.username,
            password=s.password, timeout=s.timeout, tls_context=context if s.starttls else None,
        )  # fmt: skip
        try:
            await client.connect()
            try:
                if client.is_ehlo_or_helo_needed:  # what the server offers: its answer to EHLO
                    await client.ehlo()
                if prepared.smtputf8 and not client.supports_extension("smtputf8"):
                    raise PermanentDeliveryError(mail.smtputf8_refused(prepared.to))
                _, reply = await client.sendmail(
                    self.sender.addr_spec, [prepared.to.addr_spec], prepared.data,
                    mail_options=["SMTPUTF8"] if prepared.smtputf8 else [],
                )  # fmt: skip
            finally:
                try:  # the mail is taken (or refused) before QUIT: its fate is no part of the outcome
                    await client.quit()
                except (aiosmtplib.SMTPException, OSError, TimeoutError):
                    client.close()
        except aiosmtplib.SMTPRecipientsRefused as exc:
            if any(500 <= r.code < 600 for r in exc.recipients):
                raise PermanentDeliveryError(f"recipient refused: {exc}") from exc
            raise TransientDeliveryError(f"recipient deferred: {exc}") from exc
        except aiosmtplib.SMTPResponseException as exc:
            if 500 <= exc.code < 600:
                raise PermanentDeliveryError(f"SMTP {exc.code}: {exc.message}") from exc
            raise TransientDeliveryError(f"SMTP {exc.code}: {exc.message}") from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise TransientDeliveryError(f"SMTP server {s.host}:{s.port} unreachable: {exc}") from exc
        return f"250 {reply}"
