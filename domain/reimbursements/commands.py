"""Commands of the reimbursements workflow (pydantic: the API's bodies reuse them)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, field_validator

from domain.money import CENT

MAX_DESCRIPTION = 500
MAX_REASON = 500
MAX_AMOUNT = Decimal("1000000.00")


def parse_amount(value: Any) -> Decimal:
    """A positive amount with at most two decimals, as a JSON string (or number) -> Decimal
    quantized to two places. Floats are refused: they cannot carry cents exactly."""
    if isinstance(value, bool | float):
        raise ValueError('amount must be a string with at most two decimals, e.g. "12.50"')
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError("amount is not a decimal number") from None
    if not amount.is_finite():
        raise ValueError("amount must be a finite number")
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2:
        raise ValueError("amount must have at most two decimal places")
    if amount <= 0:
        raise ValueError("amount must be greater than 0")
    if amount > MAX_AMOUNT:
        raise ValueError(f"amount must be at most {MAX_AMOUNT}")
    return amount.quantize(CENT)


def _not_blank(value: str, field: str) -> str:
    if not value.strip():
        raise ValueError(f"{field} must not be blank")
    return value.strip()


class SubmitReimbursement(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "bank_account_id": "4e2b9d0c-5b7a-5d8e-9f1a-2c3d4e5f6a7b",
                    "amount": "129.90",
                    "currency": "EUR",
                    "description": "Train tickets to the Lisbon branch audit",
                }
            ]
        },
    )

    bank_account_id: UUID = Field(description="The account paid; its owner is the member.")
    # Documented as the string it should be (pydantic would say "a number or a string").
    amount: Annotated[Decimal, WithJsonSchema({"type": "string", "examples": ["129.90"]})] = Field(
        description='Positive, at most two decimals, as a string: "129.90".'
    )
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code, e.g. EUR.")
    description: str = Field(min_length=1, max_length=MAX_DESCRIPTION)

    @field_validator("amount", mode="before")
    @classmethod
    def _amount(cls, value: Any) -> Decimal:
        return parse_amount(value)

    @field_validator("description")
    @classmethod
    def _description(cls, value: str) -> str:
        return _not_blank(value, "description")


class DenyReimbursement(BaseModel):
    """The deciding administrator is the caller (its token), never a body field."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"reason": "Receipts missing; please submit again with receipts."}]
        },
    )

    reason: str = Field(min_length=1, max_length=MAX_REASON)

    @field_validator("reason")
    @classmethod
    def _reason(cls, value: str) -> str:
        return _not_blank(value, "reason")
