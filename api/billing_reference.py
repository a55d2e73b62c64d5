"""`/rest`: read endpoints compatible with the reference invoice service.

Bare arrays, unpaginated; an amount's value is a JSON number with two decimals; the
reference knows only `PENDING` and `PAID`, so an invoice that is not paid shows
`PENDING`. Unknown ids answer 404. Operators and auditors read them.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, ConfigDict
from pydantic.config import JsonDict

from api.access import readers
from api.deps import Billing
from api.errors import responses
from domain.billing.errors import CustomerNotFound, InvoiceNotFound

# Every route reads billing data: one rule for the router.
router = APIRouter(prefix="/rest", tags=["reference"], dependencies=[Depends(readers)])

INVOICE_EXAMPLE: JsonDict = {
    "id": 1,
    "customerId": 1,
    "amount": {"value": 292.97, "currency": "USD"},
    "status": "PAID",
}
CUSTOMER_EXAMPLE: JsonDict = {"id": 1, "currency": "USD"}


class ReferenceAmount(BaseModel):
    value: float
    currency: str


class ReferenceInvoice(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [INVOICE_EXAMPLE]})

    id: int
    customerId: int  # the reference's field name
    amount: ReferenceAmount
    status: str


class ReferenceCustomer(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [CUSTOMER_EXAMPLE]})

    id: int
    currency: str


def _invoice_json(row: dict[str, Any]) -> str:
    amount: Decimal = row["amount"]
    status = "PAID" if row["status"] == "paid" else "PENDING"
    return (
        f'{{"id": {int(row["ref_id"])}, "customerId": {int(row["customer_ref_id"])}, '
        f'"amount": {{"value": {amount:.2f}, "currency": {json.dumps(row["currency"])}}}, '
        f'"status": "{status}"}}'
    )


def _customer_json(row: dict[str, Any]) -> str:
    return f'{{"id": {int(row["ref_id"])}, "currency": {json.dumps(row["currency"])}}}'


def _json(text: str) -> Response:
    return Response(content=text, media_type="application/json")


@router.get(
    "/health",
    response_model=str,
    responses={200: {"content": {"application/json": {"example": "ok"}}}},
    summary="The reference's health check",
    description='Answers `"ok"`, as the reference invoice service does.',
)
async def health() -> str:
    return "ok"


@router.get(
    "/v1/invoices",
    response_model=list[ReferenceInvoice],
    summary="Every invoice, in the reference's shape",
    description="A bare array, unpaginated, ordered by id; an invoice that is not paid shows "
    "`PENDING`, and its amount's value is a JSON number with two decimals.",
)
async def invoices(billing: Billing) -> Response:
    rows = await billing.queries.reference_invoices()
    return _json("[" + ", ".join(_invoice_json(row) for row in rows) + "]")


@router.get(
    "/v1/invoices/{invoice_id}",
    response_model=ReferenceInvoice,
    responses=responses(404),
    summary="One invoice, in the reference's shape",
    description="`PAID` or `PENDING` (every other status); 404 for an unknown id.",
)
async def invoice(invoice_id: int, billing: Billing) -> Response:
    rows = await billing.queries.reference_invoices(invoice_id)
    if not rows:
        raise InvoiceNotFound(invoice_id)
    return _json(_invoice_json(rows[0]))


@router.get(
    "/v1/customers",
    response_model=list[ReferenceCustomer],
    summary="Every customer, in the reference's shape",
    description="A bare array, unpaginated, ordered by id: each customer's id and currency.",
)
async def customers(billing: Billing) -> Response:
    rows = await billing.queries.reference_customers()
    return _json("[" + ", ".join(_customer_json(row) for row in rows) + "]")


@router.get(
    "/v1/customers/{customer_id}",
    response_model=ReferenceCustomer,
    responses=responses(404),
    summary="One customer, in the reference's shape",
    description="Its id and currency; 404 for an unknown id.",
)
async def customer(customer_id: int, billing: Billing) -> Response:
    rows = await billing.queries.reference_customers(customer_id)
    if not rows:
        raise CustomerNotFound(customer_id)
    return _json(_customer_json(rows[0]))
