"""`PlaceOrder`: the body of `POST /orders`, exactly the template's fields.

Enums are lowercase and matched as given ("BUY" is refused), `quantity` is a JSON
integer (1.0 and "1" are refused), `instrument` is 12 characters (an ISIN; its check
digit is not verified, as in the template), `limit_price` has at most two decimals, is
required for `limit` orders and forbidden for `market` orders.

`limit_price` is the documented exception to the API's money shape: a price with no
currency, as the exchange template sends it, a JSON number or a decimal string (`"1e3"`
is refused: no exponent in a string). A JSON number arrives as a float: its shortest
decimal form is what the client wrote (189.25 stays 189.25), so its decimals are checked
on that. Bounds: what `orders_view` holds (`numeric(20, 2)`, `bigint`) with room for the
notional (price times quantity) and the fills.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationInfo, field_validator

from domain.requests import STRICT, StorableText

OrderType = Literal["market", "limit"]
OrderSide = Literal["buy", "sell"]

MAX_QUANTITY = 1_000_000_000
MAX_PRICE = Decimal("1000000000.00")
PRICE_TEXT = re.compile(r"^(0|[1-9][0-9]{0,11})(\.[0-9]{1,2})?$")
PRICE_RULE = (
    "limit_price must be a JSON number or a decimal string with at most 2 decimal places "
    'and no exponent, e.g. 189.25 or "189.25"'
)


def parse_price(value: object) -> Decimal | None:
    """A limit price as the template's clients send it; cheap (POST /orders is hot)."""
    if value is None:
        return None
    if isinstance(value, str):
        if not PRICE_TEXT.match(value):
            raise ValueError(PRICE_RULE)
        price = Decimal(value)
    elif isinstance(value, int) and not isinstance(value, bool):
        price = Decimal(value)
    elif isinstance(value, float) and math.isfinite(value):
        price = Decimal(repr(value))
        exponent = price.as_tuple().exponent
        if isinstance(exponent, int) and exponent < -2:
            raise ValueError(PRICE_RULE)
    else:
        raise ValueError(PRICE_RULE)
    if not 0 < price <= MAX_PRICE:
        raise ValueError(f"limit_price must be greater than 0 and at most {MAX_PRICE}")
    return price


class PlaceOrder(BaseModel):
    model_config = ConfigDict(
        **STRICT,
        json_schema_extra={
            "examples": [
                {
                    "type": "limit",
                    "side": "buy",
                    "instrument": "US0378331005",
                    "limit_price": "189.25",
                    "quantity": 10,
                }
            ]
        },
    )

    type: OrderType
    side: OrderSide
    instrument: StorableText = Field(
        min_length=12,
        max_length=12,
        description="An ISIN: exactly 12 characters (the check digit is not verified).",
    )
    limit_price: Decimal | None = Field(
        default=None,
        validate_default=True,
        json_schema_extra={
            "anyOf": [
                {"type": "number", "exclusiveMinimum": 0, "maximum": float(MAX_PRICE)},
                {"type": "string", "pattern": PRICE_TEXT.pattern},
                {"type": "null"},
            ]
        },
        description="A JSON number or a decimal string, at most 2 decimals, no exponent, "
        f"greater than 0 and at most {MAX_PRICE}; required for `limit` orders, forbidden "
        "for `market`. No currency: the documented exception to the money shape.",
    )
    quantity: StrictInt = Field(
        gt=0, le=MAX_QUANTITY, description=f"A JSON integer from 1 to {MAX_QUANTITY}."
    )

    @field_validator("limit_price", mode="before")
    @classmethod
    def _price(cls, value: object) -> Decimal | None:
        return parse_price(value)

    @field_validator("limit_price")
    @classmethod
    def _price_matches_type(cls, value: Decimal | None, info: ValidationInfo) -> Decimal | None:
        order_type = info.data.get("type")  # absent when `type` itself was invalid
        if order_type == "limit" and value is None:
            raise ValueError("limit_price is required for a limit order")
        if order_type == "market" and value is not None:
            raise ValueError("limit_price must be omitted (or null) for a market order")
        return value
