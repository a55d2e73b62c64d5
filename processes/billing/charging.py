"""The charge process manager: every invoice a run selects is charged at most once.

How one attempt goes (`ChargePolicy.attempt`):

1. Load the invoice. If it no longer expects this charge (paid, resolved, moved to
   another cycle), the work is dropped.
2. If its last attempt went out without a known outcome (a crash, an expired lease, a
   dropped answer), reconcile first: ask the provider by the attempt's key. Found: the
   invoice is paid. Not found: charging again with the same key is safe. Cannot be asked:
   the invoice waits in `needs_attention` with the evidence; it is never charged blindly.
3. Write ahead: append `ChargeAttempted` and save it BEFORE calling the provider. The save
   is optimistic on the invoice's version, so of two workers racing only one appends it;
   the other stops (`ChargeRaceLost`) without calling.
4. Call the provider and classify the answer; `record` turns it into the outcome event.

`record` reuses the invoice loaded by `attempt` (a stale copy fails on its version and
the work is tried again, reconciling first), so a charge costs one read and two writes.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from domain.billing.errors import ChargeNotExpected
from domain.billing.invoice import Invoice
from domain.billing.ports import (
    ChargeRequest,
    LookupNotSupported,
    PaymentProvider,
    ProviderCurrencyMismatch,
    ProviderCustomerNotFound,
)
from domain.billing.run import BillingRun
from domain.clock import Clock
from domain.outbound import OutcomeUnknown, ProviderRejected, ProviderUnavailable
from domain.work import (
    CancelWork,
    Completed,
    Decision,
    Outcome,
    Parked,
    PermanentFailure,
    RetryScheduled,
    Succeeded,
    TransientFailure,
    WorkItem,
    WorkRequest,
)
from processes.billing.application import BillingApplication
from processes.outbound import work_id

log = logging.getLogger(__name__)

CHARGE = "billing.charge"
# How a transient failure is recorded: the attempt certainly had no effect, may have had
# one, or the reconciling lookup itself failed (nothing new to record).
FAILED, UNKNOWN, LOOKUP = "failed", "unknown", "lookup"

Save = Callable[..., Awaitable[None]]
Load = Callable[[UUID], Awaitable[Any]]


class ChargeRaceLost(RuntimeError):
    """Another worker appended the write-ahead first: this one must not call."""


def charge_work_id(invoice_id: UUID, cycle: int, round_: int) -> UUID:
    return work_id(invoice_id, CHARGE, cycle, round_)


# An operator resolved the invoice: any charge still planned for it is cancelled. (A
# charge's own answer needs no cancel: the engine ends that work row as it records it,
# and a row left over by a crash finds the invoice settled and ends as obsolete.)
_RESOLVED_BY_OPERATOR = (Invoice.InvoiceMarkedPaid, Invoice.InvoiceWrittenOff)


class ChargePolicy:
    kind = CHARGE
    plans_from = (
        BillingRun.InvoicesSelected,
        Invoice.ChargeDeclined,
        Invoice.ChargeRetryRequested,
        *_RESOLVED_BY_OPERATOR,
    )

    def __init__(
        self,
        application: BillingApplication,
        provider: PaymentProvider,
        save: Save,
        load: Load,
        clock: Clock,
        dunning: Sequence[timedelta],
    ) -> None:
        self.application = application
        self.provider = provider
        self._save = save
        self._load = load  # batched: a hundred attempts starting together share one query
        self.clock = clock
        self.dunning = list(dunning)
        self._loaded: dict[UUID, Invoice] = {}  # work id -> the invoice `attempt` used

    # Planning ---------------------------------------------------------------------------

    def plan(self, event: Any) -> Sequence[WorkRequest | CancelWork]:
        if isinstance(event, BillingRun.InvoicesSelected):
            run_id = str(event.originator_id)
            return [
                self._charge(invoice_id, 1, 1, event.at, run_id) for invoice_id in event.invoice_ids
            ]
        if isinstance(event, Invoice.ChargeDeclined) and event.retry_at is not None:
            return [self._charge(event.originator_id, event.cycle + 1, 1, event.retry_at, None)]
        if isinstance(event, Invoice.ChargeRetryRequested):
            return [self._charge(event.originator_id, event.cycle, event.round, event.at, None)]
        if isinstance(event, _RESOLVED_BY_OPERATOR):
            return [CancelWork(aggregate_id=event.originator_id, kind=CHARGE)]
        return []

    @staticmethod
    def _charge(
        invoice_id: UUID, cycle: int, round_: int, due_at: datetime, run_id: str | None
    ) -> WorkRequest:
        return WorkRequest(
            id=charge_work_id(invoice_id, cycle, round_),
            kind=CHARGE,
            aggregate_id=invoice_id,
            due_at=due_at,
            payload={"cycle": cycle, "run_id": run_id},
        )

    # One attempt ------------------------------------------------------------------------

    async def attempt(self, item: WorkItem) -> Outcome:
        cycle = int(item.payload["cycle"])
        run_id = item.payload.get("run_id")
        invoice = await self._load(item.aggregate_id)
        if not isinstance(invoice, Invoice):
            raise TypeError(f"{item.aggregate_id} is not an invoice")
        self._loaded[item.id] = invoice
        if not invoice.expects_charge(cycle):
            return Succeeded({"result": "obsolete"})
        previous_not_charged = False
        unresolved = invoice.open_attempt
        if unresolved is not None:
            reconciled = await self._reconcile(invoice, unresolved)
            if reconciled is not None:
                return reconciled
            previous_not_charged = True
        entry = invoice.attempt_charge(
            cycle,
            UUID(run_id) if run_id else None,
            self.clock.now(),
            previous_not_charged=previous_not_charged,
        )
        try:
            await self._save(invoice)
        except IntegrityError:
            self._loaded.pop(item.id, None)
            raise ChargeRaceLost(
                f"invoice {invoice.ref_id}: another worker is charging it"
            ) from None
        request = ChargeRequest(
            invoice_id=invoice.ref_id,
            customer_id=invoice.customer_ref_id,
            amount=invoice.amount,
            currency=invoice.currency,
            idempotency_key=entry["key"],
        )
        attempt = entry["attempt"]
        try:
            charged = await self.provider.charge(request)
        except (ProviderCustomerNotFound, ProviderCurrencyMismatch) as refusal:
            return _needs_attention(attempt, refusal.code, refusal.detail)
        except ProviderRejected as refusal:
            return _needs_attention(attempt, "refused", refusal.detail)
        except ProviderUnavailable as error:
            return TransientFailure(f"{FAILED}: {error.detail}")
        except OutcomeUnknown as error:
            log.info(
                "charge outcome unknown",
                extra={"invoice": invoice.ref_id, "attempt": attempt, "error": error.detail},
            )
            return TransientFailure(f"{UNKNOWN}: {error.detail}")
        if charged:
            return Succeeded({"result": "paid", "how": "charged", "attempt": attempt})
        return Succeeded(
            {"result": "declined", "attempt": attempt, "reason": "insufficient_balance"}
        )

    async def _reconcile(self, invoice: Invoice, unresolved: dict[str, Any]) -> Outcome | None:
        """Ask the provider about an attempt whose outcome is unknown; None: not charged."""
        key = unresolved["key"]
        try:
            found = await self.provider.find_charge(key)
        except LookupNotSupported as error:
            evidence = (
                f"attempt {unresolved['attempt']} with key {key} went out at "
                f"{unresolved['at'].isoformat()} and its outcome is unknown "
                f"({unresolved.get('detail') or 'no answer recorded'}); the provider cannot be "
                f"asked by key ({error.detail}): check with the provider before resolving"
            )
            return _needs_attention(unresolved["attempt"], "outcome_unknown", evidence)
        except (ProviderUnavailable, OutcomeUnknown) as error:
            return TransientFailure(f"{LOOKUP}: {error.detail}")
        if found:
            log.info(
                "unknown charge outcome reconciled: charged", extra={"invoice": invoice.ref_id}
            )
            return Succeeded(
                {"result": "paid", "how": "reconciled", "attempt": unresolved["attempt"]}
            )
        return None

    # Recording --------------------------------------------------------------------------

    def record(self, item: WorkItem, decision: Decision, at: datetime) -> Sequence[Invoice]:
        invoice = self._loaded.pop(item.id, None) or self.application.get_invoice(item.aggregate_id)
        match decision:
            case Completed(outcome=Succeeded(result=result)):
                self._record_result(invoice, result, at)
            case Completed(outcome=PermanentFailure(error=error)):
                invoice.needs_attention(invoice.last_attempt or None, "refused", error, at)
            case RetryScheduled(error=error, retry_at=retry_at):
                kind, _, detail = error.partition(": ")
                if kind not in (FAILED, UNKNOWN):
                    return []  # a failed lookup: the attempt stays unresolved, nothing new
                invoice.record_failure(
                    invoice.last_attempt, detail, at, retry_at, outcome_known=kind == FAILED
                )
            case Parked(error=error):
                reason = "outcome_unknown" if invoice.open_attempt else "gave_up"
                invoice.needs_attention(
                    invoice.last_attempt or None,
                    reason,
                    f"gave up after {item.attempt} attempts; last error: {error}",
                    at,
                )
        return [invoice]

    def _record_result(self, invoice: Invoice, result: Any, at: datetime) -> None:
        outcome = result["result"]
        if outcome == "obsolete":
            raise ChargeNotExpected(invoice.status.value)
        if outcome == "paid":
            invoice.record_paid(result["attempt"], result["how"], at)
        elif outcome == "declined":
            cycle = invoice.cycle
            retry_at = at + self.dunning[cycle - 1] if cycle <= len(self.dunning) else None
            invoice.record_declined(result["attempt"], result["reason"], at, retry_at)
        else:
            invoice.needs_attention(result["attempt"], result["reason"], result["detail"], at)


def _needs_attention(attempt: int, reason: str, detail: str) -> Succeeded:
    return Succeeded(
        {"result": "needs_attention", "attempt": attempt, "reason": reason, "detail": detail}
    )
