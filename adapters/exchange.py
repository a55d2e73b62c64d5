"""`StockExchange` adapters: over HTTP against the exchange simulator's contract, and
in-process around the template's blocking `place_order` function.

Errors are classified by whether the order can have been placed (`domain.outbound`):
refused before placing -> `ProviderUnavailable`; no answer after sending ->
`OutcomeUnknown` (safe to retry: the order id is the exchange's idempotency key).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx

from adapters.exchange_template import OrderPlacementError
from adapters.exchange_template import place_order as template_place_order
from adapters.outbound_http import error_text, send, status_error
from domain.orders.ports import OutboundOrder
from domain.outbound import OutcomeUnknown, ProviderRejected, ProviderUnavailable


class HttpStockExchange:
    """`POST {base_url}/v1/orders` per placement (see simulators/exchange.py)."""

    def __init__(self, client: httpx.AsyncClient, base_url: str) -> None:
        self._client = client
        self._url = base_url.rstrip("/") + "/v1/orders"

    async def place(self, order: OutboundOrder) -> str:
        body = {
            "order_id": str(order.order_id),
            "type": order.type,
            "side": order.side,
            "instrument": order.instrument,
            "limit_price": None if order.limit_price is None else str(order.limit_price),
            "quantity": order.quantity,
        }
        response = await send(self._client, "POST", self._url, party="exchange", json=body)
        status = response.status_code
        if 200 <= status < 300:
            try:
                exchange_order_id = response.json()["exchange_order_id"]
            except (ValueError, KeyError, TypeError) as error:
                raise OutcomeUnknown(f"exchange answered {status} without an order id") from error
            if not isinstance(exchange_order_id, str) or not exchange_order_id:
                raise OutcomeUnknown(f"exchange answered {status} with a bad order id")
            return exchange_order_id
        raise status_error(status, error_text(response), party="exchange", what="order")


class InProcessStockExchange:
    """Calls a blocking `place_order(order)` off the event loop.

    A dedicated thread pool sized like the worker's concurrency: the default executor
    has a handful of threads, which would cap placements at a few per 0.5 s.
    """

    def __init__(
        self,
        place_order: Callable[[OutboundOrder], None] = template_place_order,
        *,
        threads: int = 100,
    ) -> None:
        self._place_order = place_order
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="exchange")

    async def place(self, order: OutboundOrder) -> str:
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._executor, self._place_order, order)
        except OrderPlacementError as error:
            raise ProviderUnavailable(str(error)) from error
        except ValueError as error:
            raise ProviderRejected(str(error)) from error
        # The template answers nothing: the order id is its only identifier.
        return str(order.order_id)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
