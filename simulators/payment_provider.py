"""Payment provider simulator: the invented contract our `HttpPaymentProvider` speaks.

- `POST /v1/charges`, JSON `{"invoice_id": 1, "customer_id": 1, "amount": {"value":
  "292.97", "currency": "USD"}}`, optional header `Idempotency-Key`.
  - `200 {"charged": true, "charge_id": "ch_..."}`: charged (a ledger entry), the balance
    went down; `200 {"charged": false, "reason": "insufficient_balance"}`: declined, no
    effect.
  - With `honour_idempotency_keys`, a key already charged answers its first answer again
    and charges nothing; without, every request is a new charge (the key still recorded
    so duplicates can be counted).
  - `404 {"code": "customer_not_found"}`, `409 {"code": "currency_mismatch"}`, `400
    {"code": "invalid_request"}`: refusals, no effect.
- `GET /v1/charges/{key}`: `200` with the charge, `404 {"code": "charge_not_found"}`, or,
  with `lookup_by_key` false, `501 {"code": "lookup_not_supported"}`.

Settings (env prefix `LEDGERFLOW_PAYMENT_PROVIDER_`, or `PUT /__admin/settings`):
`customers` (`{"7": {"currency": "EUR", "balance": "100.00"}}`; balances go down as
charges succeed), `open_accounts` (default true: a customer not listed has an account in
the invoice's currency and no balance limit), `honour_idempotency_keys` (default true),
`lookup_by_key` (default true). Faults and the ledger are the shared control surface.
"""

from __future__ import annotations

import secrets
from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from pydantic_settings import BaseSettings, SettingsConfigDict

from simulators.control import Faults, Simulator, json_body

NAME = "payment-provider"


class Account(BaseModel):
    currency: str
    balance: Decimal | None = None  # None: no limit


class PaymentProviderSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LEDGERFLOW_PAYMENT_PROVIDER_", extra="forbid")

    customers: dict[str, Account] = {}
    open_accounts: bool = True
    honour_idempotency_keys: bool = True
    lookup_by_key: bool = True


def _answer(status: int, code: str, error: str) -> JSONResponse:
    return JSONResponse({"code": code, "error": error}, status_code=status)


def _parse(body: Any) -> tuple[int, int, Decimal, str] | None:
    if not isinstance(body, dict):
        return None
    invoice, customer, amount = body.get("invoice_id"), body.get("customer_id"), body.get("amount")
    if (
        not isinstance(invoice, int)
        or not isinstance(customer, int)
        or not isinstance(amount, dict)
    ):
        return None
    try:
        value = Decimal(str(amount.get("value")))
    except InvalidOperation:
        return None
    currency = amount.get("currency")
    if not isinstance(currency, str) or not value.is_finite() or value <= 0:
        return None
    return invoice, customer, value, currency


def create_app(
    settings: PaymentProviderSettings | None = None, faults: Faults | None = None
) -> FastAPI:
    simulator = Simulator(NAME, settings or PaymentProviderSettings(), faults=faults)
    app = simulator.create_app(title="Payment provider simulator", description=__doc__ or "")
    charges: dict[str, dict[str, Any]] = {}  # idempotency key -> the charge's answer

    async def charge(request: Request) -> JSONResponse:
        body = await json_body(
            request, not_json=lambda: _answer(400, "invalid_request", "body is not JSON")
        )
        if isinstance(body, JSONResponse):
            return body
        parsed = _parse(body)
        if parsed is None:
            return _answer(400, "invalid_request", "expected invoice_id, customer_id, amount")
        invoice, customer, value, currency = parsed
        key = request.headers.get("idempotency-key")
        settings = simulator.settings
        if settings.honour_idempotency_keys and key is not None and key in charges:
            return JSONResponse(charges[key])
        account = settings.customers.get(str(customer))
        if account is None:  # an open account: in the invoice's currency, no limit
            if not settings.open_accounts:
                return _answer(404, "customer_not_found", f"no customer {customer}")
        elif account.currency != currency:
            return _answer(
                409, "currency_mismatch", f"account is in {account.currency}, not {currency}"
            )
        elif account.balance is not None:
            if account.balance < value:
                return JSONResponse({"charged": False, "reason": "insufficient_balance"})
            account.balance -= value
        answer = {"charged": True, "charge_id": "ch_" + secrets.token_hex(12), "key": key}
        if key is not None:
            charges[key] = answer
        simulator.record(
            key,
            {
                "invoice_id": invoice,
                "customer_id": customer,
                "amount": str(value),
                "currency": currency,
            },
            answer,
        )
        return JSONResponse(answer)

    async def find_charge(request: Request) -> JSONResponse:
        key = request.path_params["key"]
        if not simulator.settings.lookup_by_key:
            return _answer(501, "lookup_not_supported", "charges cannot be looked up by key")
        if key not in charges:
            return _answer(404, "charge_not_found", f"no charge with key {key}")
        return JSONResponse(charges[key])

    app.add_contract_route("/v1/charges", charge, methods=["POST"])
    app.add_contract_route("/v1/charges/{key}", find_charge, methods=["GET"])
    return app
