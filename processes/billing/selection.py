"""The selection process manager: a started run selects the period's pending invoices.

It runs as work (leased, retried, taken over when a worker dies), so one worker selects
and a crashed selection is done again; the run records the selection once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from domain.billing.ports import PendingInvoices
from domain.billing.run import BillingRun
from domain.work import (
    CancelWork,
    Completed,
    Decision,
    Outcome,
    Succeeded,
    TransientFailure,
    WorkItem,
    WorkRequest,
)
from processes.billing.application import BillingApplication
from processes.outbound import work_id

SELECT = "billing.select"


class SelectionPolicy:
    kind = SELECT
    plans_from = (BillingRun.RunStarted,)

    def __init__(self, application: BillingApplication, pending: PendingInvoices) -> None:
        self.application = application
        self.pending = pending

    def plan(self, event: Any) -> Sequence[WorkRequest | CancelWork]:
        if isinstance(event, BillingRun.RunStarted):
            return [
                WorkRequest(
                    id=work_id(event.originator_id, SELECT),
                    kind=SELECT,
                    aggregate_id=event.originator_id,
                    due_at=event.at,
                    max_attempts=100_000,  # waits for the read model as long as it takes
                )
            ]
        return []

    async def attempt(self, item: WorkItem) -> Outcome:
        run = await asyncio.to_thread(self.application.get_run, item.aggregate_id)
        if run.selection_complete:
            return Succeeded({"invoice_ids": []})
        # Every invoice issued before now must be in the read model before it is asked.
        head = await asyncio.to_thread(self.application.recorder.max_notification_id)
        ids = await self.pending.pending_invoices(int(head or 0))
        if ids is None:
            return TransientFailure("the invoices read model is behind the event log")
        return Succeeded({"invoice_ids": [str(invoice_id) for invoice_id in ids]})

    def record(self, item: WorkItem, decision: Decision, at: datetime) -> Sequence[BillingRun]:
        if not isinstance(decision, Completed) or not isinstance(decision.outcome, Succeeded):
            return []
        run = self.application.get_run(item.aggregate_id)
        run.select([UUID(i) for i in decision.outcome.result["invoice_ids"]], at)
        return [run]
