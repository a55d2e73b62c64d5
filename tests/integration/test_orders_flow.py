"""The orders workflow through real parts: the API over HTTP, PostgreSQL, the work
engine, the projection, the execution report ingester and the exchange simulator on a
real port (HTTP and WebSocket)."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from ledgerflow.settings import Settings
from ledgerflow.web import create_app
from simulators import exchange
from simulators.registry import running
from tests.harness import eventually, workers
from tests.issuer import TokenIssuer

CALM = {"error_rate": 0, "reset_rate": 0, "timeout_rate": 0, "lost_response_rate": 0}
FAST = {
    "refusal_rate": 0.0,
    "latency_ms": 0,
    "fills_per_order": 2,
    "fill_delay_ms": 200,
    "duplicate_rate": 0.0,
    "reorder_window": 0,
    "drop_after": 0,
    "report_rate": 0,
}


@pytest.fixture(scope="module")
def simulator() -> Iterator[httpx.Client]:
    with running(exchange.create_app()) as url, httpx.Client(base_url=url) as client:
        yield client


@pytest.fixture(scope="module")
def settings(database_url: str, simulator: httpx.Client, issuer: TokenIssuer) -> Settings:
    return Settings(
        **issuer.trusted,
        database_url=database_url,
        exchange_url=str(simulator.base_url),
        worker_concurrency=50,
        retry_base_seconds=0.02,
        retry_cap_seconds=0.1,
        work_lease_seconds=3,
        outbound_timeout_seconds=2,
    )


@pytest.fixture(scope="module")
def api(settings: Settings, issuer: TokenIssuer) -> Iterator[httpx.Client]:
    with (
        running(create_app(settings)) as url,
        issuer.client(url, timeout=10, headers=issuer.as_client()) as client,
    ):  # a client of every scope: its own resources
        yield client


@pytest.fixture(scope="module")
def platform_workers(settings: Settings, api: httpx.Client) -> Iterator[None]:
    with workers(settings, "orders", "projections", "ingester"):
        yield


@pytest.fixture(autouse=True)
def calm_simulator(simulator: httpx.Client) -> None:
    simulator.put("/__admin/faults", json={**CALM, "latency_ms": 0})
    simulator.put("/__admin/settings", json=FAST)


def new_order(**changes: Any) -> dict[str, Any]:
    return {
        "type": "limit",
        "side": "buy",
        "instrument": "US0378331005",
        "limit_price": "189.25",
        "quantity": 10,
        **changes,
    }


def order(api: httpx.Client, order_id: str) -> dict[str, Any]:
    answer: dict[str, Any] = api.get(f"/orders/{order_id}").json()
    return answer


def event_types(api: httpx.Client, order_id: str) -> list[str]:
    return [e["type"] for e in api.get(f"/orders/{order_id}/events").json()]


def placements(simulator: httpx.Client) -> Counter[str]:
    return Counter(entry["key"] for entry in simulator.get("/__admin/ledger").json()["items"])


def test_an_order_is_accepted_placed_once_and_filled(
    api: httpx.Client, simulator: httpx.Client, platform_workers: None
) -> None:
    created = api.post("/orders", json=new_order())
    assert created.status_code == 201, created.text
    body = created.json()
    assert {k: body[k] for k in new_order()} == new_order()
    assert body["status"] in {"accepted", "placed", "partially_filled", "filled"}
    assert datetime.fromisoformat(body["created_at"]).tzinfo is not None

    done = eventually(lambda: (o := order(api, body["id"]))["status"] == "filled" and o)
    assert done["filled_quantity"] == 10 and done["average_price"] == "189.2500"
    assert done["exchange_order_id"].startswith("EX") and done["attempts"] == 1
    assert event_types(api, body["id"]) == [
        "OrderAccepted",
        "OrderPlaced",
        "OrderExecuted",
        "OrderExecuted",
    ]
    assert placements(simulator)[body["id"]] == 1

    def listed() -> bool:
        page = api.get("/orders", params={"status": "filled", "limit": 500}).json()
        rows = [item for item in page["items"] if item["id"] == body["id"]]
        return bool(rows) and rows[0]["filled_quantity"] == 10

    assert eventually(listed)


def test_a_market_order_fills_at_the_exchanges_prices(
    api: httpx.Client, platform_workers: None
) -> None:
    body = api.post("/orders", json=new_order(type="market", limit_price=None, quantity=3)).json()
    assert body["limit_price"] is None
    done = eventually(lambda: (o := order(api, body["id"]))["status"] == "filled" and o)
    history = api.get(f"/orders/{body['id']}/events").json()
    fills = [e["data"] for e in history if e["type"] == "OrderExecuted"]
    notional = sum(float(f["price"]) * f["quantity"] for f in fills)
    assert float(done["average_price"]) == pytest.approx(notional / 3, abs=0.0001)


@pytest.mark.parametrize("refusal_rate", [0.1, 0.5])
def test_every_order_is_placed_whatever_the_exchange_refuses(
    refusal_rate: float, api: httpx.Client, simulator: httpx.Client, platform_workers: None
) -> None:
    simulator.put("/__admin/settings", json={"refusal_rate": refusal_rate, "seed": 7})
    ids = [api.post("/orders", json=new_order()).json()["id"] for _ in range(30)]
    assert eventually(lambda: all(order(api, i)["exchange_order_id"] for i in ids), timeout=60)
    ledger = placements(simulator)
    assert all(ledger[i] == 1 for i in ids)
    failures = sum(event_types(api, i).count("OrderPlacementFailed") for i in ids)
    attempts = sum(order(api, i)["attempts"] for i in ids)
    assert attempts == len(ids) + failures  # every attempt is in the history
    if refusal_rate == 0.5:
        assert failures > 0


def test_a_down_exchange_changes_nothing_for_the_client_and_the_order_waits(
    api: httpx.Client, simulator: httpx.Client, platform_workers: None
) -> None:
    simulator.put("/__admin/faults", json={"error_rate": 1.0})
    simulator.put("/__admin/settings", json={"latency_ms": 500})
    created = api.post("/orders", json=new_order())
    assert created.status_code == 201 and created.json()["status"] == "accepted"
    order_id = created.json()["id"]
    stuck = eventually(lambda: (o := order(api, order_id))["attempts"] >= 3 and o, timeout=40)
    assert stuck["status"] == "accepted" and "503" in stuck["last_error"]

    def unplaced() -> set[str]:
        params = {"status": "accepted", "accepted_before": datetime.now(UTC).isoformat()}
        return {item["id"] for item in api.get("/orders", params=params).json()["items"]}

    assert eventually(lambda: order_id in unplaced())  # what an operator watches
    simulator.put("/__admin/faults", json={"error_rate": 0.0})
    assert eventually(lambda: order(api, order_id)["exchange_order_id"], timeout=30)
    assert "OrderParked" not in event_types(api, order_id)


def test_lost_answers_are_retried_and_the_order_is_placed_once(
    api: httpx.Client, simulator: httpx.Client, platform_workers: None
) -> None:
    simulator.put("/__admin/faults", json={"lost_response_rate": 0.5, "seed": 3})
    ids = [api.post("/orders", json=new_order()).json()["id"] for _ in range(10)]
    assert eventually(lambda: all(order(api, i)["exchange_order_id"] for i in ids), timeout=60)
    ledger = placements(simulator)
    assert all(ledger[i] == 1 for i in ids)


def test_an_idempotency_key_makes_retries_safe(api: httpx.Client, platform_workers: None) -> None:
    key = {"Idempotency-Key": f"client-{uuid.uuid4()}"}
    first = api.post("/orders", json=new_order(), headers=key)
    again = api.post("/orders", json=new_order(), headers=key)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["created_at"] == first.json()["created_at"]
    other = api.post("/orders", json=new_order(quantity=11), headers=key)
    assert other.status_code == 409 and other.json()["code"] == "idempotency_key_conflict"
    # Without a key, two identical requests are two orders.
    assert api.post("/orders", json=new_order()).json()["id"] != first.json()["id"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"type": "LIMIT"}, "type"),
        ({"side": "BUY"}, "side"),
        ({"instrument": "US03783310"}, "instrument"),
        ({"quantity": 1.0}, "quantity"),
        ({"quantity": "1"}, "quantity"),
        ({"quantity": 0}, "quantity"),
        ({"limit_price": "1.001"}, "limit_price"),
        ({"limit_price": None}, "limit_price"),
        ({"type": "market"}, "limit_price"),
        ({"extra": 1}, "extra"),
    ],
)
def test_validation_names_the_field_and_the_rule(
    changes: dict[str, Any], field: str, api: httpx.Client
) -> None:
    answer = api.post("/orders", json=new_order(**changes))
    assert answer.status_code == 422, answer.text
    detail = answer.json()["detail"]
    assert ["body", field] in [item["loc"] for item in detail], detail


def test_reads_answer_404_and_lists_validate(api: httpx.Client) -> None:
    missing = api.get(f"/orders/{uuid.uuid4()}")
    assert missing.status_code == 404 and missing.json()["code"] == "order_not_found"
    assert api.get(f"/orders/{uuid.uuid4()}/events").status_code == 404
    assert api.get("/orders", params={"status": "PLACED"}).status_code == 422
    assert api.get("/orders", params={"limit": 501}).status_code == 422
    assert api.get("/orders", params={"cursor": "nope"}).status_code == 400


def test_lists_paginate(api: httpx.Client, platform_workers: None) -> None:
    ids = {api.post("/orders", json=new_order()).json()["id"] for _ in range(5)}

    def listed() -> set[str]:
        seen: set[str] = set()
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
            page = api.get("/orders", params=params).json()
            assert len(page["items"]) <= 2
            seen |= {item["id"] for item in page["items"]}
            cursor = page["next_cursor"]
            if cursor is None:
                return seen

    assert eventually(lambda: ids <= listed())
