"""The monthly scheduler: the period's run is started on the first of the month.

It asks "has this month's run started?" on every tick, so a platform that was down over
the first starts the missed run when it comes back. Several workers may tick at once:
the run's id follows from the period, so they all land on the same run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from domain.billing.money import period_of
from domain.clock import Clock
from processes.billing.application import BillingService

log = logging.getLogger(__name__)


class MonthlyScheduler:
    def __init__(
        self, service: BillingService, clock: Clock, *, timezone: str = "UTC", interval: float = 30
    ) -> None:
        self.service = service
        self.clock = clock
        self.timezone = timezone
        self.interval = interval
        self._started: str | None = None

    async def tick(self) -> str | None:
        """Start the current period's run when it has not started; answers the period
        started by this call, if any."""
        period = period_of(self.clock.now(), self.timezone)
        if period == self._started:
            return None
        run, created = await self.service.start_run(period, "schedule")
        self._started = period
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
