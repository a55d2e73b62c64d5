"""The SMTP `Mailer` adapter against a real SMTP server (aiosmtpd) on a real port."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session

from adapters.mailer import SmtpMailer
from domain.outbound import ProviderRejected, ProviderUnavailable
from domain.reimbursements.ports import OutboundMail
from domain.work import PermanentFailure, TransientFailure
from ledgerflow.logs import JsonFormatter
from processes.outbound import outcome_of

log = logging.getLogger(__name__)
REFUSED = "gone@example.com"
LATER = "full@example.com"
# Refused with the address in the reply, as most servers do.
NAMED = "nils.lund@example.com"
NAMED_LATER = "karin.holm@example.com"
NAMED_AT_DATA = "ebba.strand@example.com"
PHONE = "+4520123456"


class Recorder:
    """aiosmtpd handler: keeps every message; refuses two addresses (550 and 451), and
    three more with the address in its reply (at RCPT 550 and 451, at DATA 554)."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if address == REFUSED:
            return "550 5.1.1 no such mailbox"
        if address == LATER:
            return "451 4.2.2 mailbox full, try later"
        if address == NAMED:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        if address == NAMED_LATER:
            return f"451 4.2.2 <{address}> ({PHONE}): mailbox full, try later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if NAMED_AT_DATA in envelope.rcpt_tos:
            return f"554 5.7.1 message to <{NAMED_AT_DATA}> ({PHONE}) refused as spam"
        content = envelope.original_content or b""
        self.messages.append(message_from_bytes(content))
        return "250 OK"


@pytest.fixture(scope="module")
def smtp_server() -> Iterator[tuple[int, Recorder]]:
    """A real SMTP server on port 0, on its own event loop thread."""
    recorder = Recorder()
    loop = asyncio.new_event_loop()
    started = threading.Event()
    holder: dict[str, Any] = {}

    async def start() -> None:
        server = await loop.create_server(
            lambda: SMTP(recorder, hostname="ledgerflow-test"), "127.0.0.1", 0
        )
        holder["server"] = server
        holder["port"] = server.sockets[0].getsockname()[1]
        started.set()

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(start(), loop)
    assert started.wait(10), "the SMTP server did not start"
    yield holder["port"], recorder
    holder["server"].close()
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


def mail(to: str = "astrid.berg@example.com") -> OutboundMail:
    return OutboundMail(
        message_id="<reimbursement-42-approved@ledgerflow>",
        sender="reimbursements@ledgerflow.example",
        to=to,
        subject="Your reimbursement of EUR 129.90 was approved",
        text="Dear Astrid,\n\nyour reimbursement was approved.\n",
    )


async def test_a_mail_arrives_with_its_message_id_and_a_retry_is_the_same_mail(
    smtp_server: tuple[int, Recorder],
) -> None:
    port, recorder = smtp_server
    before = len(recorder.messages)
    mailer = SmtpMailer("127.0.0.1", port, timeout_seconds=5)
    await mailer.send(mail())
    await mailer.send(mail())  # a retry after, say, a lost answer
    received = recorder.messages[before:]
    assert len(received) == 2
    assert {m["Message-ID"] for m in received} == {"<reimbursement-42-approved@ledgerflow>"}
    assert received[0]["Subject"] == mail().subject and received[0]["To"] == mail().to
    assert "was approved" in received[0].get_payload()


async def test_a_refused_recipient_is_permanent_and_a_full_one_transient(
    smtp_server: tuple[int, Recorder],
) -> None:
    port, _ = smtp_server
    mailer = SmtpMailer("127.0.0.1", port, timeout_seconds=5)
    with pytest.raises(ProviderRejected, match="550"):
        await mailer.send(mail(REFUSED))
    with pytest.raises(ProviderUnavailable, match="451"):
        await mailer.send(mail(LATER))


@pytest.mark.parametrize(
    ("to", "error", "explanation"),
    [
        (NAMED, ProviderRejected, "550: recipient refused: 5.1.1 <…@example.com>: Recipient"),
        (NAMED_LATER, ProviderUnavailable, "451: recipient refused: 4.2.2 <…@example.com> (+452"),
        (NAMED_AT_DATA, ProviderRejected, "554: 5.7.1 message to <…@example.com> (+452"),
    ],
)
async def test_a_reply_naming_the_recipient_is_recorded_and_logged_without_the_address(
    smtp_server: tuple[int, Recorder],
    caplog: pytest.LogCaptureFixture,
    to: str,
    error: type[Exception],
    explanation: str,
) -> None:
    port, _ = smtp_server
    mailer = SmtpMailer("127.0.0.1", port, timeout_seconds=5)
    with pytest.raises(error) as raised:
        await mailer.send(mail(to))
    with caplog.at_level(logging.INFO):
        # What the mail's work records (the row, the reimbursement) and logs on a retry.
        outcome = await outcome_of(
            mailer.send(mail(to)), lambda _: pytest.fail("no error"), log=log
        )
    assert isinstance(outcome, PermanentFailure | TransientFailure)
    logged = [JsonFormatter().format(record) for record in caplog.records]
    for text in (str(raised.value), outcome.error, *logged):
        assert to not in text and to.split("@")[0] not in text
        assert PHONE not in text and PHONE[1:] not in text
    assert explanation in str(raised.value) and explanation in outcome.error


async def test_no_server_means_not_sent() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    with pytest.raises(ProviderUnavailable):
        await SmtpMailer("127.0.0.1", closed_port, timeout_seconds=2).send(mail())
