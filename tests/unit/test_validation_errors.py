"""A 422 names each field, its rule and the rule's kind, and never what the client sent:
a phone number or a whole text in a create request appears nowhere in the answer."""

from __future__ import annotations

from uuid import uuid4

import pytest

from domain.access import Role
from tests.unit.in_memory_api import ISSUER, as_client, client_of, in_memory_api, in_memory_services

NUMBER = "+2547123456789"  # one digit too many for Kenya: refused as a number
TEXT = "Your one-time code is 771-552. " * 80  # over 10 segments, and over every length
REIMBURSEMENT = "/reimbursements/2b7c6f0a-3d4e-4f5a-8b9c-0d1e2f3a4b5c"

CREATES = [
    ("/sms", {"message_id": "m-1", "phone_number": NUMBER, "text": TEXT}),
    ("/sms", {"message_id": NUMBER, "phone_number": TEXT, "text": NUMBER}),
    ("/orders", {"type": NUMBER, "side": TEXT, "instrument": TEXT, "quantity": NUMBER}),
    (
        "/applications",
        {
            "first_name": TEXT,
            "last_name": NUMBER,
            "amount": {"amount": NUMBER, "currency": TEXT},
            "term_months": NUMBER,
            "email": NUMBER,
        },
    ),
    (
        "/reimbursements",
        {
            "bank_account_id": NUMBER,
            "amount": {"amount": NUMBER, "currency": TEXT},
            "description": TEXT,
        },
    ),
    (
        "/reimbursements",
        {
            "bank_account_id": NUMBER,
            "amount": {"amount": f"{NUMBER}x", "currency": "EUR"},
            "note": TEXT,
        },
    ),
    (f"{REIMBURSEMENT}/deny", {"administrator_id": NUMBER, "reason": TEXT}),
]
# Each create by the role that may make it (any other is refused before its body is read).
CALLERS = {
    "/sms": as_client("shop"),
    "/orders": as_client("shop"),
    "/applications": as_client("shop"),
    "/reimbursements": ISSUER.headers(Role.MEMBER, member_id=uuid4()),
    f"{REIMBURSEMENT}/deny": ISSUER.headers(
        Role.BANK_ADMIN, bank_id=uuid4(), administrator_id=uuid4()
    ),
}


@pytest.mark.parametrize(("path", "body"), CREATES)
async def test_a_422_names_the_rules_and_echoes_nothing(path: str, body: dict[str, object]) -> None:
    async with client_of(in_memory_api(in_memory_services())) as api:
        answer = await api.post(path, json=body, headers=CALLERS[path])

    assert answer.status_code == 422
    errors = answer.json()["detail"]
    assert errors and all(set(error) == {"loc", "msg", "type"} for error in errors)
    for secret in (NUMBER, NUMBER.lstrip("+"), NUMBER[-9:], TEXT[:40], "771-552"):
        assert secret not in answer.text


async def test_a_422_still_names_the_field_and_the_rule() -> None:
    body = {"message_id": "m-1", "phone_number": NUMBER, "text": "hi"}
    async with client_of(in_memory_api(in_memory_services())) as api:
        answer = await api.post("/sms", json=body, headers=CALLERS["/sms"])

    assert answer.json() == {
        "message": "The request is invalid: body.phone_number",
        "code": "validation_failed",
        "detail": [
            {
                "loc": ["body", "phone_number"],
                "msg": "Value error, phone_number is not a valid number for its country code",
                "type": "value_error",
            }
        ],
    }


async def test_a_body_that_is_not_json_is_a_400_without_echo() -> None:
    async with client_of(in_memory_api(in_memory_services())) as api:
        answer = await api.post(
            "/sms",
            content=f'{{"phone_number": "{NUMBER}", '.encode(),
            headers={"Content-Type": "application/json", **CALLERS["/sms"]},
        )

    assert answer.status_code == 400
    assert answer.json()["code"] == "malformed_json"
    assert NUMBER not in answer.text
