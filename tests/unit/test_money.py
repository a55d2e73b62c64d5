"""`Money`: the one shape of an amount with its currency, parsed strictly."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from pydantic import ValidationError

from domain.billing.dataset import (
    CustomerRecord,
    InvoiceRecord,
    antaeus,
    in_customers_currencies,
)
from domain.money import Money


def parse(amount: object, currency: object = "EUR") -> Money:
    return Money.model_validate_json(json.dumps({"amount": amount, "currency": currency}))


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        ("12.50", "EUR", Decimal("12.50")),
        ("0.00", "USD", Decimal("0")),
        ("999999999999.99", "GBP", Decimal("999999999999.99")),
        ("1250", "JPY", Decimal("1250")),  # no minor units
        ("1250.00", "KES", Decimal("1250.00")),
    ],
)
def test_an_amount_has_exactly_its_currencys_decimals(
    amount: str, currency: str, expected: Decimal
) -> None:
    money = parse(amount, currency)
    assert money.amount == expected
    assert money.model_dump(mode="json") == {"amount": amount, "currency": currency}


@pytest.mark.parametrize(
    ("amount", "currency", "rule"),
    [
        (12.5, "EUR", "JSON string"),
        (12, "EUR", "JSON string"),
        (None, "EUR", "JSON string"),
        ("12.5", "EUR", "exactly 2 decimals in EUR"),
        ("12", "EUR", "exactly 2 decimals in EUR"),
        ("12.00", "JPY", "no decimals in JPY"),
        ("1e3", "EUR", "no sign, exponent"),
        ("1E+3", "EUR", "no sign, exponent"),
        ("-0.00", "EUR", "no sign"),
        ("+1.00", "EUR", "no sign"),
        ("01.00", "EUR", "leading zeros"),
        ("NaN", "EUR", "no sign"),
        ("Infinity", "EUR", "no sign"),
        ("1000000000000.00", "EUR", "at most 12 digits"),
        ("\u0661\u0662.\u0665\u0660", "EUR", "no sign"),  # Arabic-Indic: Decimal reads them
        ("12.50", "ZZZ", "ISO 4217 currency code"),
        ("12.50", "eur", "three capital letters"),
        ("12.50", "XAU", "not a metal"),  # gold: no minor units, not money here
        ("12.500", "KWD", "three minor units"),
        ("12.50", 978, "JSON string"),
    ],
)
def test_everything_else_is_refused_naming_the_rule(
    amount: object, currency: object, rule: str
) -> None:
    with pytest.raises(ValidationError, match=rule):
        parse(amount, currency)


def test_unknown_fields_and_missing_ones_are_refused() -> None:
    with pytest.raises(ValidationError, match="Extra inputs"):
        Money.model_validate({"amount": "1.00", "currency": "EUR", "value": "1.00"})
    with pytest.raises(ValidationError, match="currency"):
        Money.model_validate({"amount": "1.00"})


def test_stored_money_is_written_without_being_validated_again() -> None:
    # Accepted under older rules: a read still answers it, in the same shape.
    assert Money.stored(Decimal("12.5"), "ZZZ").model_dump(mode="json") == {
        "amount": "12.50",
        "currency": "ZZZ",
    }
    assert Money.stored(Decimal("1250"), "JPY").model_dump(mode="json")["amount"] == "1250"


def test_an_invoice_is_in_its_customers_currency() -> None:
    records = list(antaeus(customers=5, invoices_per_customer=3))
    assert list(in_customers_currencies(records)) == records
    customer = next(r for r in records if isinstance(r, CustomerRecord))
    other = "SEK" if customer.currency != "SEK" else "DKK"
    stray = InvoiceRecord(9999, customer.ref_id, Decimal("10.00"), other, paid=False)
    with pytest.raises(ValueError, match="not in its customer"):
        list(in_customers_currencies([*records, stray]))
