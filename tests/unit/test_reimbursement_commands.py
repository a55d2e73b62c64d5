"""Money and text rules of the reimbursement commands."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from domain.money import format_amount
from domain.reimbursements.commands import (
    DenyReimbursement,
    SubmitReimbursement,
    parse_amount,
)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("12.5", "12.50"),
        ("0.01", "0.01"),
        (" 7 ", "7.00"),
        (3, "3.00"),
        ("1000000.00", "1000000.00"),
    ],
)
def test_amounts_become_decimals_with_two_places(given: object, expected: str) -> None:
    amount = parse_amount(given)
    assert isinstance(amount, Decimal) and format_amount(amount) == expected


@pytest.mark.parametrize(
    ("given", "rule"),
    [
        ("0", "greater than 0"),
        ("-1.00", "greater than 0"),
        ("1.005", "two decimal places"),
        (1.5, "string"),
        (True, "string"),
        ("NaN", "finite"),
        ("1e400", "at most"),
        ("abc", "not a decimal"),
        ("1000000.01", "at most"),
    ],
)
def test_bad_amounts_name_the_rule(given: object, rule: str) -> None:
    with pytest.raises(ValueError, match=rule):
        parse_amount(given)


def test_descriptions_and_reasons_are_trimmed_and_not_blank() -> None:
    body = {"bank_account_id": "4e2b9d0c-5b7a-5d8e-9f1a-2c3d4e5f6a7b", "amount": "1.00"}
    submitted = SubmitReimbursement.model_validate(
        {**body, "currency": "EUR", "description": "  Taxi  "}
    )
    assert submitted.description == "Taxi" and submitted.amount == Decimal("1.00")
    with pytest.raises(ValidationError):
        SubmitReimbursement.model_validate({**body, "currency": "EUR", "description": "  "})
    with pytest.raises(ValidationError):
        SubmitReimbursement.model_validate({**body, "currency": "Euro", "description": "x"})
    with pytest.raises(ValidationError):
        DenyReimbursement.model_validate({"reason": "\t"})
    with pytest.raises(ValidationError):  # the administrator is the caller, never the body
        DenyReimbursement.model_validate(
            {"administrator_id": "4e2b9d0c-5b7a-5d8e-9f1a-2c3d4e5f6a7b", "reason": "x"}
        )
