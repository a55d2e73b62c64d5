"""The billing application service: issue, read, resolve invoices; start billing runs
for the periods the billing calendar allows."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from domain.access import Actor
from domain.actors import worker
from domain.billing.calendar import CALENDAR_ID, BillingCalendar
from domain.billing.customer import Customer
from domain.billing.dataset import CustomerRecord, InvoiceRecord, in_customers_currencies
from domain.billing.errors import BillingRunNotFound, InvoiceNotFound
from domain.billing.invoice import Invoice, invoice_id_for
from domain.billing.money import period_of
from domain.billing.run import BillingRun, run_id_for
from domain.clock import Clock
from domain.money import to_amount
from processes.applications import WorkflowApplication
from processes.audit import AuditEntry, audit_trail

SaveAggregates = Callable[..., Awaitable[None]]
# Who records the selection of a run's invoices and each charge's outcome.
WORKER = worker("billing")
# Who records when billing began: the workflow itself, in whichever of its processes
# opened it first.
CALENDAR = Actor.system("billing")


class BillingApplication(WorkflowApplication):
    name = "billing"

    def get_invoice(self, invoice_id: UUID) -> Invoice:
        try:
            invoice: Invoice = self.repository.get(invoice_id)
        except AggregateNotFoundError:
            raise InvoiceNotFound(invoice_id) from None
        return invoice

    def get_run(self, run_id: UUID) -> BillingRun:
        try:
            run: BillingRun = self.repository.get(run_id)
        except AggregateNotFoundError:
            raise BillingRunNotFound(run_id) from None
        return run

    def find_calendar(self) -> BillingCalendar | None:
        try:
            calendar: BillingCalendar = self.repository.get(CALENDAR_ID)
        except AggregateNotFoundError:
            return None
        return calendar

    def save_new(self, aggregates: Sequence[Aggregate]) -> int:
        """Save new aggregates in one transaction; on a collision, one by one, skipping
        those that exist (loading a data set twice adds nothing). Answers how many were new."""
        groups = [aggregate.collect_events() for aggregate in aggregates]
        try:
            self.save(*(event for group in groups for event in group))
            return len(groups)
        except IntegrityError:
            created = 0
            for group in groups:
                try:
                    self.save(*group)
                    created += 1
                except IntegrityError:
                    pass
            return created


class BillingService:
    """Commands of the billing workflow. `save` group-commits (adapters.eventstore);
    periods are calendar months in `timezone` (where "the first" is)."""

    def __init__(
        self,
        application: BillingApplication,
        save: SaveAggregates,
        clock: Clock,
        timezone: str = "UTC",
    ) -> None:
        self.application = application
        self._save = save
        self.clock = clock
        self.timezone = timezone
        self._calendar: BillingCalendar | None = None  # never changes once recorded

    def current_period(self) -> str:
        return period_of(self.clock.now(), self.timezone)

    async def calendar(self) -> BillingCalendar:
        """When billing began: read, or recorded now when no process has yet (the
        calendar's id is fixed: of two processes recording it at once, one collides and
        reads the other's)."""
        if self._calendar is None:
            calendar = await asyncio.to_thread(self.application.find_calendar)
            if calendar is None:
                calendar = BillingCalendar.begin(self.clock.now(), self.timezone, CALENDAR)
                try:
                    await self._save(calendar)
                except IntegrityError:
                    recorded = await asyncio.to_thread(self.application.find_calendar)
                    if recorded is None:  # the collision was not with a calendar
                        raise
                    calendar = recorded
            self._calendar = calendar
        return self._calendar

    async def load(
        self,
        records: Iterable[CustomerRecord | InvoiceRecord],
        actor: Actor,
        chunk: int = 500,
    ) -> int:
        """Register customers and issue invoices (by `actor`), many per transaction;
        idempotent. An invoice is in its customer's currency (`ValueError` otherwise)."""
        now = self.clock.now()
        batch: list[Aggregate] = []
        created = 0
        for record in in_customers_currencies(records):
            if isinstance(record, CustomerRecord):
                batch.append(
                    Customer(ref_id=record.ref_id, currency=record.currency, at=now, actor=actor)
                )
            else:
                batch.append(
                    Invoice(
                        ref_id=record.ref_id,
                        customer_ref_id=record.customer_ref_id,
                        amount=to_amount(record.amount),
                        currency=record.currency,
                        paid=record.paid,
                        at=now,
                        actor=actor,
                    )
                )
            if len(batch) >= chunk:
                created += await asyncio.to_thread(self.application.save_new, batch)
                batch = []
        if batch:
            created += await asyncio.to_thread(self.application.save_new, batch)
        return created

    async def start_run(self, period: str, trigger: str, actor: Actor) -> tuple[BillingRun, bool]:
        """Start the period's run; a second start answers the same run (and False).
        Raises `PeriodOutOfRange` for a month before billing began, or one to come."""
        calendar = await self.calendar()
        calendar.check_period(period, self.current_period())
        run = BillingRun(period=period, trigger=trigger, at=self.clock.now(), actor=actor)
        try:
            await self._save(run)
        except IntegrityError:
            return await self.get_run(run_id_for(period)), False
        return run, True

    async def get_run(self, run_id: UUID) -> BillingRun:
        return await asyncio.to_thread(self.application.get_run, run_id)

    async def get_invoice(self, ref_id: int) -> Invoice:
        try:
            return await asyncio.to_thread(self.application.get_invoice, invoice_id_for(ref_id))
        except InvoiceNotFound:
            raise InvoiceNotFound(ref_id) from None

    async def resolve(self, ref_id: int, action: str, note: str, actor: Actor) -> Invoice:
        invoice = await self.get_invoice(ref_id)
        invoice.resolve(action, note, self.clock.now(), actor=actor)
        await self._save(invoice)
        return invoice

    async def history(self, ref_id: int) -> list[AuditEntry]:
        entries = await asyncio.to_thread(audit_trail, self.application, invoice_id_for(ref_id))
        if not entries:
            raise InvoiceNotFound(ref_id)
        return entries
