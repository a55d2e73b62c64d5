"""`PlaceOrder`: the body of `POST /orders`, exactly the template's fields.

Enums are lowercase and matched as given ("BUY" is refused), `quantity` is a JSON
integer (1.0 and "1" are refused), `instrument` is 12 characters (an ISIN; its check
digit is not verified, as in the template), `limit_price` has at most two decimals, is
required for `limit` orders and forbidden for `market` orders.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationInfo, field_validator

OrderType = Literal["market", "limit"]
OrderSide = Literal["buy", "sell"]


class PlaceOrder(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
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
    instrument: str = Field(
        min_length=12,
        max_length=12,
        description="An ISIN: exactly 12 characters (the check digit is not verified).",
    )
    limit_price: Decimal | None = Field(
        default=None,
        gt=0,
        decimal_places=2,
        validate_default=True,
        description="At most 2 decimals; required for `limit` orders, forbidden for `market`.",
    )
    quantity: StrictInt = Field(gt=0, description="A JSON integer greater than 0.")

    @field_validator("limit_price")
    @classmethod
    def _price_matches_type(cls, value: Decimal | None, info: ValidationInfo) -> Decimal | None:
        order_type = info.data.get("type")  # absent when `type` itself was invalid
        if order_type == "limit" and value is None:
            raise ValueError("limit_price is required for a limit order")
        if order_type == "market" and value is not None:
            raise ValueError("limit_price must be omitted (or null) for a market order")
        return value
