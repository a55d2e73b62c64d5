"""Commands of the reimbursements workflow (pydantic: the API's bodies reuse them)."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from domain.money import Money
from domain.requests import STRICT, JsonUuid, StorableText

MAX_DESCRIPTION = 500
MAX_REASON = 500
MIN_AMOUNT = Decimal("0.01")
MAX_AMOUNT = Decimal("1000000.00")


def _not_blank(value: str, field: str) -> str:
    if not value.strip():
        raise ValueError(f"{field} must not be blank")
    return value.strip()


class SubmitReimbursement(BaseModel):
    model_config = ConfigDict(
        **STRICT,
        json_schema_extra={
            "examples": [
                {
                    "bank_account_id": "4e2b9d0c-5b7a-5d8e-9f1a-2c3d4e5f6a7b",
                    "amount": {"amount": "129.90", "currency": "EUR"},
                    "description": "Train tickets to the Lisbon branch audit",
                }
            ]
        },
    )

    bank_account_id: JsonUuid = Field(description="The account paid; its owner is the member.")
    amount: Money = Field(
        description=f"From {MIN_AMOUNT} to {MAX_AMOUNT}, in the account's currency."
    )
    description: StorableText = Field(min_length=1, max_length=MAX_DESCRIPTION)

    @field_validator("amount")
    @classmethod
    def _amount(cls, value: Money) -> Money:
        return value.within(MIN_AMOUNT, MAX_AMOUNT)

    @field_validator("description")
    @classmethod
    def _description(cls, value: str) -> str:
        return _not_blank(value, "description")


class DenyReimbursement(BaseModel):
    """The deciding administrator is the caller (its token), never a body field."""

    model_config = ConfigDict(
        **STRICT,
        json_schema_extra={
            "examples": [{"reason": "Receipts missing; please submit again with receipts."}]
        },
    )

    reason: StorableText = Field(min_length=1, max_length=MAX_REASON)

    @field_validator("reason")
    @classmethod
    def _reason(cls, value: str) -> str:
        return _not_blank(value, "reason")
