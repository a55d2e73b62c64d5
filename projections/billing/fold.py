"""A batch of billing events folded into row changes, in memory (no I/O).

One entry per row whatever the number of events touching it: rows first seen in the batch
are whole, rows stored before it are the columns the batch changes. What an invoice event
changes is the `Invoice` aggregate's own rule (`domain.billing.invoice.invoice_change`),
applied to rows as the aggregate applies it to itself.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, DomainEventProtocol

from domain.billing.customer import Customer
from domain.billing.invoice import Invoice, invoice_change
from domain.billing.invoice_changes import InvoiceChange, Settlement, issued_status
from domain.billing.run import BillingRun

Row = dict[str, Any]
Slot = tuple[UUID, int]
"""An attempt's key: (invoice id, attempt number)."""
Event = DomainEventProtocol[Any]


class BillingBatch:
    """The row changes of one batch. Stored attempts an operator's decision settles are
    known only by invoice (`settled_by_operator`): which of them are still unresolved is
    for the database to tell, before this batch's other attempt changes are written."""

    def __init__(self) -> None:
        self.customers: list[Row] = []
        self.new_invoices: dict[UUID, Row] = {}
        self.invoice_updates: dict[UUID, Row] = {}
        self.new_attempts: dict[Slot, Row] = {}
        self.attempt_updates: dict[Slot, Row] = {}
        self.settled_by_operator: dict[UUID, None] = {}  # an ordered set
        self.runs: dict[UUID, Row] = {}
        self.run_updates: dict[UUID, Row] = {}
        self._attempts_of: dict[UUID, list[Row]] = {}  # new and updated attempt rows

    def add(self, event: Event) -> None:
        if isinstance(event, Invoice.Event):  # most of a batch: tested first
            if isinstance(event, Invoice.InvoiceIssued):
                self._issued(event)
            else:
                change = invoice_change(event)
                if change is not None:
                    self._change_invoice(event, change)
        elif isinstance(event, Customer.CustomerRegistered):
            self.customers.append(
                {
                    "ref_id": event.ref_id,
                    "id": event.originator_id,
                    "currency": event.currency,
                    "at": event.at,
                }
            )
        elif isinstance(event, BillingRun.RunStarted):
            self.runs[event.originator_id] = {
                "id": event.originator_id,
                "period": event.period,
                "trigger": event.trigger,
                "started_at": event.at,
                "selected": 0,
                "selection_complete": False,
            }
        elif isinstance(event, BillingRun.InvoicesSelected):
            run = self._run(event.originator_id)
            run["selected"] = run.get("selected", 0) + len(event.invoice_ids)
        elif isinstance(event, BillingRun.SelectionCompleted):
            self._run(event.originator_id)["selection_complete"] = True

    def _issued(self, event: Invoice.InvoiceIssued) -> None:
        self.new_invoices[event.originator_id] = {
            "ref_id": event.ref_id,
            "id": event.originator_id,
            "customer_ref_id": event.customer_ref_id,
            "amount": event.amount,
            "currency": event.currency,
            "status": issued_status(event.paid),
            "cycle": 0,
            "attempts": 0,
            "run_id": None,
            "reason": None,
            "last_error": None,
            "next_charge_at": None,
            "issued_at": event.at,
            "updated_at": event.timestamp,
            "version": event.originator_version,
        }

    def _change_invoice(self, event: Aggregate.Event, change: InvoiceChange) -> None:
        invoice_id = event.originator_id
        columns: Row = dict(change.fields)
        columns.pop("round", None)  # the aggregate's own count: no column
        if change.settles is not None:
            self._settle(invoice_id, change.settles)
        opened = change.opens
        if opened is not None:
            columns["attempts"] = opened.attempt
            row: Row = {
                "invoice_id": invoice_id,
                "attempt": opened.attempt,
                "cycle": opened.cycle,
                "key": opened.key,
                "run_id": opened.run_id,
                "started_at": opened.at,
                "outcome": None,
                "detail": None,
                "finished_at": None,
            }
            self.new_attempts[(invoice_id, opened.attempt)] = row
            self._attempts_of.setdefault(invoice_id, []).append(row)
        columns["updated_at"] = event.timestamp
        columns["version"] = event.originator_version
        target = self.new_invoices.get(invoice_id)
        if target is None:
            target = self.invoice_updates.setdefault(invoice_id, {})
        target.update(columns)

    def _settle(self, invoice_id: UUID, settlement: Settlement) -> None:
        columns: Row = {"outcome": settlement.outcome.value, "detail": settlement.detail}
        if settlement.finished_at is not None:
            columns["finished_at"] = settlement.finished_at
        if settlement.attempt is None:  # every unresolved attempt: these, and stored ones
            for known in self._attempts_of.get(invoice_id, ()):
                if settlement.applies_to(known["attempt"], known["outcome"]):
                    known.update(columns)
            if invoice_id not in self.new_invoices:
                self.settled_by_operator[invoice_id] = None
            return
        slot = (invoice_id, settlement.attempt)
        row = self.new_attempts.get(slot) or self.attempt_updates.get(slot)
        if row is None:
            if invoice_id in self.new_invoices:
                return  # no such attempt: every attempt of this invoice is in the batch
            row = self.attempt_updates[slot] = {"attempt": settlement.attempt}
            self._attempts_of.setdefault(invoice_id, []).append(row)
        row.update(columns)

    def _run(self, run_id: UUID) -> Row:
        """The run's new row, or its changes (counted from zero) when it is stored."""
        if run_id in self.runs:
            return self.runs[run_id]
        return self.run_updates.setdefault(run_id, {"id": run_id})
