"""Who did what, in every workflow's audit trail: the token's role and subject of the
request that caused an event, and the process that recorded what the platform did
itself, over HTTP against the real API and PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from domain.access import Role, Scope
from domain.actors import SEED
from domain.billing.dataset import CustomerRecord, InvoiceRecord
from domain.reimbursements.reference import reference_id
from ledgerflow.bootstrap import platform_session
from ledgerflow.settings import Settings
from ledgerflow.web import create_app
from ledgerflow.workflows.billing import BillingWorkflow
from processes.billing.application import WORKER as BILLING_WORKER
from simulators.registry import running
from tests.issuer import TokenIssuer

NORDIC = reference_id("bank", "nordic-coop")
NORDIC_ADMIN = reference_id("administrator", "nordic-admin-1")
NORDIC_MEMBER = reference_id("member", "nordic-m-1")
NORDIC_ACCOUNT = reference_id("account", "nordic-m-1-acct")
INVOICE = 4242


@pytest.fixture(scope="module")
def settings(database_url: str, issuer: TokenIssuer) -> Settings:
    return Settings(**issuer.trusted, database_url=database_url, billing_scheduler=False)


@pytest.fixture(scope="module")
def url(settings: Settings) -> Iterator[str]:
    async def prepare() -> None:
        """Demo banks to submit on, and an invoice that needs an operator, as the billing
        worker leaves one whose customer the provider does not know."""
        async with platform_session(settings, only={"reimbursements", "billing"}) as platform:
            await platform.workflows["reimbursements"].seed("demo-banks")
            billing = platform.get(BillingWorkflow).service
            records: list[CustomerRecord | InvoiceRecord] = [
                CustomerRecord(INVOICE, "EUR"),
                InvoiceRecord(INVOICE, INVOICE, Decimal(9), "EUR", False),
            ]
            await billing.load(records, SEED)
            invoice = await billing.get_invoice(INVOICE)
            if invoice.status.value == "pending":  # the module's database is shared
                invoice.needs_attention(
                    None,
                    "customer_not_found",
                    "no such customer",
                    billing.clock.now(),
                    actor=BILLING_WORKER,
                )
                await asyncio.to_thread(billing.application.save, invoice)

    asyncio.run(prepare())
    with running(create_app(settings)) as served:
        yield served


def as_(issuer: TokenIssuer, url: str, role: Role, **claims: Any) -> httpx.Client:
    return httpx.Client(base_url=url, headers=issuer.headers(role, **claims), timeout=10)


def trail(issuer: TokenIssuer, url: str, path: str) -> list[tuple[str, dict[str, str] | None]]:
    """The audit trail of `path`, read by an auditor: each event's type and actor."""
    with as_(issuer, url, Role.AUDITOR) as auditor:
        answer = auditor.get(f"{path}/events")
    assert answer.status_code == 200, answer.text
    return [(event["type"], event["actor"]) for event in answer.json()]


def test_a_clients_sms_and_order_record_the_client(issuer: TokenIssuer, url: str) -> None:
    client = f"client-{uuid.uuid4().hex[:6]}"
    scopes = [Scope.SMS_SEND.value, Scope.ORDERS_WRITE.value]
    with as_(issuer, url, Role.CLIENT, subject=client, scopes=scopes) as api:
        sms = api.post(
            "/sms",
            json={"message_id": f"m-{uuid.uuid4()}", "phone_number": "+254712345678", "text": "hi"},
        )
        order = api.post(
            "/orders",
            json={
                "type": "limit",
                "side": "buy",
                "instrument": "US0378331005",
                "limit_price": "10.00",
                "quantity": 5,
            },
        )
    assert sms.status_code == 202 and order.status_code == 201, (sms.text, order.text)
    actor = {"role": "client", "subject": client}
    assert trail(issuer, url, f"/sms/{sms.json()['id']}") == [("SmsRequested", actor)]
    assert trail(issuer, url, f"/orders/{order.json()['id']}") == [("OrderAccepted", actor)]


def test_a_loan_application_records_the_client_that_submitted_it(
    issuer: TokenIssuer, url: str
) -> None:
    client = f"lender-{uuid.uuid4().hex[:6]}"
    with as_(
        issuer, url, Role.CLIENT, subject=client, scopes=[Scope.APPLICATIONS_WRITE.value]
    ) as api:
        answer = api.post(
            "/applications",
            json={
                "first_name": "Ada",
                "last_name": "Lovelace",
                "amount": {"amount": "1500.00", "currency": "EUR"},
                "term_months": 12,
                "email": "ada@example.com",
            },
        )
    assert answer.status_code in (201, 202), answer.text
    path = f"/applications/{answer.json()['id']}"
    assert trail(issuer, url, path) == [
        ("ApplicationSubmitted", {"role": "client", "subject": client})
    ]


def test_a_reimbursement_records_its_member_and_the_deciding_administrator(
    issuer: TokenIssuer, url: str
) -> None:
    member = f"member-{uuid.uuid4().hex[:6]}"
    admin = f"admin-{uuid.uuid4().hex[:6]}"
    with as_(issuer, url, Role.MEMBER, subject=member, member_id=NORDIC_MEMBER) as api:
        submitted = api.post(
            "/reimbursements",
            json={
                "bank_account_id": str(NORDIC_ACCOUNT),
                "amount": {"amount": "12.50", "currency": "DKK"},  # a Danish account
                "description": "Taxi to the branch",
            },
        )
    assert submitted.status_code == 201, submitted.text
    path = f"/reimbursements/{submitted.json()['id']}"
    claims = {"subject": admin, "bank_id": NORDIC, "administrator_id": NORDIC_ADMIN}
    with as_(issuer, url, Role.BANK_ADMIN, **claims) as api:
        approved = api.post(f"{path}/approve", json={"administrator_id": str(NORDIC_ADMIN)})
    assert approved.status_code == 200, approved.text
    assert trail(issuer, url, path) == [
        ("ReimbursementSubmitted", {"role": "member", "subject": member}),
        ("ReimbursementApproved", {"role": "bank_admin", "subject": admin}),
    ]


def test_an_invoice_records_the_seed_the_worker_and_the_resolving_operator(
    issuer: TokenIssuer, url: str
) -> None:
    operator = f"ops-{uuid.uuid4().hex[:6]}"
    with as_(issuer, url, Role.OPERATOR, subject=operator) as api:
        resolved = api.post(
            f"/invoices/{INVOICE}/resolution",
            json={"action": "write_off", "note": "customer gone"},
        )
    assert resolved.status_code == 200, resolved.text
    assert trail(issuer, url, f"/invoices/{INVOICE}") == [
        ("InvoiceIssued", {"role": "system", "subject": "seed"}),
        ("ChargeNeedsAttention", {"role": "system", "subject": "worker-billing"}),
        ("InvoiceWrittenOff", {"role": "operator", "subject": operator}),
    ]
