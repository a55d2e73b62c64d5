"""The billing workflow's wiring: invoices charged by monthly runs, never twice."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta

from eventsourcing.application import Application

from adapters.eventstore import AggregateReader, GroupCommitter
from adapters.follower import Follower
from adapters.payment_provider import HttpPaymentProvider
from adapters.relay import ToMessage
from domain.actors import SEED
from domain.billing.dataset import antaeus
from ledgerflow.ports import BillingPorts
from ledgerflow.workflow import Workflow
from processes.billing.application import BillingApplication, BillingService
from processes.billing.charging import ChargePolicy
from processes.billing.integration import billing_integration_message
from processes.billing.scheduler import MonthlyScheduler
from processes.billing.selection import SelectionPolicy
from projections.billing import BillingQueries, BillingView
from projections.billing.schema import PARKED


class BillingWorkflow(Workflow):
    name = "billing"
    simulators = {"payment-provider": "LEDGERFLOW_PAYMENT_PROVIDER_URL"}
    seeds = {"antaeus": True}
    parked = (PARKED,)

    application: BillingApplication
    committer: GroupCommitter
    service: BillingService
    queries: BillingQueries

    async def open(self) -> None:
        self.application = await self.core.open_application(BillingApplication)
        self.committer = GroupCommitter(self.application)
        self.service = BillingService(
            self.application,
            self.committer.save,
            self.core.clock,
            self.core.settings.billing_timezone,
        )
        self.queries = BillingQueries(self.core.pool)
        # The platform's first start records when billing began; later starts read it.
        try:
            await self.service.calendar()
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        await self.committer.close()
        self.application.close()

    def projections(self) -> Sequence[Follower]:
        return [self.core.follower(self.application, BillingView())]

    def integration_messages(self) -> Sequence[tuple[Application, ToMessage]]:
        return [(self.application, billing_integration_message)]

    async def seed(self, name: str) -> int:
        if name != "antaeus":
            return await super().seed(name)
        return await self.service.load(antaeus(), SEED)

    async def run_worker(self, stop: asyncio.Event) -> None:
        settings = self.core.settings
        # The lease must outlive an attempt (a lookup and a charge, each up to the timeout),
        # or a second worker could take over a charge that is still in flight.
        if settings.work_lease_seconds <= 2 * settings.outbound_timeout_seconds:
            raise ValueError(
                "LEDGERFLOW_WORK_LEASE_SECONDS must exceed twice "
                "LEDGERFLOW_OUTBOUND_TIMEOUT_SECONDS for billing"
            )
        in_flight = settings.billing_calls_in_flight or settings.worker_concurrency
        reader = AggregateReader(self.application)
        async with self.core.http_client("payment-provider", in_flight) as client:
            ports = self.ports.billing or BillingPorts(
                provider=HttpPaymentProvider(client, settings.payment_provider_url)
            )
            dunning = [timedelta(days=days) for days in settings.billing_dunning_days]
            # The selection waits for the invoices' read model as long as it takes.
            selection = SelectionPolicy(
                self.application, self.queries, self.core.retry(budget=False)
            )
            charge = ChargePolicy(
                self.application,
                ports.provider,
                self.committer.save,
                reader.get,
                self.core.clock,
                dunning,
                self.core.retry(),
            )
            tasks = [
                self.core.run_work(self.application, self.committer, [selection, charge], stop)
            ]
            if settings.billing_scheduler:
                scheduler = MonthlyScheduler(
                    self.service, interval=settings.billing_scheduler_interval_seconds
                )
                tasks.append(scheduler.run(stop))
            try:
                await asyncio.gather(*tasks)
            finally:
                await reader.close()
