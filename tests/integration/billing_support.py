"""Helpers of the billing tests: a database per module, invoices issued, runs watched."""

from __future__ import annotations

import asyncio
import itertools
import random
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx

from adapters.migrations import migrate
from adapters.postgres import create_database, drop_database, with_database
from domain.access import Actor
from domain.billing.dataset import CustomerRecord, InvoiceRecord
from domain.clock import ManualClock
from ledgerflow.bootstrap import platform_session
from ledgerflow.settings import Settings
from ledgerflow.workflows.billing import BillingWorkflow
from tests.harness import eventually

# Who the tests' commands are recorded as, where it does not matter.
ACTOR = Actor.system("tests")

FINAL = {"paid", "uncollectible", "needs_attention", "written_off"}


def module_database(server_url: str) -> Iterator[str]:
    name = f"ledgerflow_test_billing_{uuid.uuid4().hex[:8]}"
    create_database(server_url, name)
    try:
        url = with_database(server_url, name)
        migrate(url)
        yield url
    finally:
        drop_database(server_url, name)


def issue(
    settings: Settings, count: int, *, amount: str = "25.00", currency: str = "EUR"
) -> list[InvoiceRecord]:
    """`count` pending invoices, one customer each, with fresh integer ids."""
    base = random.randrange(10**6, 10**9)
    invoices = [
        InvoiceRecord(base + n, base + n, Decimal(amount), currency, paid=False)
        for n in range(count)
    ]
    records: list[CustomerRecord | InvoiceRecord] = []
    for invoice in invoices:
        records += [CustomerRecord(invoice.customer_ref_id, currency), invoice]

    async def load() -> None:
        async with platform_session(settings, only={"billing"}) as platform:
            await platform.get(BillingWorkflow).service.load(records, ACTOR)

    asyncio.run(load())
    return invoices


# Test databases that start many runs say billing began long ago, so each run can have
# a month of its own (a run bills a month from the first one to the current one).
BILLING_BEGAN = datetime(2000, 1, 1, tzinfo=UTC)
_months_since_billing_began = itertools.count(1)


def begin_billing(database_url: str, at: datetime = BILLING_BEGAN) -> None:
    """Open the billing workflow for the first time at `at`: billing began then."""

    async def first_start() -> None:
        settings = Settings(database_url=database_url, billing_scheduler=False)
        async with platform_session(settings, only={"billing"}, clock=ManualClock(at)):
            pass

    asyncio.run(first_start())


def new_period() -> str:
    """A month after `BILLING_BEGAN` no earlier call answered."""
    n = next(_months_since_billing_began)
    return f"{BILLING_BEGAN.year + n // 12:04d}-{n % 12 + 1:02d}"


def start_run(api: httpx.Client, period: str | None = None) -> dict[str, Any]:
    answer = api.post("/billing/runs", json={"period": period or new_period()})
    assert answer.status_code in (200, 202), answer.text
    return dict(answer.json())


def invoice(api: httpx.Client, ref_id: int) -> dict[str, Any]:
    answer = api.get(f"/invoices/{ref_id}")
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def wait_status(
    api: httpx.Client, ref_id: int, *statuses: str, timeout: float = 30
) -> dict[str, Any]:
    found: dict[str, Any] = eventually(
        lambda: (body := invoice(api, ref_id))["status"] in statuses and body, timeout=timeout
    )
    return found


def event_types(api: httpx.Client, ref_id: int) -> list[str]:
    return [e["type"] for e in api.get(f"/invoices/{ref_id}/events").json()]


def charges_by_invoice(simulator: httpx.Client) -> Counter[int]:
    ledger = simulator.get("/__admin/ledger").json()["items"]
    return Counter(int(entry["request"]["invoice_id"]) for entry in ledger)
