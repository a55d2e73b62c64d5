"""`PlaceOrder` validation: every rule of the template's schema, named by field."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from domain.orders.commands import PlaceOrder

VALID: dict[str, Any] = {
    "type": "limit",
    "side": "buy",
    "instrument": "US0378331005",
    "limit_price": "189.25",
    "quantity": 10,
}


def errors(body: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ValidationError) as raised:
        PlaceOrder.model_validate_json(__import__("json").dumps(body))
    return {".".join(map(str, e["loc"])): e["msg"] for e in raised.value.errors()}


def test_a_valid_limit_and_market_order() -> None:
    order = PlaceOrder.model_validate(VALID)
    assert order.limit_price == Decimal("189.25")
    market = PlaceOrder.model_validate({**VALID, "type": "market", "limit_price": None})
    assert market.limit_price is None
    assert PlaceOrder.model_validate_json(
        '{"type":"limit","side":"sell","instrument":"XS0000000009","limit_price":1.5,"quantity":1}'
    )
    # The ISIN check digit is not verified (the template does not either).
    assert PlaceOrder.model_validate({**VALID, "instrument": "ABCDEFGHIJKL"})


@pytest.mark.parametrize(
    ("changes", "field", "rule"),
    [
        ({"type": "LIMIT"}, "type", "'market' or 'limit'"),
        ({"type": "stop"}, "type", "'market' or 'limit'"),
        ({"side": "BUY"}, "side", "'buy' or 'sell'"),
        ({"instrument": "US037833100"}, "instrument", "at least 12"),
        ({"instrument": "US03783310055"}, "instrument", "at most 12"),
        ({"quantity": 0}, "quantity", "greater than 0"),
        ({"quantity": -3}, "quantity", "greater than 0"),
        ({"quantity": 1.0}, "quantity", "valid integer"),
        ({"quantity": "1"}, "quantity", "valid integer"),
        ({"limit_price": "1.001"}, "limit_price", "2 decimal places"),
        ({"limit_price": 1.001}, "limit_price", "2 decimal places"),
        ({"limit_price": "0"}, "limit_price", "greater than 0"),
        ({"limit_price": None}, "limit_price", "required for a limit order"),
        ({"type": "market"}, "limit_price", "omitted"),
        ({"unexpected": True}, "unexpected", "Extra inputs"),
    ],
)
def test_each_rule_names_its_field(changes: dict[str, Any], field: str, rule: str) -> None:
    found = errors({**VALID, **changes})
    assert field in found, found
    assert rule in found[field], found


def test_a_missing_limit_price_on_a_limit_order_is_named() -> None:
    body = {k: v for k, v in VALID.items() if k != "limit_price"}
    assert "required for a limit order" in errors(body)["limit_price"]


@pytest.mark.parametrize("field", ["type", "side", "instrument", "quantity"])
def test_required_fields(field: str) -> None:
    body = {k: v for k, v in VALID.items() if k != field}
    assert field in errors(body)
