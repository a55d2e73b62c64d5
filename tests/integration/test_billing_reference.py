"""The reference data set and the reference-compatible `/rest` reads; the monthly
scheduler moved by a manual clock."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from domain.billing.run import run_id_for
from domain.clock import ManualClock
from ledgerflow.bootstrap import platform_session
from ledgerflow.settings import Settings
from ledgerflow.web import create_app
from ledgerflow.workflows.billing import BillingWorkflow
from processes.billing.scheduler import MonthlyScheduler
from simulators.registry import running
from tests.integration.billing_support import module_database
from tests.issuer import TokenIssuer


@pytest.fixture(scope="module")
def settings(server_url: str, issuer: TokenIssuer) -> Iterator[Settings]:
    for url in module_database(server_url):
        yield Settings(database_url=url, billing_scheduler=False, **issuer.trusted)


async def _seed_twice_and_project(settings: Settings) -> tuple[int, int]:
    async with platform_session(settings, only={"billing"}) as platform:
        billing = platform.get(BillingWorkflow)
        first = await billing.seed("antaeus")
        second = await billing.seed("antaeus")
        for follower in platform.projections():
            await follower.catch_up()
    return first, second


def test_the_antaeus_data_set_loads_once_and_reads_like_the_reference_and_our_own_api(
    settings: Settings, issuer: TokenIssuer
) -> None:
    assert asyncio.run(_seed_twice_and_project(settings)) == (1100, 0)
    with running(create_app(settings)) as url, issuer.client(url) as api:
        assert api.get("/rest/health").json() == "ok"
        invoices = api.get("/rest/v1/invoices").json()
        customers = api.get("/rest/v1/customers").json()
        assert len(invoices) == 1000 and len(customers) == 100
        assert [i["id"] for i in invoices] == list(range(1, 1001))
        pending = [i for i in invoices if i["status"] == "PENDING"]
        assert [i["id"] for i in pending] == list(range(1, 1001, 10))
        currency = {c["id"]: c["currency"] for c in customers}
        assert set(currency.values()) <= {"EUR", "USD", "DKK", "SEK", "GBP"}
        for item in invoices:
            assert item["amount"]["currency"] == currency[item["customerId"]]
            assert 10 <= item["amount"]["value"] < 500
        raw = api.get("/rest/v1/invoices/1").text
        assert '"value": ' in raw and raw.split('"value": ')[1].split(",")[0].count(".") == 1
        assert len(raw.split('"value": ')[1].split(",")[0].split(".")[1]) == 2
        assert api.get("/rest/v1/customers/1").json() == {"id": 1, "currency": currency[1]}
        assert api.get("/rest/v1/invoices/5000").status_code == 404
        assert api.get("/rest/v1/customers/5000").json()["code"] == "customer_not_found"

        # Our own API over the same invoices: our statuses, filters, pages, clear errors.
        of_seven = api.get("/invoices", params={"customer_id": 7, "limit": 4}).json()
        rest = api.get(
            "/invoices", params={"customer_id": 7, "cursor": of_seven["next_cursor"]}
        ).json()
        listed = of_seven["items"] + rest["items"]
        assert [i["id"] for i in listed] == list(range(61, 71)) and rest["next_cursor"] is None
        assert [i["status"] for i in listed] == ["pending"] + ["paid"] * 9
        assert all(i["customer_id"] == 7 and i["attempts"] == [] for i in listed)
        assert listed[0]["amount"] == {
            "amount": f"{invoices[60]['amount']['value']:.2f}",
            "currency": currency[7],
        }
        pending_of_seven = api.get("/invoices", params={"customer_id": 7, "status": "pending"})
        assert [i["id"] for i in pending_of_seven.json()["items"]] == [61]
        one = api.get("/invoices/61").json()
        assert one["status"] == "pending" and one["cycle"] == 0 and one["attempts"] == []
        trail = api.get("/invoices/61/events").json()
        assert [e["type"] for e in trail] == ["InvoiceIssued"]
        assert api.get("/invoices/5000").json()["code"] == "invoice_not_found"
        bad = api.get("/invoices", params={"status": "late"})
        assert bad.status_code == 422 and "status" in bad.text


async def _scheduled_periods(settings: Settings) -> list[str | None]:
    clock = ManualClock(datetime(2026, 11, 30, 23, 59, tzinfo=UTC))
    async with platform_session(settings, only={"billing"}, clock=clock) as platform:
        service = platform.get(BillingWorkflow).service
        first = MonthlyScheduler(service, clock)
        other_worker = MonthlyScheduler(service, clock)
        started = [await first.tick(), await first.tick()]  # down over Nov 1: missed run
        clock.advance(timedelta(minutes=1))  # the first of December, 00:00 UTC
        started += [await other_worker.tick(), await first.tick()]
        run = await service.get_run(run_id_for("2026-12"))
        assert run.trigger == "schedule"
        local = MonthlyScheduler(service, clock, timezone="America/New_York")
        started.append(await local.tick())  # still November there: that run exists
    return started


def test_the_scheduler_starts_each_month_once_and_a_missed_one_on_return(
    settings: Settings,
) -> None:
    assert asyncio.run(_scheduled_periods(settings)) == ["2026-11", None, "2026-12", None, None]
