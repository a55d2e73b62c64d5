"""One rule for every request body: strict types (no `"36"` for an integer, no `"1"` for
a quantity), bounds every table can hold, and the currency rules of money; each refusal
is a 422 that names the field and the rule."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from types import UnionType
from typing import Any, get_args
from uuid import uuid4

import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel

from domain.access import Role
from domain.actors import SEED
from domain.reimbursements.aggregate import Reimbursement
from domain.reimbursements.reference import reference_id
from ledgerflow.settings import Settings
from ledgerflow.web import create_app
from processes.reimbursements.demo_banks import demo_banks
from tests.unit.in_memory_api import (
    ISSUER,
    as_client,
    client_of,
    in_memory_api,
    in_memory_services,
)

DANISH_ACCOUNT = str(reference_id("account", "nordic-m-1-acct"))  # demo banks: DKK
PORTUGUESE_ACCOUNT = str(reference_id("account", "harbour-m-1-acct"))  # EUR
DANISH_MEMBER = reference_id("member", "nordic-m-1")
PORTUGUESE_MEMBER = reference_id("member", "harbour-m-1")
NORDIC = reference_id("bank", "nordic-coop")
ADMIN = reference_id("administrator", "nordic-admin-1")

# Who may call each create (api/access.py): a client, an account's member, an operator.
CLIENT = as_client("strict-client")
CALLERS = {
    "/sms": CLIENT,
    "/orders": CLIENT,
    "/applications": CLIENT,
    "/reimbursements": ISSUER.headers(Role.MEMBER, member_id=DANISH_MEMBER),
}

SMS = {"message_id": "m-1", "phone_number": "+254712345678", "text": "hi"}
ORDER = {
    "type": "limit",
    "side": "buy",
    "instrument": "US0378331005",
    "limit_price": "189.25",
    "quantity": 10,
}
APPLICATION = {
    "first_name": "Amina",
    "last_name": "Okafor",
    "amount": {"amount": "15000.00", "currency": "EUR"},
    "term_months": 36,
    "email": "amina.okafor@example.com",
}
REIMBURSEMENT = {
    "bank_account_id": DANISH_ACCOUNT,
    "amount": {"amount": "129.90", "currency": "DKK"},
    "description": "Train tickets",
}

# path, valid body, field, a value of the wrong JSON type (or out of bounds), the rule
REFUSED: list[tuple[str, dict[str, Any], tuple[str, ...], object, str]] = [
    ("/sms", SMS, ("message_id",), 7, "valid string"),
    ("/sms", SMS, ("text",), ["hi"], "valid string"),
    ("/sms", SMS, ("text",), "hi\x00", "NUL"),
    ("/sms", SMS, ("message_id",), "x" * 201, "at most 200"),
    ("/sms", SMS, ("correlation_id",), 5, "valid string"),
    ("/orders", ORDER, ("quantity",), "1", "valid integer"),
    ("/orders", ORDER, ("quantity",), 1.0, "valid integer"),
    ("/orders", ORDER, ("quantity",), True, "valid integer"),
    ("/orders", ORDER, ("quantity",), 10**30, "less than or equal to 1000000000"),
    ("/orders", ORDER, ("limit_price",), "1e3", "no exponent"),
    ("/orders", ORDER, ("limit_price",), "189.255", "at most 2 decimal places"),
    ("/orders", ORDER, ("limit_price",), 1e300, "at most 1000000000.00"),
    ("/orders", ORDER, ("limit_price",), True, "JSON number or a decimal string"),
    ("/orders", ORDER, ("instrument",), "US0378331\x00XY", "NUL"),
    # An unpaired surrogate has no UTF-8 form: pydantic refuses it as a string already.
    ("/sms", SMS, ("text",), "hi \ud83d", "valid string"),
    ("/applications", APPLICATION, ("term_months",), "36", "valid integer"),
    ("/applications", APPLICATION, ("term_months",), 36.0, "valid integer"),
    ("/applications", APPLICATION, ("term_months",), 481, "less than or equal to 480"),
    ("/applications", APPLICATION, ("first_name",), 1, "valid string"),
    ("/applications", APPLICATION, ("amount", "amount"), 15000, "JSON string"),
    ("/applications", APPLICATION, ("amount", "currency"), "ZZZ", "ISO 4217"),
    ("/applications", APPLICATION, ("amount",), "15000.00", "valid dictionary"),
    ("/reimbursements", REIMBURSEMENT, ("amount", "amount"), "129.9", "exactly 2 decimals"),
    ("/reimbursements", REIMBURSEMENT, ("amount", "currency"), "ZZZ", "ISO 4217"),
    ("/reimbursements", REIMBURSEMENT, ("description",), 12, "valid string"),
    ("/reimbursements", REIMBURSEMENT, ("bank_account_id",), 12, "UUID"),
]


def _with(body: dict[str, Any], loc: tuple[str, ...], value: object) -> dict[str, Any]:
    changed = {**body}
    if len(loc) == 1:
        changed[loc[0]] = value
    else:
        changed[loc[0]] = {**changed[loc[0]], loc[1]: value}
    return changed


@pytest.mark.parametrize(("path", "body", "loc", "value", "rule"), REFUSED)
async def test_each_create_refuses_what_is_not_its_type_or_out_of_bounds(
    path: str, body: dict[str, Any], loc: tuple[str, ...], value: object, rule: str
) -> None:
    async with client_of(in_memory_api(in_memory_services())) as api:
        # `json.dumps` escapes what has no UTF-8 form (httpx's `json=` would not encode it).
        answer = await api.post(
            path,
            content=json.dumps(_with(body, loc, value)),
            headers={"Content-Type": "application/json", **CALLERS[path]},
        )

    assert answer.status_code == 422, answer.text
    errors = answer.json()["detail"]
    named = [e for e in errors if tuple(e["loc"][1:]) in (loc, loc[:1])]
    assert named and any(rule in e["msg"] for e in named), errors


async def test_a_denial_takes_its_reason_as_a_string_only() -> None:
    administrator = ISSUER.headers(Role.BANK_ADMIN, bank_id=NORDIC, administrator_id=ADMIN)
    async with client_of(in_memory_api(in_memory_services())) as api:
        answer = await api.post(
            f"/reimbursements/{DANISH_ACCOUNT}/deny", json={"reason": 12}, headers=administrator
        )
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["body", "reason"]


async def test_a_reimbursement_is_in_its_accounts_currency() -> None:
    services = in_memory_services()
    application = services.reimbursements.service.application  # type: ignore[union-attr]
    application.save(*demo_banks(SEED))
    danish_member = CALLERS["/reimbursements"]
    portuguese_member = ISSUER.headers(Role.MEMBER, member_id=PORTUGUESE_MEMBER)
    async with client_of(in_memory_api(services)) as api:
        kenyan = await api.post(
            "/reimbursements",
            json={**REIMBURSEMENT, "amount": {"amount": "1250.00", "currency": "KES"}},
            headers=danish_member,
        )
        danish = await api.post("/reimbursements", json=REIMBURSEMENT, headers=danish_member)
        euros = await api.post(
            "/reimbursements",
            json={
                **REIMBURSEMENT,
                "bank_account_id": PORTUGUESE_ACCOUNT,
                "amount": {"amount": "12.50", "currency": "EUR"},
            },
            headers=portuguese_member,
        )

    assert kenyan.status_code == 422
    assert kenyan.json()["code"] == "currency_not_the_accounts"
    assert "KES" in kenyan.json()["message"] and "DKK" in kenyan.json()["message"]
    assert danish.status_code == 201, danish.text
    assert danish.json()["amount"] == {"amount": "129.90", "currency": "DKK"}
    assert euros.status_code == 201, euros.text
    assert euros.json()["amount"] == {"amount": "12.50", "currency": "EUR"}


async def test_money_stored_under_older_rules_still_reads() -> None:
    services = in_memory_services()
    application = services.reimbursements.service.application  # type: ignore[union-attr]
    stored = Reimbursement(
        bank_account_id=uuid4(),
        bank_id=uuid4(),
        member_id=uuid4(),
        amount=Decimal("12.5"),  # before amounts were quantized
        currency="ZZZ",  # before currencies were checked against ISO 4217
        description="Taxi",
        submitted_at=datetime(2026, 11, 1, tzinfo=UTC),
        actor=SEED,
    )
    application.save(stored)
    async with client_of(in_memory_api(services)) as api:
        answer = await api.get(f"/reimbursements/{stored.id}")

    assert answer.status_code == 200, answer.text
    assert answer.json()["amount"] == {"amount": "12.50", "currency": "ZZZ"}


@pytest.mark.parametrize("price", [189.25, "189.25", 189, "189"])
async def test_a_limit_price_is_a_json_number_or_a_decimal_string(price: object) -> None:
    async with client_of(in_memory_api(in_memory_services())) as api:
        answer = await api.post("/orders", json={**ORDER, "limit_price": price}, headers=CLIENT)

    assert answer.status_code == 201, answer.text
    assert answer.json()["limit_price"] == f"{float(str(price)):.2f}"


def _models(annotation: object) -> list[object]:
    if isinstance(annotation, UnionType):
        return [arg for arg in get_args(annotation) if arg is not type(None)]
    return [annotation]


def test_every_request_body_of_the_api_is_strict() -> None:
    """One rule for all endpoints: a body model added later is strict too, or this fails."""
    settings = Settings(database_url="postgresql://unused/unused", test_mode=True, **ISSUER.trusted)
    app = create_app(settings)  # every router, the test mode's and the operators' included
    routes = [getattr(r, "original_route", r) for r in iter_route_contexts(app.routes)]
    bodies = {
        model  # an optional body's model too (`Note | None`)
        for route in routes
        if isinstance(route, APIRoute) and route.body_field is not None
        for model in _models(route.body_field.field_info.annotation)
    }
    assert len(bodies) >= 9, bodies
    lax = [
        model.__name__
        for model in bodies
        if not (isinstance(model, type) and issubclass(model, BaseModel))
        or model.model_config.get("strict") is not True
        or model.model_config.get("extra") != "forbid"
    ]
    assert not lax, f"request bodies without strict types or with extra fields: {lax}"
