"""Money, the same in every workflow: `Decimal` amounts with two decimals (never floats),
and the API's shape `{"amount": "1000.00", "currency": "EUR"}`."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, field_serializer, field_validator

CENT = Decimal("0.01")
AMOUNT = re.compile(r"^[0-9]{1,13}\.[0-9]{2}$")
CURRENCY = re.compile(r"^[A-Z]{3}$")


class Money(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={"examples": [{"amount": "15000.00", "currency": "EUR"}]},
    )

    # One schema for what is read and what is written (a string either way), so the
    # OpenAPI has one `Money`, not `Money-Input` and `Money-Output`.
    amount: Annotated[Decimal, WithJsonSchema({"type": "string", "pattern": AMOUNT.pattern})] = (
        Field(description='A JSON string with exactly two decimals, e.g. "15000.00".')
    )
    currency: str = Field(description="ISO 4217 code, three capital letters.")

    @field_validator("amount", mode="before")
    @classmethod
    def _two_decimals(cls, value: object) -> Decimal:
        if not isinstance(value, str) or not AMOUNT.match(value):
            raise ValueError('amount must be a string with exactly two decimals, e.g. "1000.00"')
        try:
            return Decimal(value)
        except InvalidOperation as error:  # pragma: no cover - the pattern rules it out
            raise ValueError("amount is not a number") from error

    @field_validator("currency")
    @classmethod
    def _iso_4217(cls, value: str) -> str:
        if not CURRENCY.match(value):
            raise ValueError("currency must be an ISO 4217 code: three capital letters")
        return value

    @field_serializer("amount")
    def _as_string(self, amount: Decimal) -> str:
        return f"{amount:.2f}"


def to_amount(value: Decimal | str | int) -> Decimal:
    """Two decimals, exactly (banker's rounding for anything finer)."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_EVEN)


def format_amount(amount: Decimal) -> str:
    """The amount as our API and rails write it: a string with two decimals."""
    return f"{to_amount(amount):.2f}"
