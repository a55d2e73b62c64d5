"""The reference data set and the reference-compatible `/rest` reads; the monthly
scheduler moved by a manual clock, from the platform's very first start."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from domain.access import Actor
from domain.billing.dataset import CustomerRecord, InvoiceRecord
from domain.billing.errors import BillingRunNotFound
from domain.billing.invoice import InvoiceStatus
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

# Who the tests' commands are recorded as, where it does not matter.
ACTOR = Actor.system("tests")


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


@pytest.fixture()
def scheduler_settings(fresh_database_url: str) -> Settings:
    """A platform never started before: its first start is the test's."""
    return Settings(database_url=fresh_database_url, billing_scheduler=False)


async def _first_start_mid_month(settings: Settings) -> list[str | None]:
    clock = ManualClock(datetime(2026, 11, 15, 9, 30, tzinfo=UTC))
    async with platform_session(settings, only={"billing"}, clock=clock) as platform:
        service = platform.get(BillingWorkflow).service
        await service.load(
            [CustomerRecord(1, "EUR"), InvoiceRecord(1, 1, Decimal(10), "EUR", paid=False)],
            ACTOR,
        )
        scheduler = MonthlyScheduler(service)
        started = [await scheduler.tick()]  # November began without the platform
        with pytest.raises(BillingRunNotFound):
            await service.get_run(run_id_for("2026-11"))
        assert (await service.get_invoice(1)).status is InvoiceStatus.PENDING
        clock.advance(timedelta(days=15, hours=14, minutes=30))  # Dec 1, 00:00 UTC
        started += [await scheduler.tick(), await scheduler.tick()]
        assert (await service.get_run(run_id_for("2026-12"))).trigger == "schedule"
    return started


def test_a_first_start_mid_month_runs_nothing_until_the_next_first(
    scheduler_settings: Settings,
) -> None:
    assert asyncio.run(_first_start_mid_month(scheduler_settings)) == [None, "2026-12", None]


async def _first_start_on_the_first(settings: Settings, start: datetime) -> list[str | None]:
    clock = ManualClock(start)
    async with platform_session(settings, only={"billing"}, clock=clock) as platform:
        service = platform.get(BillingWorkflow).service
        scheduler = MonthlyScheduler(service)
        started = [await scheduler.tick()]
        clock.advance(timedelta(hours=4))
        started.append(await scheduler.tick())
    return started


def test_a_first_start_on_the_first_runs_that_month(scheduler_settings: Settings) -> None:
    on_the_first = datetime(2026, 11, 1, 18, 0, tzinfo=UTC)
    assert asyncio.run(_first_start_on_the_first(scheduler_settings, on_the_first)) == [
        "2026-11",
        None,
    ]


def test_the_first_is_the_first_in_the_billing_timezone(scheduler_settings: Settings) -> None:
    # Nov 1, 02:00 UTC is Oct 31, 22:00 in New York: not a first there. Four hours later
    # it is Nov 1, 02:00 in New York, whose run is due.
    settings = scheduler_settings.model_copy(update={"billing_timezone": "America/New_York"})
    late_on_the_31st = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)
    assert asyncio.run(_first_start_on_the_first(settings, late_on_the_31st)) == [
        None,
        "2026-11",
    ]


async def _restarts(settings: Settings) -> list[str | None]:
    clock = ManualClock(datetime(2026, 10, 20, 12, 0, tzinfo=UTC))
    async with platform_session(settings, only={"billing"}, clock=clock) as platform:
        started = [await MonthlyScheduler(platform.get(BillingWorkflow).service).tick()]
    # Down over Nov 1, back on Nov 30 at 23:59: November's run is genuinely missed.
    clock.advance(timedelta(days=41, hours=11, minutes=59))
    async with platform_session(settings, only={"billing"}, clock=clock) as platform:
        service = platform.get(BillingWorkflow).service
        first, other_worker = MonthlyScheduler(service), MonthlyScheduler(service)
        started += [await first.tick(), await first.tick()]
        clock.advance(timedelta(minutes=1))  # the first of December, 00:00 UTC
        started += [await other_worker.tick(), await first.tick()]
        run = await service.get_run(run_id_for("2026-12"))
        assert run.trigger == "schedule"
        calendar = await service.calendar()
        assert (calendar.first_period, calendar.first_scheduled_period) == ("2026-10", "2026-11")
    return started


def test_a_restart_catches_up_a_missed_first_and_starts_each_month_once(
    scheduler_settings: Settings,
) -> None:
    assert asyncio.run(_restarts(scheduler_settings)) == [None, "2026-11", None, "2026-12", None]
