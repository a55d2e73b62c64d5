"""The `StockExchange` adapters: HTTP errors mapped to the port's errors; the template's
blocking function called off the event loop."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from decimal import Decimal
from uuid import uuid4

import httpx
import pytest

from adapters.exchange import HttpStockExchange, InProcessStockExchange
from adapters.exchange_template import OrderPlacementError, place_order
from adapters.execution_reports import Watermark, parse_frame
from domain.orders.ports import OutboundOrder
from domain.outbound import OutcomeUnknown, ProviderRejected, ProviderUnavailable

ORDER = OutboundOrder(uuid4(), "limit", "buy", "US0378331005", Decimal("1.50"), 3)


def place_with(handler: httpx.MockTransport) -> str:
    async def run() -> str:
        async with httpx.AsyncClient(transport=handler) as client:
            return await HttpStockExchange(client, "http://exchange").place(ORDER)

    return asyncio.run(run())


def test_the_order_id_and_fields_are_sent_and_the_exchange_id_returned() -> None:
    seen: list[dict[str, object]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        return httpx.Response(201, json={"exchange_order_id": "EX1", "status": "placed"})

    assert place_with(httpx.MockTransport(handler)) == "EX1"
    assert seen == [
        {
            "order_id": str(ORDER.order_id),
            "type": "limit",
            "side": "buy",
            "instrument": "US0378331005",
            "limit_price": "1.50",
            "quantity": 3,
        }
    ]


@pytest.mark.parametrize(
    ("status", "error"),
    [(503, ProviderUnavailable), (429, ProviderUnavailable), (400, ProviderRejected)],
)
def test_statuses_map_to_port_errors(status: int, error: type[Exception]) -> None:
    transport = httpx.MockTransport(lambda r: httpx.Response(status, json={"error": "x"}))
    with pytest.raises(error):
        place_with(transport)


def test_transport_errors_say_whether_the_order_can_have_been_placed() -> None:
    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    def dropped(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("no answer", request=request)

    with pytest.raises(ProviderUnavailable):
        place_with(httpx.MockTransport(refused))
    with pytest.raises(OutcomeUnknown):
        place_with(httpx.MockTransport(dropped))
    with pytest.raises(OutcomeUnknown):
        place_with(httpx.MockTransport(lambda r: httpx.Response(201, json={})))


def test_the_template_function_behaves_as_specified(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError):
        place_order(None)
    monkeypatch.setattr("adapters.exchange_template.random.random", lambda: 0.05)
    with pytest.raises(OrderPlacementError, match="Connection not available"):
        place_order(ORDER)
    monkeypatch.setattr("adapters.exchange_template.random.random", lambda: 0.5)
    monkeypatch.setattr("adapters.exchange_template.time.sleep", lambda s: None)
    place_order(ORDER)  # returns after the (patched) 0.5 s, without raising


def test_the_in_process_adapter_runs_the_blocking_call_off_the_event_loop() -> None:
    loop_thread: list[int] = []
    call_threads: list[int] = []

    def blocking(order: OutboundOrder) -> None:
        call_threads.append(threading.get_ident())
        time.sleep(0.05)

    def failing(order: OutboundOrder) -> None:
        raise OrderPlacementError("Failed to place order at stock exchange.")

    async def run() -> list[str]:
        loop_thread.append(threading.get_ident())
        exchange = InProcessStockExchange(blocking, threads=10)
        try:
            return await asyncio.gather(*(exchange.place(ORDER) for _ in range(10)))
        finally:
            exchange.close()

    assert asyncio.run(run()) == [str(ORDER.order_id)] * 10
    assert loop_thread[0] not in call_threads
    with pytest.raises(ProviderUnavailable):
        asyncio.run(InProcessStockExchange(failing, threads=1).place(ORDER))
    with pytest.raises(ProviderRejected):
        asyncio.run(InProcessStockExchange(place_order, threads=1).place(None))  # type: ignore[arg-type]


def test_the_watermark_only_moves_over_a_filled_gap() -> None:
    mark = Watermark(0)
    mark.add([2, 3, 5])
    assert mark.position == 0 and mark.seen(3) and not mark.seen(1)
    mark.add([1])
    assert mark.position == 3
    mark.add([4, 4, 2])
    assert mark.position == 5


def test_a_frame_is_parsed_and_malformed_reports_are_skipped() -> None:
    order_id = uuid4()
    frame = json.dumps(
        {
            "reports": [
                {
                    "sequence": 1,
                    "execution_id": "E1",
                    "order_id": str(order_id),
                    "quantity": 2,
                    "price": "10.25",
                    "executed_at": "2026-11-21T10:00:00+00:00",
                },
                {"sequence": 2, "order_id": "not-a-uuid"},
            ]
        }
    )
    (report,) = parse_frame(frame)
    assert report.order_id == order_id and report.price == Decimal("10.25")
