"""A domain error answers the status of its kind, with `{"message", "code"}`."""

from __future__ import annotations

import uuid

import httpx
import pytest
from fastapi import FastAPI

from api.errors import STATUSES, install_error_handlers
from domain.billing.errors import (
    BillingRunNotFound,
    CustomerNotFound,
    InvoiceNotFound,
    InvoiceNotResolvable,
)
from domain.errors import DomainError, ErrorKind
from domain.lending.errors import (
    ApplicationAlreadyFinal,
    ApplicationNotFlagged,
    ApplicationNotFound,
)
from domain.orders.errors import IdempotencyKeyReused, OrderNotFound
from domain.reimbursements.errors import (
    AdministratorNotFound,
    BankAccountNotFound,
    BankNotFound,
    MemberNotFound,
    NotAnAdministratorOfTheBank,
    PaymentNotRetryable,
    ReimbursementNotFound,
    ReimbursementNotPending,
)
from domain.sms.errors import MessageIdReused, SmsAlreadyFinal, SmsNotFound, SmsNotRetryable
from projections.pagination import InvalidCursor

# Every error a route answers a client with, and the status clients have always seen.
ANSWERED: list[tuple[DomainError, int]] = [
    (SmsNotFound("s-1"), 404),
    (MessageIdReused("m-1"), 409),
    (SmsNotRetryable("sent"), 409),
    (SmsAlreadyFinal("sent"), 409),
    (OrderNotFound("o-1"), 404),
    (IdempotencyKeyReused(), 409),
    (InvoiceNotFound(1), 404),
    (CustomerNotFound(1), 404),
    (BillingRunNotFound("r-1"), 404),
    (InvoiceNotResolvable("retry", "paid"), 409),
    (ApplicationNotFound("a-1"), 404),
    (ApplicationNotFlagged("pending"), 409),
    (ApplicationAlreadyFinal("completed"), 409),
    (ReimbursementNotFound("r-1"), 404),
    (BankNotFound("b-1"), 404),
    (BankAccountNotFound("a-1"), 404),
    (MemberNotFound("m-1"), 404),
    (AdministratorNotFound("a-1"), 404),
    (NotAnAdministratorOfTheBank(uuid.uuid4(), uuid.uuid4()), 403),
    (ReimbursementNotPending("approved"), 409),
    (PaymentNotRetryable(None), 409),
    (InvalidCursor("cursor is not one this API issued"), 400),
]


def _app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/raise/{index}")
    async def raise_it(index: int) -> None:
        raise ANSWERED[index][0]

    return app


@pytest.mark.parametrize(
    ("index", "status"),
    [(i, status) for i, (_, status) in enumerate(ANSWERED)],
    ids=[type(error).__name__ for error, _ in ANSWERED],
)
async def test_a_domain_error_answers_its_kinds_status(index: int, status: int) -> None:
    error = ANSWERED[index][0]
    transport = httpx.ASGITransport(app=_app())

    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        answer = await client.get(f"/raise/{index}")

    assert answer.status_code == status
    assert answer.json() == {"message": str(error), "code": error.code}


def test_every_kind_has_a_status() -> None:
    assert set(STATUSES) == set(ErrorKind)
