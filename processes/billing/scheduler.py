"""The monthly scheduler: the period's run is started on the first of the month.

It asks "has this month's run started?" on every tick, so a platform that was down over
the first starts the missed run when it comes back. It never starts a month the
platform did not see begin: the billing calendar names the first month it starts by
itself (a platform first started mid-month starts nothing until the next first). Several
workers may tick at once: the run's id follows from the period, so they all land on the
same run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from domain.access import Actor
from processes.billing.application import BillingService

log = logging.getLogger(__name__)

SCHEDULER = Actor.system("billing-scheduler")


class MonthlyScheduler:
    def __init__(self, service: BillingService, *, interval: float = 30) -> None:
        self.service = service
        self.interval = interval
        self._settled: str | None = None  # the period this scheduler is done with

    async def tick(self) -> str | None:
        """Start the current period's run when it is due and has not started; answers
        the period started by this call, if any."""
        period = self.service.current_period()
        if period == self._settled:
            return None
        calendar = await self.service.calendar()
        if not calendar.is_scheduled(period):
            self._settled = period
            return None
        run, created = await self.service.start_run(period, "schedule", SCHEDULER)
        self._settled = period
        if created:
            log.info("billing run started", extra={"period": period, "run_id": str(run.id)})
            return period
        return None

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.tick()
            except Exception as error:  # the database may be away: try again next tick
                log.warning("billing scheduler tick failed", extra={"error": str(error)})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.interval)
