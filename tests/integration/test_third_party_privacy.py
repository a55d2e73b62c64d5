"""A third party that echoes personal data in its error answers: every HTTP adapter, over
a real port, turns the answer into an error whose text (what the work engine records,
what operators see, what is logged) holds no e-mail address, phone number or name."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from uuid import uuid4

import httpx
import pytest

from adapters.bank_partner import HttpBankPartner
from adapters.exchange import HttpStockExchange
from adapters.http import ThirdPartyClient, build_async_client
from adapters.mailer import HttpMailer
from adapters.payment_provider import HttpPaymentProvider
from adapters.payment_rail import HttpPaymentRail
from adapters.sms_provider import HttpSmsProvider
from domain.billing.ports import ChargeRequest
from domain.lending.ports import PartnerApplication
from domain.orders.ports import OutboundOrder
from domain.outbound import OutboundError, ProviderRejected, ProviderUnavailable
from domain.reimbursements.ports import OutboundMail, PaymentOrder, RailStatus
from domain.sms.ports import OutboundSms
from domain.work import PermanentFailure, TransientFailure
from ledgerflow.logs import JsonFormatter
from processes.outbound import outcome_of

EMAIL = "astrid.berg@example.com"
PHONE = "+4520123456"
NAME = "Astrid"
SURNAME = "Berg"
PERSONAL = (EMAIL, "astrid.berg", PHONE, PHONE[1:], NAME, SURNAME)
JSON_ERROR = {
    "code": "applicant_conflict",
    "message": f"applicant {EMAIL} ({PHONE}) is already known",
    "first_name": NAME,
    "last_name": SURNAME,
    "applicant": {"name": f"{NAME} {SURNAME}", "email": EMAIL, "phone": PHONE},
}
TEXT_ERROR = f"applicant {EMAIL}, phone +45 20 12 34 56, is already known"


@dataclass
class Party:
    """A third party on a real port that answers every request the same way."""

    port: int = 0
    status: int = 400
    body: bytes = b""
    content_type: str = "application/json"
    requests: list[str] = field(default_factory=list)

    def answer(self, status: int, body: object) -> None:
        self.status = status
        if isinstance(body, str):
            self.body, self.content_type = body.encode(), "text/plain; charset=utf-8"
        else:
            self.body, self.content_type = json.dumps(body).encode(), "application/json"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture(scope="module")
def party() -> Iterator[Party]:
    state = Party()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            self._answer()

        def do_GET(self) -> None:
            self._answer()

        def _answer(self) -> None:
            state.requests.append(self.path)
            self.send_response(state.status)
            self.send_header("Content-Type", state.content_type)
            self.send_header("Content-Length", str(len(state.body)))
            self.end_headers()
            self.wfile.write(state.body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join(10)


Call = Callable[[httpx.AsyncClient, str], Awaitable[object]]
CALLS: dict[str, Call] = {
    "bank partner submission": lambda http, url: HttpBankPartner(http, url).submit(
        PartnerApplication(uuid4(), NAME, SURNAME)
    ),
    "bank partner job": lambda http, url: HttpBankPartner(http, url).job(uuid4()),
    "SMS provider": lambda http, url: HttpSmsProvider(http, url).send(
        OutboundSms(PHONE, "Your reimbursement was approved", "sms-1")
    ),
    "payment provider": lambda http, url: HttpPaymentProvider(http, url).charge(
        ChargeRequest(1, 1, Decimal("12.50"), "EUR", "invoice-1-cycle-1")
    ),
    "payment rail": lambda http, url: HttpPaymentRail(http, url).create(
        PaymentOrder("pay-1", "bank", "account", Decimal("12.50"), "EUR", "ref")
    ),
    "mailbox": lambda http, url: HttpMailer(http, url).send(
        OutboundMail("<m-1@ledgerflow>", "from@ledgerflow.example", EMAIL, "Approved", "Hi")
    ),
    "exchange": lambda http, url: HttpStockExchange(http, url).place(
        OutboundOrder(uuid4(), "limit", "buy", "US0378331005", Decimal("1.50"), 3)
    ),
}


def assert_no_personal_data(text: str) -> None:
    found = [value for value in PERSONAL if value in text]
    assert not found, f"{found} in {text!r}"


@pytest.mark.parametrize("status", [400, 503])
@pytest.mark.parametrize("body", [JSON_ERROR, TEXT_ERROR], ids=["json", "text"])
@pytest.mark.parametrize("call", CALLS.values(), ids=CALLS.keys())
async def test_an_error_answer_echoing_personal_data_is_recorded_without_it(
    party: Party,
    call: Call,
    body: object,
    status: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    party.answer(status, body)
    log = logging.getLogger("tests.third_party_privacy")
    async with build_async_client(ThirdPartyClient(), timeout_seconds=5, max_connections=2) as http:
        with pytest.raises(ProviderRejected if status == 400 else ProviderUnavailable) as raised:
            await call(http, party.url)
        with caplog.at_level(logging.INFO):
            # What a process manager records on the work row and the aggregate, and logs.
            outcome = await outcome_of(
                call(http, party.url), lambda _: pytest.fail("no error"), log=log
            )
    error: OutboundError = raised.value
    assert isinstance(outcome, PermanentFailure | TransientFailure)
    recorded = outcome.error
    for text in (str(error), error.detail, recorded):
        assert_no_personal_data(text)
        assert "applicant" in text and "already known" in text  # the explanation stays
    logged = [JsonFormatter().format(record) for record in caplog.records]
    assert logged or status == 400  # a refusal is recorded, not logged as a retry
    for line in logged:
        assert_no_personal_data(line)


async def test_a_failure_reason_a_payment_carries_is_scrubbed_too(party: Party) -> None:
    party.answer(
        200,
        {
            "payment_id": "PAY1",
            "status": "FAILURE",
            "failure_reason": f"account of {EMAIL} ({PHONE}) closed",
        },
    )
    async with build_async_client(ThirdPartyClient(), timeout_seconds=5, max_connections=2) as http:
        payment = await HttpPaymentRail(http, party.url).status("PAY1")
    assert payment.status is RailStatus.FAILURE and payment.failure_reason is not None
    assert_no_personal_data(payment.failure_reason)
    assert payment.failure_reason.endswith("closed")
