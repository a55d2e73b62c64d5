"""The orders workflow's wiring: `PlaceOrder` in over HTTP, placement by the work
engine, execution reports in from the exchange's stream."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from typing import TYPE_CHECKING

from eventsourcing.application import Application

from adapters.eventstore import GroupCommitter
from adapters.exchange import HttpStockExchange, InProcessStockExchange
from adapters.execution_reports import ExecutionReportIngester, StreamPositions
from adapters.follower import Follower
from adapters.relay import ToMessage
from domain.orders.errors import IdempotencyKeyReused, OrderNotFound
from domain.orders.ports import StockExchange
from ledgerflow.workflow import Workflow
from processes.orders.application import OrdersApplication, OrdersService
from processes.orders.integration import order_integration_message
from processes.orders.placement import OrderPlacement
from projections.orders import OrdersQueries, OrdersView

if TYPE_CHECKING:
    from fastapi import APIRouter


class OrdersWorkflow(Workflow):
    name = "orders"
    simulators = {"exchange": "LEDGERFLOW_EXCHANGE_URL"}
    error_statuses = {OrderNotFound: 404, IdempotencyKeyReused: 409}

    application: OrdersApplication
    committer: GroupCommitter
    service: OrdersService
    queries: OrdersQueries

    @classmethod
    def first_routers(cls) -> Sequence[APIRouter]:
        from api.orders import placement_router

        return [placement_router]

    @classmethod
    def routers(cls) -> Sequence[APIRouter]:
        from api.orders import router

        return [router]

    async def open(self) -> None:
        self.application = await self.core.open_application(OrdersApplication)
        self.committer = GroupCommitter(self.application)
        self.service = OrdersService(self.application, self.committer.save, self.core.clock)
        self.queries = OrdersQueries(self.core.pool)

    async def close(self) -> None:
        await self.committer.close()
        self.application.close()

    def projections(self) -> Sequence[Follower]:
        return [self.core.follower(self.application, OrdersView())]

    def integration_messages(self) -> Sequence[tuple[Application, ToMessage]]:
        return [(self.application, order_integration_message)]

    def ingesters(self, stop: asyncio.Event) -> Sequence[Awaitable[None]]:
        settings = self.core.settings
        if not settings.orders_execution_reports:
            return []
        ingester = ExecutionReportIngester(
            settings.exchange_url,
            self.service.record_executions,
            StreamPositions(self.core.pool),
            max_batch=settings.orders_report_batch,
        )
        return [ingester.run(stop)]

    async def run_worker(self, stop: asyncio.Event) -> None:
        settings = self.core.settings
        exchange: StockExchange | None = self.options.get("exchange")
        if exchange is None and settings.exchange_in_process:
            in_process = InProcessStockExchange(threads=settings.worker_concurrency)
            try:
                placement = OrderPlacement(self.application, in_process)
                await self.core.run_work(self.application, self.committer, [placement], stop)
            finally:
                in_process.close()
            return
        async with self.core.http_client() as client:
            if exchange is None:
                exchange = HttpStockExchange(client, settings.exchange_url)
            placement = OrderPlacement(self.application, exchange)
            await self.core.run_work(self.application, self.committer, [placement], stop)
