"""Money, the same in every workflow: `Decimal` amounts (never floats) with their
currency, and the API's one shape `{"amount": "1000.00", "currency": "EUR"}`.

What a request may carry, strictly: the amount is a JSON string (a JSON number is
refused: it may have been a float on its way) with exactly as many decimals as the
currency has minor units (two for EUR, none for JPY), no sign, no exponent, no leading
zeros, at most 12 digits before the point (the smallest amount column, `numeric(14, 2)`,
holds that many). The currency is an ISO 4217 code of a currency with minor units of at
most two (the `iso4217` package's list, maintained from the standard); amounts are kept
with two decimals, so a currency of three minor units (KWD, BHD...) is refused as not
supported, and so are codes of no currency (XAU, XXX...).

What a response carries is the same shape, built from stored data without validation
(`Money.stored`, or any `Decimal` amount: only our own code has one, a JSON body never
does): a read never fails on what was stored under older rules.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_EVEN, Decimal
from functools import cache
from typing import Annotated

from iso4217 import Currency
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    WithJsonSchema,
    field_serializer,
    field_validator,
    model_validator,
)

CENT = Decimal("0.01")
MAX_INTEGER_DIGITS = 12
# The shape of an amount (its decimals are then checked against the currency).
AMOUNT = re.compile(rf"^(0|[1-9][0-9]{{0,{MAX_INTEGER_DIGITS - 1}}})(\.[0-9]{{1,2}})?$")
CURRENCY = re.compile(r"^[A-Z]{3}$")
MAX_MINOR_UNITS = 2


@cache
def minor_units(code: str) -> int:
    """The decimals of an amount in `code`; `ValueError` naming the rule when `code` is
    not an ISO 4217 currency this platform can keep amounts of."""
    if not CURRENCY.match(code):
        raise ValueError("currency must be an ISO 4217 code: three capital letters")
    try:
        currency = Currency(code)
    except ValueError:
        raise ValueError("currency must be an ISO 4217 currency code (e.g. EUR)") from None
    if currency.exponent is None:
        raise ValueError("currency must be a currency of ISO 4217 (not a metal or a fund)")
    if currency.exponent > MAX_MINOR_UNITS:
        raise ValueError("currency has three minor units: amounts are kept with two decimals")
    return currency.exponent


def check_currency(code: object) -> str:
    if not isinstance(code, str):
        raise ValueError('currency must be a JSON string, e.g. "EUR"')
    minor_units(code)
    return code


def parse_amount_text(value: object) -> Decimal:
    """The amount of a request: a JSON string of plain digits, at most two decimals."""
    if not isinstance(value, str):
        raise ValueError('amount must be a JSON string with its decimals, e.g. "1000.00"')
    if not AMOUNT.match(value):
        raise ValueError(
            f"amount must be a string of at most {MAX_INTEGER_DIGITS} digits, then the "
            'currency\'s decimals, e.g. "1000.00": no sign, exponent or leading zeros'
        )
    return Decimal(value)


def decimals_of(amount: Decimal) -> int:
    exponent = amount.as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def amount_text(amount: Decimal, currency: str) -> str:
    """The amount as written in `currency`: its minor units (two decimals for a currency
    this platform does not know)."""
    try:
        places = minor_units(currency)
    except ValueError:  # stored under older rules: written as it was, with two decimals
        places = MAX_MINOR_UNITS
    return f"{amount:.{places}f}"


class Money(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        strict=True,
        json_schema_extra={"examples": [{"amount": "15000.00", "currency": "EUR"}]},
    )

    # One schema for what is read and what is written (a string either way), so the
    # OpenAPI has one `Money`, not `Money-Input` and `Money-Output`.
    amount: Annotated[Decimal, WithJsonSchema({"type": "string", "pattern": AMOUNT.pattern})] = (
        Field(
            description="A JSON string with exactly the currency's decimals (its ISO 4217 "
            'minor units: two for EUR, none for JPY), e.g. "15000.00"; no sign, no exponent.'
        )
    )
    currency: Annotated[str, WithJsonSchema({"type": "string", "pattern": CURRENCY.pattern})] = (
        Field(description="An ISO 4217 currency code with at most two minor units, e.g. EUR.")
    )

    @model_validator(mode="wrap")
    @classmethod
    def _stored_or_parsed(cls, data: object, handler: ModelWrapValidatorHandler[Money]) -> Money:
        """Money of our own (a `Decimal` amount: what a response is built from) is taken
        as it is, so a read never fails on stored data; a client's (its amount is JSON
        text: no JSON parser makes a `Decimal`) is parsed by every rule."""
        if isinstance(data, Money):
            return data
        if isinstance(data, dict) and isinstance(data.get("amount"), Decimal):
            return cls.stored(data["amount"], str(data.get("currency")))
        money = handler(data)
        places = minor_units(money.currency)
        if decimals_of(money.amount) != places:
            raise ValueError(
                f"amount must have exactly {places} decimals in {money.currency}"
                if places
                else f"amount must have no decimals in {money.currency}"
            )
        return money

    @field_validator("amount", mode="before")
    @classmethod
    def _amount(cls, value: object) -> Decimal:
        return parse_amount_text(value)

    @field_validator("currency", mode="before")
    @classmethod
    def _currency(cls, value: object) -> str:
        return check_currency(value)

    @field_serializer("amount")
    def _as_string(self, amount: Decimal) -> str:
        return amount_text(amount, self.currency)

    @classmethod
    def stored(cls, amount: Decimal, currency: str) -> Money:
        """Money as it was stored, for a response: not validated again, so a read never
        fails on data accepted under older rules."""
        return cls.model_construct(amount=amount, currency=currency)

    def within(self, low: Decimal, high: Decimal) -> Money:
        """Itself, or `ValueError` naming the range (the field's own bounds)."""
        if not low <= self.amount <= high:
            raise ValueError(f"amount must be from {low} to {high}")
        return self


def to_amount(value: Decimal | str | int) -> Decimal:
    """Two decimals, exactly (banker's rounding for anything finer)."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_EVEN)


def format_amount(amount: Decimal) -> str:
    """The amount as our API and rails write it: a string with two decimals."""
    return f"{to_amount(amount):.2f}"
