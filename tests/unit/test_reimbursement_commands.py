"""Money and text rules of the reimbursement commands."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from domain.reimbursements.commands import DenyReimbursement, SubmitReimbursement

ACCOUNT = "4e2b9d0c-5b7a-5d8e-9f1a-2c3d4e5f6a7b"


def submit(amount: object, currency: object = "EUR", description: object = "Taxi") -> Any:
    return SubmitReimbursement.model_validate(
        {
            "bank_account_id": ACCOUNT,
            "amount": {"amount": amount, "currency": currency},
            "description": description,
        }
    )


@pytest.mark.parametrize(
    ("given", "currency", "expected"),
    [("12.50", "EUR", "12.50"), ("0.01", "DKK", "0.01"), ("1000000.00", "EUR", "1000000.00")],
)
def test_amounts_are_decimals_in_their_currency(given: str, currency: str, expected: str) -> None:
    submitted = submit(given, currency)
    assert submitted.amount.amount == Decimal(expected)
    assert submitted.model_dump(mode="json")["amount"] == {"amount": expected, "currency": currency}


@pytest.mark.parametrize(
    ("given", "rule"),
    [
        ("0.00", "from 0.01 to 1000000.00"),
        ("-1.00", "no sign"),
        ("1.005", "currency's decimals"),
        ("12.5", "exactly 2 decimals in EUR"),
        (1.5, "JSON string"),
        (3, "JSON string"),
        (True, "JSON string"),
        ("NaN", "no sign, exponent"),
        ("1e4", "no sign, exponent"),
        (" 7.00", "no sign, exponent"),
        ("abc", "no sign, exponent"),
        ("1000000.01", "from 0.01 to 1000000.00"),
    ],
)
def test_bad_amounts_name_the_rule(given: object, rule: str) -> None:
    with pytest.raises(ValidationError, match=rule):
        submit(given)


def test_descriptions_and_reasons_are_trimmed_and_not_blank() -> None:
    assert submit("1.00", description="  Taxi  ").description == "Taxi"
    with pytest.raises(ValidationError, match="blank"):
        submit("1.00", description="  ")
    with pytest.raises(ValidationError, match="ISO 4217"):
        submit("1.00", currency="Euro")
    with pytest.raises(ValidationError, match="NUL"):
        submit("1.00", description="Taxi\x00")
    with pytest.raises(ValidationError):
        DenyReimbursement.model_validate({"reason": "\t"})
    with pytest.raises(ValidationError):  # the administrator is the caller, never the body
        DenyReimbursement.model_validate({"administrator_id": ACCOUNT, "reason": "x"})


def test_the_flat_amount_and_currency_of_before_are_refused() -> None:
    with pytest.raises(ValidationError) as raised:
        SubmitReimbursement.model_validate(
            {"bank_account_id": ACCOUNT, "amount": "1.00", "currency": "EUR", "description": "x"}
        )
    locs = {error["loc"] for error in raised.value.errors()}
    assert ("amount",) in locs and ("currency",) in locs
