"""`/invoices` and `/billing/runs`: invoices with their charge attempts, operator
resolutions, audit trails; starting a billing run and watching its progress. Operators
and auditors read them; resolutions and runs are operator actions."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field, computed_field
from pydantic.config import JsonDict

from api.access import Operator, Reader
from api.audit import EventPublic
from api.deps import DEFAULT_PAGE_SIZE, Billing, Cursor, Limit
from api.errors import responses
from api.idempotency import Idempotent, IdempotentRoute
from api.pages import Page
from api.read_your_writes import reads
from api.services import BillingServices
from domain.billing.commands import ResolveInvoice, StartBillingRun
from domain.money import Money

log = logging.getLogger(__name__)

router = APIRouter(tags=["billing"], route_class=IdempotentRoute)

# Reference ids are the reference's integers, kept in `integer` columns.
MAX_REF_ID = 2**31 - 1
InvoiceId = Annotated[int, Path(ge=1, le=MAX_REF_ID, description="The reference invoice id.")]

InvoiceStatusName = Literal[
    "pending",
    "charging",
    "paid",
    "retry_scheduled",
    "uncollectible",
    "needs_attention",
    "written_off",
]

ATTEMPT_EXAMPLE: JsonDict = {
    "attempt": 1,
    "cycle": 1,
    "key": "invoice-1-cycle-1",
    "started_at": "2026-12-01T00:00:02Z",
    "outcome": "charged",
    "detail": "charged",
}
INVOICE_EXAMPLE: JsonDict = {
    "id": 1,
    "customer_id": 1,
    "amount": {"amount": "292.97", "currency": "USD"},
    "status": "paid",
    "cycle": 1,
    "reason": None,
    "next_charge_at": None,
    "attempts": [ATTEMPT_EXAMPLE],
}


class AttemptPublic(BaseModel):
    # Read from a read-model row as it is (the aggregate's attempts are dicts: see below).
    model_config = ConfigDict(
        from_attributes=True, json_schema_extra={"examples": [ATTEMPT_EXAMPLE]}
    )

    attempt: int
    cycle: int
    key: str = Field(description="The idempotency key sent: the invoice and its dunning cycle.")
    started_at: datetime
    outcome: str | None = Field(
        description="charged, declined, refused, failed, unknown, not_charged; null while "
        "the call is in flight"
    )
    detail: str | None


class InvoicePublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [INVOICE_EXAMPLE]})

    id: int
    customer_id: int
    amount: Money
    status: InvoiceStatusName
    cycle: int = Field(description="The dunning cycle of the last charge (0: never charged).")
    reason: str | None = Field(description="Why the invoice is not paid, or how it was settled.")
    next_charge_at: datetime | None
    attempts: list[AttemptPublic]

    # Built by hand: a client knows the invoice by its reference id, its amount is
    # `Money` of two attributes, and the aggregate keeps its attempts as dicts.
    @classmethod
    def of_aggregate(cls, invoice: Any) -> InvoicePublic:
        return cls(
            id=invoice.ref_id,
            customer_id=invoice.customer_ref_id,
            amount=Money.stored(invoice.amount, invoice.currency),
            status=invoice.status.value,
            cycle=invoice.cycle,
            reason=invoice.reason,
            next_charge_at=invoice.next_charge_at,
            attempts=[
                AttemptPublic(
                    attempt=a["attempt"],
                    cycle=a["cycle"],
                    key=a["key"],
                    started_at=a["at"],
                    outcome=a["outcome"],
                    detail=a["detail"],
                )
                for a in invoice.attempts
            ],
        )

    @classmethod
    def of_row(cls, row: Any, attempts: list[Any]) -> InvoicePublic:
        return cls(
            id=row.ref_id,
            customer_id=row.customer_ref_id,
            amount=Money.stored(row.amount, row.currency),
            status=row.status,
            cycle=row.cycle,
            reason=row.reason,
            next_charge_at=row.next_charge_at,
            attempts=[AttemptPublic.model_validate(attempt) for attempt in attempts],
        )


class BillingRunCreate(StartBillingRun):
    """The body of `POST /billing/runs`."""


class InvoiceResolution(ResolveInvoice):
    """The body of `POST /invoices/{id}/resolution`."""


RUN_EXAMPLE: JsonDict = {
    "id": "5b1e8a4e-0a8f-5a8e-9c57-5a1a3f0f6c11",
    "period": "2026-12",
    "trigger": "manual",
    "started_at": "2026-12-01T00:00:00Z",
    "selection_complete": True,
    "selected": 100,
    "counts": {"paid": 97, "retry_scheduled": 2, "needs_attention": 1},
    "waiting": 0,
}


class BillingRunPublic(BaseModel):
    """A run as the read model counts it, or as the run itself tells before the read model
    has seen it (no counts yet): either one is read by its attributes."""

    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [RUN_EXAMPLE]})

    id: UUID
    period: str
    trigger: str
    started_at: datetime
    selection_complete: bool
    selected: int = Field(description="Pending invoices the run selected.")
    counts: dict[str, int] = Field(
        default_factory=dict, description="The run's invoices by status (read model)."
    )

    @computed_field(  # type: ignore[prop-decorator]
        description="Selected invoices the read model does not count in `counts` yet: "
        "0 once every one is projected, whatever its status (`charging` included)."
    )
    @property
    def waiting(self) -> int:
        return max(0, self.selected - sum(self.counts.values()))


class InvoicePage(Page[InvoicePublic]):
    """A page of invoices, each with its charge attempts."""


class BillingRunPage(Page[BillingRunPublic]):
    """A page of billing runs, in the order they started."""


@router.get(
    "/invoices",
    response_model=InvoicePage,
    dependencies=[reads("billing", "billing_view")],
    responses=responses(400),
    summary="List invoices with their charge attempts (e.g. ?status=needs_attention)",
    description="Reads the billing read model (`billing_invoices` and its charge attempts), "
    "a fraction of a second behind the events: filter by `status` or `customer_id`, page "
    "with `limit` and `cursor`. `?status=needs_attention` is the operators' work list.",
)
async def list_invoices(
    caller: Reader,
    billing: Billing,
    status: Annotated[InvoiceStatusName | None, Query(description="Only this status.")] = None,
    customer_id: Annotated[
        int | None, Query(ge=1, le=MAX_REF_ID, description="Only this customer's.")
    ] = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: Cursor = None,
) -> InvoicePage:
    page = await billing.queries.list_invoices(
        status=status, customer_id=customer_id, limit=limit, cursor=cursor
    )
    attempts = await billing.queries.attempts_of([row.id for row in page.items])
    return InvoicePage(
        items=[InvoicePublic.of_row(row, attempts.get(row.id, [])) for row in page.items],
        next_cursor=page.next_cursor,
    )


@router.get(
    "/invoices/{invoice_id}",
    response_model=InvoicePublic,
    responses=responses(404),
    summary="Read one invoice (always current: read from its events)",
    description="The invoice by its reference id (an integer, as in the reference data "
    "set), as its events make it now: status, dunning cycle, attempts, the reason it needs "
    "attention; 404 for an unknown id.",
)
async def get_invoice(invoice_id: InvoiceId, caller: Reader, billing: Billing) -> InvoicePublic:
    return InvoicePublic.of_aggregate(await billing.service.get_invoice(invoice_id))


@router.post(
    "/invoices/{invoice_id}/resolution",
    response_model=InvoicePublic,
    responses=responses(404, 409),
    summary="Resolve an invoice an operator must decide on (mark paid, retry, write off)",
    description="Allowed on invoices that need attention or are uncollectible (mark_paid "
    "and write_off also while a dunning retry is scheduled). `retry` charges again with the "
    "same idempotency key; each resolution is an event with its note.",
)
async def resolve_invoice(
    invoice_id: InvoiceId, body: InvoiceResolution, caller: Operator, billing: Billing
) -> InvoicePublic:
    invoice = await billing.service.resolve(invoice_id, body.action, body.note, caller.actor)
    log.info("invoice resolved by operator", extra={"invoice": invoice_id, "action": body.action})
    return InvoicePublic.of_aggregate(invoice)


@router.get(
    "/invoices/{invoice_id}/events",
    response_model=list[EventPublic],
    responses=responses(404),
    summary="The invoice's audit trail: every event, in order",
    description="Every event of the invoice in version order: each charge attempted (its "
    "idempotency key and attempt number), its outcome, dunning, operator resolutions.",
)
async def invoice_events(
    invoice_id: InvoiceId, caller: Reader, billing: Billing
) -> list[EventPublic]:
    return [
        EventPublic.model_validate(entry) for entry in await billing.service.history(invoice_id)
    ]


@router.post(
    "/billing/runs",
    status_code=202,
    response_model=BillingRunPublic,
    responses={
        200: {"model": BillingRunPublic, "description": "The period's run already exists"},
        **responses(409),
    },
    dependencies=[Idempotent],
    summary="Start the billing run of a period by hand",
    description="The run's id follows from the period: a second start answers the same run "
    "(200). Its pending invoices are selected and charged in the background. The period "
    "must be from the month the platform began billing to the current one (in the billing "
    "timezone): otherwise 422 `period_out_of_range`.",
)
async def start_run(
    body: BillingRunCreate, caller: Operator, billing: Billing, response: Response
) -> BillingRunPublic:
    run, created = await billing.service.start_run(body.period, "manual", caller.actor)
    if not created:
        response.status_code = 200
    return await _run_public(billing, run.id)


@router.get(
    "/billing/runs",
    response_model=BillingRunPage,
    dependencies=[reads("billing", "billing_view")],
    responses=responses(400),
    summary="Billing runs in the order they started, with their progress",
    description="Each run (scheduled on the first of the month, or started by hand) with "
    "its invoices counted by status from the read model; page with `limit` and `cursor`.",
)
async def list_runs(
    caller: Reader, billing: Billing, limit: Limit = DEFAULT_PAGE_SIZE, cursor: Cursor = None
) -> BillingRunPage:
    page = await billing.queries.list_runs(limit=limit, cursor=cursor)
    return BillingRunPage(
        items=[BillingRunPublic.model_validate(run) for run in page.items],
        next_cursor=page.next_cursor,
    )


@router.get(
    "/billing/runs/{run_id}",
    response_model=BillingRunPublic,
    responses=responses(404),
    summary="A billing run's progress: its invoices counted by status",
    description="How many pending invoices the run selected, how many of them are in each "
    "status now (read model) and how many are still waiting to be charged; 404 for an "
    "unknown run.",
)
async def get_run(run_id: UUID, caller: Reader, billing: Billing) -> BillingRunPublic:
    return await _run_public(billing, run_id)


async def _run_public(billing: BillingServices, run_id: UUID) -> BillingRunPublic:
    progress = await billing.queries.run_progress(run_id)
    if progress is None:  # the read model has not seen the run yet
        return BillingRunPublic.model_validate(await billing.service.get_run(run_id))
    return BillingRunPublic.model_validate(progress)
