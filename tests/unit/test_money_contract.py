"""The money contract, read from the OpenAPI a client sees: every amount of money in a
request or a response of our API (outside the reference-compatible `/rest/v1`) is the
one `Money` shape, `{"amount": "12.50", "currency": "EUR"}`; order prices are the one
documented exception."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from tests.issuer import TokenIssuer
from tests.unit.test_openapi import openapi

REFERENCE_PREFIXES = ("/rest/",)
MONEY = "#/components/schemas/Money"
# A price per share, as the exchange template's clients send and read it: no currency.
EXCEPTIONS = {
    ("OrderCreate", "limit_price"),
    ("OrderPublic", "limit_price"),
    ("OrderPublic", "average_price"),
}
# Names a money field goes by (a property so named must be `Money`).
MONEY_NAME = re.compile(r"(^|_)(amount|price|total|balance|fee|value)s?($|_)")
# Where money is known to be: the walk must find each of these.
KNOWN = {
    ("ApplicationCreate", "amount"),
    ("ApplicationPublic", "amount"),
    ("ReimbursementCreate", "amount"),
    ("ReimbursementPublic", "amount"),
    ("ReimbursementSummary", "amount"),
    ("InvoicePublic", "amount"),
}


def _names(schema: Any) -> Iterator[str]:
    """The component names a schema refers to, at any depth."""
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str):
            yield ref.rsplit("/", 1)[-1]
        for value in schema.values():
            yield from _names(value)
    elif isinstance(schema, list):
        for value in schema:
            yield from _names(value)


def our_schemas(spec: dict[str, Any]) -> set[str]:
    """Every component reached from the bodies and answers of our own endpoints."""
    components = spec["components"]["schemas"]
    seen: set[str] = set()
    todo = [
        name
        for path, operations in spec["paths"].items()
        if not path.startswith(REFERENCE_PREFIXES)
        for operation in operations.values()
        for name in _names(operation)
    ]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(_names(components[name]))
    return seen


def _is_money(field: dict[str, Any]) -> bool:
    """A `Money` reference, or `Money | null`."""
    if field.get("$ref") == MONEY:
        return True
    choices = field.get("anyOf", [])
    return any(c.get("$ref") == MONEY for c in choices) and all(
        c.get("$ref") == MONEY or c.get("type") == "null" for c in choices
    )


def test_money_is_one_schema_an_amount_string_and_an_iso_4217_code(issuer: TokenIssuer) -> None:
    components = openapi(issuer)["components"]["schemas"]
    assert not [name for name in components if name.startswith("Money") and name != "Money"]
    money = components["Money"]
    assert set(money["properties"]) == {"amount", "currency"}
    assert set(money["required"]) == {"amount", "currency"}
    assert money["additionalProperties"] is False
    amount, currency = money["properties"]["amount"], money["properties"]["currency"]
    assert amount["type"] == "string" and "pattern" in amount
    assert re.match(amount["pattern"], "12.50") and not re.match(amount["pattern"], "1e3")
    assert currency == {**currency, "type": "string", "pattern": "^[A-Z]{3}$"}


def test_every_money_field_of_our_api_has_the_one_shape(issuer: TokenIssuer) -> None:
    spec = openapi(issuer)
    components = spec["components"]["schemas"]
    found: set[tuple[str, str]] = set()
    wrong: list[str] = []
    for name in sorted(our_schemas(spec) - {"Money"}):
        properties: dict[str, Any] = components[name].get("properties", {})
        for field_name, field in properties.items():
            if (name, field_name) in EXCEPTIONS:
                continue
            if _is_money(field):
                found.add((name, field_name))
            elif MONEY_NAME.search(field_name):
                wrong.append(f"{name}.{field_name} is named as money but is not Money")
        # An amount and a currency side by side: the flat shape this API does not use.
        if "currency" in properties and any(MONEY_NAME.search(p) for p in properties):
            wrong.append(f"{name} carries a flat amount and currency")
    assert not wrong, wrong
    assert found >= KNOWN, KNOWN - found


def test_order_prices_are_the_documented_exception(issuer: TokenIssuer) -> None:
    components = openapi(issuer)["components"]["schemas"]
    limit_price = components["OrderCreate"]["properties"]["limit_price"]
    kinds = {choice.get("type") for choice in limit_price["anyOf"]}
    assert kinds == {"number", "string", "null"}
    assert "no exponent" in limit_price["description"]
    for name, field in EXCEPTIONS:
        assert "currency" not in components[name]["properties"], name
        assert not _is_money(components[name]["properties"][field])


def test_the_reference_endpoints_keep_the_references_shapes(issuer: TokenIssuer) -> None:
    spec = openapi(issuer)
    components = spec["components"]["schemas"]
    assert "ReferenceAmount" not in our_schemas(spec)
    assert set(components["ReferenceAmount"]["properties"]) == {"value", "currency"}
    assert components["ReferenceAmount"]["properties"]["value"]["type"] == "number"
