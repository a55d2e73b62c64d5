"""The selection process manager: a started run selects the period's pending invoices.

It runs as work (leased, retried, taken over when a worker dies), so one worker selects
and a crashed selection is done again; the run records the selection once. It waits for
the invoices' read model for as long as it takes: its retry budget is None.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from domain.billing.ports import PendingInvoices
from domain.billing.run import BillingRun
from domain.work import (
    CancelWork,
    Completed,
    Decision,
    NoPayload,
    Obsolete,
    Outcome,
    RetrySettings,
    Succeeded,
    TransientFailure,
    WorkItem,
    WorkRequest,
)
from processes.billing.application import WORKER, BillingApplication
from processes.outbound import work_id

SELECT = "billing.select"


@dataclass(frozen=True)
class Selected:
    """The run's invoices: every one pending when the run started."""

    invoice_ids: tuple[UUID, ...]


class SelectionPolicy:
    kind = SELECT
    payload_type = NoPayload
    plans_from = (BillingRun.RunStarted,)

    def __init__(
        self, application: BillingApplication, pending: PendingInvoices, retry: RetrySettings
    ) -> None:
        self.application = application
        self.pending = pending
        self.retry = retry

    def plan(self, event: object) -> Sequence[WorkRequest[NoPayload] | CancelWork]:
        if isinstance(event, BillingRun.RunStarted):
            return [
                WorkRequest(
                    id=work_id(event.originator_id, SELECT),
                    kind=SELECT,
                    aggregate_id=event.originator_id,
                    due_at=event.at,
                    payload=NoPayload(),
                )
            ]
        return []

    async def attempt(self, item: WorkItem[NoPayload]) -> Outcome[Selected]:
        run = await asyncio.to_thread(self.application.get_run, item.aggregate_id)
        if run.selection_complete:
            return Obsolete("the run's selection is already recorded")
        # Every invoice issued before now must be in the read model before it is asked.
        head = await asyncio.to_thread(self.application.recorder.max_notification_id)
        ids = await self.pending.pending_invoices(int(head or 0))
        if ids is None:
            return TransientFailure("the invoices read model is behind the event log")
        return Succeeded(Selected(tuple(ids)))

    def record(
        self, item: WorkItem[NoPayload], decision: Decision[Selected], at: datetime
    ) -> Sequence[BillingRun]:
        if not isinstance(decision, Completed) or not isinstance(decision.outcome, Succeeded):
            return []
        run = self.application.get_run(item.aggregate_id)
        run.select(list(decision.outcome.result.invoice_ids), at, actor=WORKER)
        return [run]
