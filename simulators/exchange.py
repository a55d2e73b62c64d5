"""Stock exchange simulator: the template's `place_order` behind HTTP, plus a WebSocket
stream of execution reports.

Placement (the contract our `HttpStockExchange` speaks):

- `POST /v1/orders`, JSON `{"order_id": "<uuid>", "type": "market"|"limit", "side":
  "buy"|"sell", "instrument": "<12 chars>", "limit_price": "12.34"|null, "quantity": 10}`.
- In `refusal_rate` of the calls (default 10%): `503 {"error": "Failed to place order at
  stock exchange. Connection not available"}` at once, nothing placed (the template's
  `OrderPlacementError`). Otherwise, after `latency_ms` (default 500):
  `201 {"exchange_order_id": "EX<hex>", "status": "placed"}`.
- Idempotent by `order_id`: a repeat of a placed order answers `200` with the same body at
  once; nothing new is placed or added to the ledger.
- `400 {"error": "..."}`: the body is not such an order (the template's `ValueError`).

Execution reports: `GET /v1/executions?after=N` as a WebSocket. Each placed order gets
`fills_per_order` fills, `fill_delay_ms` after its placement; every report has a
`sequence`, contiguous from 1 across the exchange. The server sends JSON frames `{"reports":
[{"sequence", "execution_id", "order_id", "quantity", "price", "executed_at"}, ...]}` with
every report after `N`, then new ones as they happen, at most `report_rate` per second
(0: as fast as possible). Misbehaviour for tests: `duplicate_rate` (a report is sent again
in a later frame), `reorder_window` (reports shuffled within windows of that size),
`drop_after` (the connection is closed after that many reports).

Settings: env prefix `LEDGERFLOW_EXCHANGE_` or `PUT /__admin/settings`. Faults, ledger and
stats are the shared control surface (simulators.control).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import secrets
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from functools import partial
from typing import Any

from fastapi import FastAPI, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from simulators.control import Faults, Simulator, json_body, refusal

NAME = "exchange"
REFUSAL = "Failed to place order at stock exchange. Connection not available"
MAX_FRAME = 500


class ExchangeSettings(BaseSettings):
    """Contract-specific behaviour (not faults)."""

    model_config = SettingsConfigDict(env_prefix="LEDGERFLOW_EXCHANGE_", extra="forbid")

    seed: int = 0
    refusal_rate: float = Field(default=0.1, ge=0.0, le=1.0)
    latency_ms: float = Field(default=500.0, ge=0.0)
    fills_per_order: int = Field(default=2, ge=0)
    fill_delay_ms: float = Field(default=100.0, ge=0.0)
    report_rate: float = Field(default=0.0, ge=0.0, description="reports/s; 0: unlimited")
    duplicate_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    reorder_window: int = Field(default=0, ge=0)
    drop_after: int = Field(default=0, ge=0, description="close a stream after N; 0: never")


def _parse_order(body: Any) -> dict[str, Any] | str:
    """The order, or why it is not one."""
    if not isinstance(body, dict):
        return "body must be a JSON object"
    if not isinstance(body.get("order_id"), str) or not body["order_id"]:
        return "'order_id' is required"
    if body.get("type") not in ("market", "limit") or body.get("side") not in ("buy", "sell"):
        return "'type' must be market or limit and 'side' buy or sell"
    if not isinstance(body.get("instrument"), str) or len(body["instrument"]) != 12:
        return "'instrument' must be 12 characters"
    quantity = body.get("quantity")
    if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity <= 0:
        return "'quantity' must be a positive integer"
    price = body.get("limit_price")
    if (body["type"] == "limit") != (price is not None):
        return "'limit_price' is required for limit orders and forbidden for market orders"
    if price is not None:
        try:
            if Decimal(str(price)) <= 0:
                return "'limit_price' must be positive"
        except InvalidOperation:
            return "'limit_price' must be a decimal"
    return body


class Exchange:
    """The simulated exchange's state: placed orders and the execution report log."""

    def __init__(self, simulator: Simulator[ExchangeSettings]) -> None:
        self.simulator = simulator
        self.placed: dict[str, dict[str, Any]] = {}  # order id -> answer
        self.reports: list[dict[str, Any]] = []
        self.changed = asyncio.Condition()
        self._rng = random.Random(simulator.settings.seed)
        self._seed = simulator.settings.seed

    @property
    def settings(self) -> ExchangeSettings:
        return self.simulator.settings

    def rng(self) -> random.Random:
        if self.settings.seed != self._seed:  # reseeded through PUT /__admin/settings
            self._seed = self.settings.seed
            self._rng = random.Random(self._seed)
        return self._rng

    def schedule_fills(self, order: dict[str, Any]) -> None:
        count = min(self.settings.fills_per_order, order["quantity"])
        if count <= 0:
            return
        loop = asyncio.get_running_loop()
        loop.call_later(self.settings.fill_delay_ms / 1000, self._fill, order, count)

    def _fill(self, order: dict[str, Any], count: int) -> None:
        rng = self.rng()
        quantity = order["quantity"]
        if order["limit_price"] is not None:
            price = Decimal(str(order["limit_price"]))
        else:
            price = Decimal(rng.randint(9000, 11000)) / 100
        cuts = sorted(rng.sample(range(1, quantity), count - 1)) if count > 1 else []
        sizes = [b - a for a, b in zip([0, *cuts], [*cuts, quantity], strict=True)]
        for size in sizes:
            self.reports.append(
                {
                    "sequence": len(self.reports) + 1,
                    "execution_id": "EXE" + secrets.token_hex(8),
                    "order_id": order["order_id"],
                    "quantity": size,
                    "price": f"{price:.2f}",
                    "executed_at": datetime.now(UTC).isoformat(),
                }
            )
        asyncio.get_running_loop().create_task(self._notify())

    async def _notify(self) -> None:
        async with self.changed:
            self.changed.notify_all()

    def _ready(self, position: int, held: bool) -> bool:
        return held or len(self.reports) > position

    async def stream(self, websocket: WebSocket, after: int) -> None:
        """Send every report after `after`, then new ones, as the settings say."""
        position = max(0, after)
        sent = 0
        held: list[dict[str, Any]] = []  # duplicates, sent again in a later frame
        while True:
            async with self.changed:
                await self.changed.wait_for(partial(self._ready, position, bool(held)))
            settings = self.settings
            frame_size = MAX_FRAME
            if settings.report_rate > 0:
                frame_size = max(1, min(MAX_FRAME, int(settings.report_rate / 10)))
            if settings.drop_after:
                frame_size = min(frame_size, settings.drop_after - sent)
            frame = self.reports[position : position + frame_size]
            position += len(frame)
            frame = held + frame
            held = []
            rng = self.rng()
            if settings.duplicate_rate:
                held = [r for r in frame if rng.random() < settings.duplicate_rate]
            if settings.reorder_window > 1:
                window = settings.reorder_window
                frame = [
                    report
                    for start in range(0, len(frame), window)
                    for report in _shuffled(frame[start : start + window], rng)
                ]
            await websocket.send_json({"reports": frame})
            sent += len(frame)
            if settings.drop_after and sent >= settings.drop_after:
                await websocket.close(code=1012)  # "service restart": the client resumes
                return
            if settings.report_rate > 0:
                await asyncio.sleep(len(frame) / settings.report_rate)


def _shuffled(reports: list[dict[str, Any]], rng: random.Random) -> list[dict[str, Any]]:
    return rng.sample(reports, len(reports))


def create_app(settings: ExchangeSettings | None = None, faults: Faults | None = None) -> FastAPI:
    """Build the simulator; settings default to the environment."""
    simulator = Simulator(NAME, settings or ExchangeSettings(), faults=faults)
    app = simulator.create_app(title="Stock exchange simulator", description=__doc__ or "")
    exchange = Exchange(simulator)
    app.state.exchange = exchange

    async def place_order(request: Request) -> JSONResponse:
        body = await json_body(request)
        if isinstance(body, JSONResponse):
            return body
        order = _parse_order(body)
        if isinstance(order, str):
            return refusal(order)
        order_id = order["order_id"]
        if order_id in exchange.placed:
            return JSONResponse(exchange.placed[order_id], status_code=200)
        if exchange.rng().random() < exchange.settings.refusal_rate:
            return JSONResponse({"error": REFUSAL}, status_code=503)
        await asyncio.sleep(exchange.settings.latency_ms / 1000)
        if order_id in exchange.placed:  # a concurrent repeat placed it meanwhile
            return JSONResponse(exchange.placed[order_id], status_code=200)
        answer = {"exchange_order_id": "EX" + secrets.token_hex(10), "status": "placed"}
        exchange.placed[order_id] = answer
        simulator.record(order_id, order, answer)
        exchange.schedule_fills(order)
        return JSONResponse(answer, status_code=201)

    @app.websocket("/v1/executions")
    async def executions(websocket: WebSocket, after: int = Query(default=0, ge=0)) -> None:
        await websocket.accept()
        with contextlib.suppress(WebSocketDisconnect, RuntimeError):
            await exchange.stream(websocket, after)

    async def execution_count(request: Request) -> JSONResponse:
        """How many execution reports the exchange has produced (for tests and benches)."""
        return JSONResponse({"count": len(exchange.reports)})

    app.add_contract_route("/v1/orders", place_order, methods=["POST"])
    app.add_contract_route("/v1/executions/count", execution_count, methods=["GET"])
    return app
