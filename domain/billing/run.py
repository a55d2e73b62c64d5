"""The `BillingRun` aggregate: charging a period's pending invoices.

Its id follows from the period, so a second start of the same month (by the scheduler,
by hand, by another worker) lands on the same run. The invoices it selects are recorded
in chunks; each chunk's invoices become charge work.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.access import Actor
from domain.actors import RecordsActor
from domain.billing.customer import BILLING_NAMESPACE
from domain.billing.money import check_period


def run_id_for(period: str) -> UUID:
    return uuid5(BILLING_NAMESPACE, f"billing-run:{check_period(period)}")


class BillingRun(Aggregate):
    class RunStarted(RecordsActor, Aggregate.Created):
        period: str
        trigger: str  # "schedule" or "manual"
        at: datetime
        actor: Actor

    class InvoicesSelected(RecordsActor, Aggregate.Event):
        invoice_ids: list[UUID]
        at: datetime
        actor: Actor

    class SelectionCompleted(RecordsActor, Aggregate.Event):
        selected: int
        at: datetime
        actor: Actor

    @staticmethod
    def create_id(period: str, **_: object) -> UUID:
        return run_id_for(period)

    @event(RunStarted)
    def __init__(self, period: str, trigger: str, at: datetime, actor: Actor) -> None:
        self.period = period
        self.trigger = trigger
        self.started_at = at
        self.selected = 0
        self.selection_complete = False

    def select(
        self, invoice_ids: list[UUID], at: datetime, *, actor: Actor, chunk: int = 1000
    ) -> None:
        """Record the run's invoices (once: a repeated selection is ignored)."""
        if self.selection_complete:
            return
        for start in range(0, len(invoice_ids), chunk):
            self._selected(invoice_ids=invoice_ids[start : start + chunk], at=at, actor=actor)
        self._completed(selected=len(invoice_ids), at=at, actor=actor)

    @event(InvoicesSelected)
    def _selected(self, invoice_ids: list[UUID], at: datetime, actor: Actor) -> None:
        self.selected += len(invoice_ids)

    @event(SelectionCompleted)
    def _completed(self, selected: int, at: datetime, actor: Actor) -> None:
        self.selection_complete = True
