"""`Mailer` adapters: over SMTP (a real mail server) and over HTTP to the mailbox
simulator (the default). Both carry the mail's deterministic Message-ID, so a retried
send is recognisably the same mail.

Errors follow `domain.outbound`: the mail certainly did not go out ->
`ProviderUnavailable`; it may have -> `OutcomeUnknown`; refused for good (5xx SMTP
reply, 4xx HTTP) -> `ProviderRejected`. Addresses are not logged, and a server's reply,
which commonly names the recipient (`550 5.1.1 <someone@example.com>: Recipient address
rejected`), is scrubbed where it becomes our text (`_reply`).
"""

from __future__ import annotations

import asyncio
import smtplib
from email.message import EmailMessage
from email.utils import formatdate
from urllib.parse import quote

import httpx

from adapters.outbound_http import describe, error_text, party_text, send, status_error
from domain.outbound import OutcomeUnknown, ProviderRejected, ProviderUnavailable
from domain.reimbursements.ports import OutboundMail


def build_message(mail: OutboundMail) -> EmailMessage:
    message = EmailMessage()
    message["Message-ID"] = mail.message_id
    message["From"] = mail.sender
    message["To"] = mail.to
    message["Subject"] = mail.subject
    message["Date"] = formatdate(usegmt=True)
    message.set_content(mail.text)
    return message


class SmtpMailer:
    """One SMTP session per mail, in a worker thread (`smtplib` blocks)."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        timeout_seconds: float = 10.0,
        starttls: bool = False,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.timeout_seconds = timeout_seconds
        self.starttls = starttls
        self.username = username
        self.password = password

    async def send(self, mail: OutboundMail) -> None:
        await asyncio.to_thread(self._send, build_message(mail))

    def _send(self, message: EmailMessage) -> None:
        try:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout_seconds)
        except (OSError, smtplib.SMTPException) as error:
            raise ProviderUnavailable(f"SMTP server unreachable: {_describe(error)}") from error
        try:
            with smtp:
                if self.starttls:
                    smtp.starttls()
                if self.username:
                    smtp.login(self.username, self.password or "")
                refused = smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as error:
            code, reply = min(error.recipients.values(), default=(550, b""))
            raise _by_code(code, f"recipient refused: {_reply(reply)}") from error
        except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as error:
            raise _by_code(error.smtp_code, _reply(error.smtp_error)) from error
        except smtplib.SMTPAuthenticationError as error:
            raise ProviderUnavailable(f"SMTP login failed: {error.smtp_code}") from error
        except (smtplib.SMTPServerDisconnected, TimeoutError, OSError) as error:
            raise OutcomeUnknown(f"SMTP session lost: {describe(error)}") from error
        except smtplib.SMTPException as error:
            raise OutcomeUnknown(f"SMTP error: {_describe(error)}") from error
        if refused:  # some recipients refused: there is only one
            raise ProviderRejected("recipient refused")


def _by_code(code: int, detail: str) -> ProviderRejected | ProviderUnavailable:
    """5xx replies are final; 4xx are "try again later"."""
    text = f"SMTP server answered {code}: {detail}"
    return ProviderRejected(text) if code >= 500 else ProviderUnavailable(text)


def _reply(reply: bytes | str) -> str:
    """A server's reply as our text: decoded, scrubbed and capped (`party_text`)."""
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    return party_text(text)


def _describe(error: BaseException) -> str:
    """An error's type, and for a server's reply its code and `_reply`."""
    if isinstance(error, smtplib.SMTPResponseException):
        return f"{type(error).__name__}: {error.smtp_code} {_reply(error.smtp_error)}"
    return describe(error)


class HttpMailer:
    """Posts the mail to the mailbox simulator's `POST /v1/mail`."""

    def __init__(self, client: httpx.AsyncClient, base_url: str) -> None:
        self._client = client
        self._url = base_url.rstrip("/") + "/v1/mail"

    async def send(self, mail: OutboundMail) -> None:
        body = {
            "message_id": mail.message_id,
            "from": mail.sender,
            "to": mail.to,
            "subject": mail.subject,
            "text": mail.text,
        }
        response = await send(self._client, "POST", self._url, party="mailbox", json=body)
        if not 200 <= response.status_code < 300:
            raise status_error(
                response.status_code, error_text(response), party="mailbox", what="mail"
            )


def mailbox_path(message_id: str) -> str:
    """`/v1/mail/{message_id}` with the Message-ID's `<`, `@`, `>` escaped."""
    return f"/v1/mail/{quote(message_id, safe='')}"
