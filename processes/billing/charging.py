"""The charge process manager: every invoice a run selects is charged at most once.

How one attempt goes (`ChargePolicy.attempt`):

1. Load the invoice. If it no longer expects this charge (paid, resolved, moved to
   another cycle), the work is obsolete: it ends and nothing is recorded.
2. If its last attempt went out without a known outcome (a crash, an expired lease, a
   dropped answer), reconcile first: ask the provider by the attempt's key. Found: the
   invoice is paid. Not found: charging again with the same key is safe. Cannot be asked:
   the invoice waits in `needs_attention` with the evidence; it is never charged blindly.
3. Write ahead: append `ChargeAttempted` and save it BEFORE calling the provider. The save
   is optimistic on the invoice's version, so of two workers racing only one appends it;
   the other stops (`ChargeRaceLost`) without calling.
4. Call the provider and classify the answer; `record` turns it into the outcome event.

What the attempt learned reaches `record` as a typed result (`Charged`, `Declined`,
`NeedsAttention`) or failure cause (`ChargeFailed`, `LookupFailed`), each carrying the
invoice as the attempt left it (`InvoiceAsAttempted`): `record` appends to that copy, so
a charge costs one read and two writes. A stale copy fails on its version and is read
again for the second recording (or the work is tried again, reconciling first).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, TypeAlias
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

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
    Obsolete,
    Outcome,
    Parked,
    PermanentFailure,
    RetryScheduled,
    RetrySettings,
    Succeeded,
    TransientFailure,
    WorkItem,
    WorkRequest,
)
from processes.billing.application import WORKER, BillingApplication
from processes.outbound import work_id

log = logging.getLogger(__name__)

CHARGE = "billing.charge"

Save = Callable[[Invoice], Awaitable[None]]
Load = Callable[[UUID], Awaitable[Aggregate]]


class ChargeRaceLost(RuntimeError):
    """Another worker appended the write-ahead first: this one must not call."""


def charge_work_id(invoice_id: UUID, cycle: int, round_: int) -> UUID:
    return work_id(invoice_id, CHARGE, cycle, round_)


@dataclass(frozen=True)
class ChargePayload:
    cycle: int  # the dunning cycle this charge belongs to
    run_id: UUID | None = None  # the run that selected the invoice (None: a retry)


@dataclass(frozen=True)
class InvoiceAsAttempted:
    """The invoice as the attempt left it (loaded, maybe written ahead), for `record`."""

    invoice: Invoice
    version: int

    @classmethod
    def of(cls, invoice: Invoice) -> InvoiceAsAttempted:
        return cls(invoice, invoice.version)

    def current(self, application: BillingApplication) -> Invoice:
        """The attempt's copy while nothing was recorded on it since; read again after
        (a recording that failed on its version is made again on a fresh copy)."""
        if self.invoice.version == self.version:
            return self.invoice
        return application.get_invoice(self.invoice.id)


# What a charge learned -----------------------------------------------------------------


@dataclass(frozen=True)
class Charged:
    """Paid: charged now, or found charged by key after an unknown outcome."""

    attempted: InvoiceAsAttempted
    attempt: int
    how: Literal["charged", "reconciled"]


@dataclass(frozen=True)
class Declined:
    """The provider declined (no funds): dunning retries it later, or it is uncollectible."""

    attempted: InvoiceAsAttempted
    attempt: int
    reason: str


@dataclass(frozen=True)
class NeedsAttention:
    """An operator must look: refused by the provider, or an outcome it cannot be asked."""

    attempted: InvoiceAsAttempted
    attempt: int
    reason: str
    detail: str


ChargeResult: TypeAlias = Charged | Declined | NeedsAttention


@dataclass(frozen=True)
class ChargeFailed:
    """The charge went out and failed: certainly not charged (`outcome_known`), or maybe
    charged (reconciled before charging again)."""

    attempted: InvoiceAsAttempted
    detail: str
    outcome_known: bool


@dataclass(frozen=True)
class LookupFailed:
    """The reconciling lookup failed: nothing new (the attempt stays unresolved)."""

    attempted: InvoiceAsAttempted


ChargeFailure: TypeAlias = ChargeFailed | LookupFailed


# An operator resolved the invoice: any charge still planned for it is cancelled. (A
# charge's own answer needs no cancel: the engine ends that work row as it records it,
# and a row left over by a crash finds the invoice settled and ends as obsolete.)
_RESOLVED_BY_OPERATOR = (Invoice.InvoiceMarkedPaid, Invoice.InvoiceWrittenOff)


class ChargePolicy:
    kind = CHARGE
    payload_type = ChargePayload
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
        retry: RetrySettings,
    ) -> None:
        self.application = application
        self.provider = provider
        self._save = save
        self._load = load  # batched: a hundred attempts starting together share one query
        self.clock = clock
        self.dunning = list(dunning)
        self.retry = retry

    # Planning ---------------------------------------------------------------------------

    def plan(self, event: object) -> Sequence[WorkRequest[ChargePayload] | CancelWork]:
        if isinstance(event, BillingRun.InvoicesSelected):
            run_id = event.originator_id
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
        invoice_id: UUID, cycle: int, round_: int, due_at: datetime, run_id: UUID | None
    ) -> WorkRequest[ChargePayload]:
        return WorkRequest(
            id=charge_work_id(invoice_id, cycle, round_),
            kind=CHARGE,
            aggregate_id=invoice_id,
            due_at=due_at,
            payload=ChargePayload(cycle, run_id),
        )

    # One attempt ------------------------------------------------------------------------

    async def attempt(self, item: WorkItem[ChargePayload]) -> Outcome[ChargeResult, ChargeFailure]:
        cycle = item.payload.cycle
        invoice = await self._load(item.aggregate_id)
        if not isinstance(invoice, Invoice):
            raise TypeError(f"{item.aggregate_id} is not an invoice")
        if not invoice.expects_charge(cycle):
            return Obsolete(
                f"invoice {invoice.ref_id} is {invoice.status.value}:"
                f" it no longer expects the charge of cycle {cycle}"
            )
        previous_not_charged = False
        unresolved = invoice.open_attempt
        if unresolved is not None:
            reconciled = await self._reconcile(invoice, unresolved)
            if reconciled is not None:
                return reconciled
            previous_not_charged = True
        entry = invoice.attempt_charge(
            cycle,
            item.payload.run_id,
            self.clock.now(),
            previous_not_charged=previous_not_charged,
            actor=WORKER,
        )
        try:
            await self._save(invoice)
        except IntegrityError:
            raise ChargeRaceLost(
                f"invoice {invoice.ref_id}: another worker is charging it"
            ) from None
        attempted = InvoiceAsAttempted.of(invoice)
        request = ChargeRequest(
            invoice_id=invoice.ref_id,
            customer_id=invoice.customer_ref_id,
            amount=invoice.amount,
            currency=invoice.currency,
            idempotency_key=entry["key"],
        )
        attempt: int = entry["attempt"]
        try:
            charged = await self.provider.charge(request)
        except (ProviderCustomerNotFound, ProviderCurrencyMismatch) as refusal:
            return Succeeded(NeedsAttention(attempted, attempt, refusal.code, refusal.detail))
        except ProviderRejected as refusal:
            return Succeeded(NeedsAttention(attempted, attempt, "refused", refusal.detail))
        except ProviderUnavailable as error:
            return TransientFailure(
                f"charge failed: {error.detail}",
                ChargeFailed(attempted, error.detail, outcome_known=True),
            )
        except OutcomeUnknown as error:
            log.info(
                "charge outcome unknown",
                extra={"invoice": invoice.ref_id, "attempt": attempt, "error": error.detail},
            )
            return TransientFailure(
                f"charge outcome unknown: {error.detail}",
                ChargeFailed(attempted, error.detail, outcome_known=False),
            )
        if charged:
            return Succeeded(Charged(attempted, attempt, "charged"))
        return Succeeded(Declined(attempted, attempt, "insufficient_balance"))

    async def _reconcile(
        self, invoice: Invoice, unresolved: dict[str, Any]
    ) -> Outcome[ChargeResult, ChargeFailure] | None:
        """Ask the provider about an attempt whose outcome is unknown; None: not charged."""
        attempted = InvoiceAsAttempted.of(invoice)
        attempt: int = unresolved["attempt"]
        key = unresolved["key"]
        try:
            found = await self.provider.find_charge(key)
        except LookupNotSupported as error:
            evidence = (
                f"attempt {attempt} with key {key} went out at "
                f"{unresolved['at'].isoformat()} and its outcome is unknown "
                f"({unresolved.get('detail') or 'no answer recorded'}); the provider cannot be "
                f"asked by key ({error.detail}): check with the provider before resolving"
            )
            return Succeeded(NeedsAttention(attempted, attempt, "outcome_unknown", evidence))
        except (ProviderUnavailable, OutcomeUnknown) as error:
            return TransientFailure(f"lookup failed: {error.detail}", LookupFailed(attempted))
        if found:
            log.info(
                "unknown charge outcome reconciled: charged", extra={"invoice": invoice.ref_id}
            )
            return Succeeded(Charged(attempted, attempt, "reconciled"))
        return None

    # Recording --------------------------------------------------------------------------

    def record(
        self,
        item: WorkItem[ChargePayload],
        decision: Decision[ChargeResult, ChargeFailure],
        at: datetime,
    ) -> Sequence[Invoice]:
        match decision:
            case Completed(outcome=Succeeded(result=result)):
                invoice = result.attempted.current(self.application)
                self._record_result(invoice, result, at)
            case Completed(outcome=PermanentFailure(error=error)):
                invoice = self.application.get_invoice(item.aggregate_id)
                invoice.needs_attention(
                    invoice.last_attempt or None, "refused", error, at, actor=WORKER
                )
            case RetryScheduled(retry_at=retry_at, cause=ChargeFailed() as failed):
                invoice = failed.attempted.current(self.application)
                invoice.record_failure(
                    invoice.last_attempt,
                    failed.detail,
                    at,
                    retry_at,
                    outcome_known=failed.outcome_known,
                    actor=WORKER,
                )
            case RetryScheduled():
                return []  # a failed lookup: the attempt stays unresolved, nothing new
            case Parked(error=error, cause=cause):
                invoice = (
                    cause.attempted.current(self.application)
                    if cause is not None
                    else self.application.get_invoice(item.aggregate_id)
                )
                reason = "outcome_unknown" if invoice.open_attempt else "gave_up"
                invoice.needs_attention(
                    invoice.last_attempt or None,
                    reason,
                    f"gave up after {item.attempt} attempts; last error: {error}",
                    at,
                    actor=WORKER,
                )
            case _:
                return []
        return [invoice]

    def _record_result(self, invoice: Invoice, result: ChargeResult, at: datetime) -> None:
        match result:
            case Charged(attempt=attempt, how=how):
                invoice.record_paid(attempt, how, at, actor=WORKER)
            case Declined(attempt=attempt, reason=reason):
                cycle = invoice.cycle
                retry_at = at + self.dunning[cycle - 1] if cycle <= len(self.dunning) else None
                invoice.record_declined(attempt, reason, at, retry_at, actor=WORKER)
            case NeedsAttention(attempt=attempt, reason=reason, detail=detail):
                invoice.needs_attention(attempt, reason, detail, at, actor=WORKER)
