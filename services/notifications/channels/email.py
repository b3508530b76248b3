"""E-mail over SMTP (aiosmtplib): STARTTLS and authentication configurable."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, make_msgid

import aiosmtplib

from services.notifications.channels import Outgoing, PermanentDeliveryError, TransientDeliveryError


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


class SmtpChannel:
    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings

    def build(self, message: Outgoing) -> EmailMessage:
        mail = EmailMessage()
        mail["From"] = self.settings.sender
        mail["To"] = formataddr((message.to_name, message.to_address))
        mail["Subject"] = message.subject
        # a stable Message-ID: a receiving system can drop a duplicate delivery of the same notification
        mail["Message-ID"] = make_msgid(idstring=message.notification_id, domain="tandem")
        mail["X-Tandem-Notification"] = message.notification_id
        mail.set_content(message.text)
        for filename, mime, data in message.attachments:
            maintype, _, subtype = mime.partition("/")
            params = subtype.split(";")
            mail.add_attachment(data, maintype=maintype, subtype=params[0].strip(), filename=filename)
        return mail

    async def send(self, message: Outgoing) -> None:
        s = self.settings
        context = ssl.create_default_context()
        if not s.verify_tls:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        try:
            await aiosmtplib.send(
                self.build(message), hostname=s.host, port=s.port, start_tls=s.starttls, use_tls=False,
                username=s.username, password=s.password, timeout=s.timeout,
                tls_context=context if s.starttls else None,
            )  # fmt: skip
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
