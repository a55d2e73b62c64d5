"""`POST /applications`' validation: each field and its rule, and money as two decimals."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from domain.lending.commands import (
    POLLER_RESULT,
    RecordApplicationDecision,
    RecordSubmissionAttemptFailed,
    SubmitApplication,
)


def body(**changes: Any) -> dict[str, Any]:
    return {
        "first_name": "Amina",
        "last_name": "Okafor",
        "amount": {"amount": "15000.00", "currency": "EUR"},
        "term_months": 36,
        "email": "amina.okafor@example.com",
        **changes,
    }


def test_a_valid_application_keeps_money_as_decimal() -> None:
    command = SubmitApplication.model_validate(body(first_name="  Amina "))
    assert command.amount.amount == Decimal("15000.00")
    assert command.first_name == "Amina"
    assert command.model_dump(mode="json")["amount"] == {"amount": "15000.00", "currency": "EUR"}


@pytest.mark.parametrize(
    ("changes", "field", "rule"),
    [
        ({"first_name": ""}, "first_name", "at least 1"),
        ({"last_name": "  "}, "last_name", "must not be blank"),
        ({"amount": {"amount": "0.00", "currency": "EUR"}}, "amount", "from 0.01"),
        ({"amount": {"amount": "-5.00", "currency": "EUR"}}, "amount", "no sign"),
        ({"amount": {"amount": "10.5", "currency": "EUR"}}, "amount", "exactly 2 decimals"),
        ({"amount": {"amount": 100.0, "currency": "EUR"}}, "amount", "JSON string"),
        ({"amount": {"amount": "10000000.01", "currency": "EUR"}}, "amount", "to 10000000.00"),
        ({"amount": {"amount": "10.00", "currency": "ZZZ"}}, "currency", "ISO 4217"),
        ({"term_months": "36"}, "term_months", "valid integer"),
        ({"term_months": 36.0}, "term_months", "valid integer"),
        ({"first_name": 7}, "first_name", "valid string"),
        ({"amount": {"amount": "10.00", "currency": "eur"}}, "currency", "ISO 4217"),
        ({"amount": {"amount": "10.00"}}, "currency", "required"),
        ({"term_months": 0}, "term_months", "greater than or equal to 1"),
        ({"term_months": 481}, "term_months", "less than or equal to 480"),
        ({"email": "not-an-email"}, "email", "name@example.com"),
        ({"extra": 1}, "extra", "not permitted"),
    ],
)
def test_each_invalid_field_is_named_with_its_rule(
    changes: dict[str, Any], field: str, rule: str
) -> None:
    with pytest.raises(ValidationError) as raised:
        SubmitApplication.model_validate(body(**changes))
    errors = raised.value.errors()
    assert any(field in map(str, error["loc"]) and rule in error["msg"] for error in errors), errors


def test_poller_results_are_told_apart_by_type() -> None:
    result = POLLER_RESULT.validate_json(
        RecordApplicationDecision(
            application_id="5b0e7c2a-4d1f-4a8e-9c3b-2f6d8e1a7b90",  # type: ignore[arg-type]
            status="completed",
            job_id="j-1",
        ).model_dump_json()
    )
    assert isinstance(result, RecordApplicationDecision)
    failed = POLLER_RESULT.validate_json(
        b'{"type": "RecordSubmissionAttemptFailed", "round": 1, "attempt": 3, "error": "503",'
        b' "application_id": "5b0e7c2a-4d1f-4a8e-9c3b-2f6d8e1a7b90"}'
    )
    assert isinstance(failed, RecordSubmissionAttemptFailed) and failed.attempt == 3
    with pytest.raises(ValidationError):
        POLLER_RESULT.validate_json(b'{"type": "Unknown"}')
