"""The orders workflow's wiring: `PlaceOrder` in over HTTP, placement by the work
engine, execution reports in from the exchange's stream."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence

from eventsourcing.application import Application

from adapters.eventstore import GroupCommitter
from adapters.exchange import HttpStockExchange, InProcessStockExchange
from adapters.execution_reports import ExecutionReportIngester, StreamPositions
from adapters.follower import Follower
from adapters.relay import ToMessage
from ledgerflow.ports import OrdersPorts
from ledgerflow.workflow import Workflow
from processes.orders.application import OrdersApplication, OrdersService
from processes.orders.integration import order_integration_message
from processes.orders.placement import OrderPlacement
from projections.orders import OrdersQueries, OrdersView


class OrdersWorkflow(Workflow):
    name = "orders"
    simulators = {"exchange": "LEDGERFLOW_EXCHANGE_URL"}

    application: OrdersApplication
    committer: GroupCommitter
    service: OrdersService
    queries: OrdersQueries

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
        if self.ports.orders is None and settings.exchange_in_process:
            in_process = InProcessStockExchange(threads=settings.worker_concurrency)
            try:
                await self._place_orders(OrdersPorts(exchange=in_process), stop)
            finally:
                in_process.close()
            return
        async with self.core.http_client("exchange") as client:
            ports = self.ports.orders or OrdersPorts(
                exchange=HttpStockExchange(client, settings.exchange_url)
            )
            await self._place_orders(ports, stop)

    async def _place_orders(self, ports: OrdersPorts, stop: asyncio.Event) -> None:
        # Never parked: the exchange's refusals are transient by contract.
        placement = OrderPlacement(self.application, ports.exchange, self.core.retry(budget=False))
        await self.core.run_work(self.application, self.committer, [placement], stop)
