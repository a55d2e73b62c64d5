"""The payment rail and mailbox adapters map answers and transport errors to the ports'
errors (httpx.MockTransport: no network)."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal

import httpx
import pytest

from adapters.mailer import HttpMailer, build_message, mailbox_path
from adapters.payment_rail import HttpPaymentRail
from domain.outbound import OutcomeUnknown, ProviderRejected, ProviderUnavailable
from domain.reimbursements.ports import OutboundMail, PaymentOrder, RailStatus

ORDER = PaymentOrder(
    idempotency_key="k-1",
    bank_id="b",
    account_id="a",
    amount=Decimal("12.5"),
    currency="EUR",
    reference="r",
)
MAIL = OutboundMail(
    message_id="<reimbursement-1-approved@ledgerflow>",
    sender="from@example.com",
    to="to@example.com",
    subject="Approved",
    text="Hello",
)
Handler = Callable[[httpx.Request], httpx.Response]


def client(handler: Handler) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


def raises(error: Exception) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        raise error

    return handler


async def test_create_sends_the_key_and_money_as_a_string() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(202, json={"payment_id": "PAY1", "status": "PENDING"})

    async with client(handler) as http:
        payment = await HttpPaymentRail(http, "http://rail/").create(ORDER)
    assert payment.payment_id == "PAY1" and payment.status is RailStatus.PENDING
    assert seen[0].url == "http://rail/v1/payments"
    assert seen[0].headers["Idempotency-Key"] == "k-1"
    assert json.loads(seen[0].content)["amount"] == "12.50"


async def test_status_reads_the_payment() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v1/payments/PAY1"
        body = {"payment_id": "PAY1", "status": "FAILURE", "failure_reason": "closed"}
        return httpx.Response(200, json=body)

    async with client(handler) as http:
        payment = await HttpPaymentRail(http, "http://rail").status("PAY1")
    assert payment.status is RailStatus.FAILURE and payment.failure_reason == "closed"


@pytest.mark.parametrize(
    ("handler", "error"),
    [
        (lambda r: httpx.Response(503, text="busy"), ProviderUnavailable),
        (lambda r: httpx.Response(429, text="slow down"), ProviderUnavailable),
        (lambda r: httpx.Response(400, json={"error": "bad amount"}), ProviderRejected),
        (lambda r: httpx.Response(404, json={"error": "no such payment"}), ProviderRejected),
        (lambda r: httpx.Response(202, text="not json"), OutcomeUnknown),
        (lambda r: httpx.Response(202, json={"payment_id": "P", "status": "?"}), OutcomeUnknown),
        (raises(httpx.ConnectError("refused")), ProviderUnavailable),
        (raises(httpx.ReadTimeout("slow")), OutcomeUnknown),
        (raises(httpx.RemoteProtocolError("dropped")), OutcomeUnknown),
    ],
)
async def test_rail_errors_say_whether_the_payment_may_exist(
    handler: Handler, error: type[Exception]
) -> None:
    async with client(handler) as http:
        with pytest.raises(error):
            await HttpPaymentRail(http, "http://rail").create(ORDER)


async def test_the_mailer_posts_the_mail_with_its_message_id() -> None:
    seen: list[dict[str, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        return httpx.Response(201, json={"message_id": MAIL.message_id, "status": "accepted"})

    async with client(handler) as http:
        await HttpMailer(http, "http://mailbox").send(MAIL)
    assert seen[0]["message_id"] == MAIL.message_id and seen[0]["from"] == MAIL.sender


@pytest.mark.parametrize(
    ("handler", "error"),
    [
        (lambda r: httpx.Response(500), ProviderUnavailable),
        (lambda r: httpx.Response(400, json={"error": "recipient rejected"}), ProviderRejected),
        (raises(httpx.ConnectError("refused")), ProviderUnavailable),
        (raises(httpx.ReadError("reset")), OutcomeUnknown),
    ],
)
async def test_mailer_errors(handler: Handler, error: type[Exception]) -> None:
    async with client(handler) as http:
        with pytest.raises(error):
            await HttpMailer(http, "http://mailbox").send(MAIL)


def test_a_mime_message_carries_the_deterministic_message_id() -> None:
    message = build_message(MAIL)
    assert message["Message-ID"] == MAIL.message_id and message["Subject"] == "Approved"
    assert mailbox_path(MAIL.message_id) == "/v1/mail/%3Creimbursement-1-approved%40ledgerflow%3E"
