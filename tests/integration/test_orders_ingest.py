"""Execution reports from the exchange's WebSocket into the orders: each recorded once,
under duplicated, reordered and dropped streams, and across an ingester restart."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import psycopg
import pytest

from adapters.eventstore import GroupCommitter, open_application
from domain.access import Actor
from domain.clock import SystemClock
from domain.orders.commands import PlaceOrder
from domain.orders.ports import ExecutionReport
from ledgerflow.settings import Settings
from ledgerflow.web import create_app
from processes.orders.application import OrdersApplication, OrdersService
from simulators import exchange
from simulators.registry import running
from tests.harness import eventually, workers
from tests.issuer import TokenIssuer

# Who the tests' commands are recorded as, where it does not matter.
ACTOR = Actor.system("tests")

BODY = {"type": "limit", "side": "buy", "instrument": "US0378331005", "limit_price": "10.00"}


@pytest.fixture()
def simulator() -> Iterator[httpx.Client]:
    settings = exchange.ExchangeSettings(
        refusal_rate=0.0,
        latency_ms=0,
        fills_per_order=3,
        fill_delay_ms=200,
        duplicate_rate=0.3,
        reorder_window=4,
        drop_after=7,
        seed=11,
    )
    with running(exchange.create_app(settings)) as url, httpx.Client(base_url=url) as client:
        yield client


@pytest.fixture()
def settings(fresh_database_url: str, simulator: httpx.Client, issuer: TokenIssuer) -> Settings:
    return Settings(
        **issuer.trusted,
        database_url=fresh_database_url,
        exchange_url=str(simulator.base_url),
        retry_base_seconds=0.02,
        retry_cap_seconds=0.1,
        work_lease_seconds=3,
    )


def fills(api: httpx.Client, order_id: str) -> list[str]:
    events = api.get(f"/orders/{order_id}/events").json()
    return [e["data"]["execution_id"] for e in events if e["type"] == "OrderExecuted"]


def stream_position(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT position FROM ledgerflow_stream_positions").fetchone()
    return int(row[0]) if row else 0


def test_reports_are_recorded_once_despite_duplicates_reordering_drops_and_restarts(
    settings: Settings, simulator: httpx.Client, issuer: TokenIssuer
) -> None:
    assert settings.database_url
    with (
        running(create_app(settings)) as url,
        issuer.client(url, timeout=10, headers=issuer.as_client()) as api,
        workers(settings, "orders", "projections"),
    ):
        first = [api.post("/orders", json={**BODY, "quantity": 9}).json()["id"] for _ in range(8)]
        with workers(settings, "ingester"):
            assert eventually(
                lambda: all(api.get(f"/orders/{i}").json()["status"] == "filled" for i in first)
            )
        # The ingester is down: reports pile up at the exchange meanwhile.
        second = [api.post("/orders", json={**BODY, "quantity": 5}).json()["id"] for _ in range(8)]
        assert eventually(lambda: simulator.get("/v1/executions/count").json()["count"] == 48)
        assert all(api.get(f"/orders/{i}").json()["filled_quantity"] == 0 for i in second)
        with workers(settings, "ingester"):  # resumes from its stored position
            assert eventually(
                lambda: all(api.get(f"/orders/{i}").json()["status"] == "filled" for i in second)
            )
            assert eventually(lambda: stream_position(settings.database_url or "") == 48)
        for order_id in first + second:
            recorded = fills(api, order_id)
            assert len(recorded) == len(set(recorded)) == 3
            assert api.get(f"/orders/{order_id}").json()["average_price"] == "10.0000"

        def projected() -> bool:
            page = api.get("/orders", params={"status": "filled", "limit": 100}).json()
            return {item["id"] for item in page["items"]} >= set(first + second)

        assert eventually(projected)


def test_repeats_and_reports_for_unknown_orders_are_dropped(database_url: str) -> None:
    async def scenario() -> tuple[object, object, str]:
        application = await asyncio.to_thread(open_application, OrdersApplication, database_url)
        committer = GroupCommitter(application)
        service = OrdersService(application, committer.save, SystemClock())
        try:
            command = PlaceOrder.model_validate({**BODY, "quantity": 4})
            order, _ = await service.place(command, ACTOR)
            now = datetime.now(UTC)
            reports = [
                ExecutionReport(2, "X2", order.id, 3, Decimal("10.00"), now),
                ExecutionReport(1, "X1", order.id, 1, Decimal("9.00"), now),
                ExecutionReport(3, "X1", order.id, 1, Decimal("9.00"), now),
                ExecutionReport(4, "X9", uuid.uuid4(), 1, Decimal("1.00"), now),
                ExecutionReport(5, "X5", order.id, 1, Decimal("1.00"), now),  # overfill
            ]
            first = await service.record_executions(reports)
            again = await service.record_executions(reports)
            stored = await service.get(order.id)
            return first, again, f"{stored.status.value} {stored.average_price}"
        finally:
            await committer.close()
            application.close()

    first, again, state = asyncio.run(scenario())
    assert (first.recorded, first.duplicates, first.unknown_orders, first.not_applicable) == (  # type: ignore[attr-defined]
        2,
        1,
        1,
        1,
    )
    assert again.recorded == 0 and again.duplicates == 3  # type: ignore[attr-defined]
    assert state == "filled 9.7500"
