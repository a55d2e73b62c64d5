"""Payment rail simulator: the invented contract our `HttpPaymentRail` adapter speaks.

- `POST /v1/payments` with header `Idempotency-Key` (required) and JSON
  `{"amount": "129.90", "currency": "EUR", "bank_id": "...", "account_id": "...",
  "reference": "..."}`. After `create_delay_seconds` it answers
  `202 {"payment_id": "PAY<24 hex>", "status": "PENDING", "failure_reason": null}`.
  A repeat of a key already accepted answers `200` with that payment as it is now:
  nothing new happens and nothing is added to the ledger (unless the setting
  `honour_idempotency_keys` is false: then every request is a new payment).
- `GET /v1/payments/{payment_id}`: `200` with the payment; `PENDING` until
  `settle_seconds` after creation, then `SUCCESS` or `FAILURE` (with a
  `failure_reason`). Whether it fails is drawn at creation from a generator seeded by
  `seed` with probability `failure_rate`; accounts listed in `failing_accounts` always
  fail. Unknown id: `404`.
- `400 {"error": "..."}` (permanent): no key, a body that is not such an object, an
  amount that is not a positive decimal string with two places, a currency that is
  not three capital letters.

Settings (env prefix `LEDGERFLOW_PAYMENT_RAIL_`, or `PUT /__admin/settings`):
`create_delay_seconds` (2.0), `settle_seconds` (3.0), `failure_rate` (0.1), `seed` (7),
`failing_accounts` ([]), `honour_idempotency_keys` (true). Faults and the ledger are the
shared control surface of `simulators.control`.
"""

from __future__ import annotations

import asyncio
import random
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from simulators.control import Faults, Simulator, json_body, refusal

NAME = "payment-rail"
AMOUNT = re.compile(r"^[0-9]{1,12}\.[0-9]{2}$")
CURRENCY = re.compile(r"^[A-Z]{3}$")


class PaymentRailSettings(BaseSettings):
    """Contract-specific behaviour (not faults)."""

    model_config = SettingsConfigDict(env_prefix="LEDGERFLOW_PAYMENT_RAIL_", extra="forbid")

    create_delay_seconds: float = Field(default=2.0, ge=0)
    settle_seconds: float = Field(default=3.0, ge=0)
    failure_rate: float = Field(default=0.1, ge=0, le=1)
    seed: int = 7
    failing_accounts: list[str] = []
    honour_idempotency_keys: bool = True


@dataclass
class _Payment:
    payment_id: str
    settles_at: float
    fails: bool

    def answer(self) -> dict[str, Any]:
        if time.monotonic() < self.settles_at:
            return {"payment_id": self.payment_id, "status": "PENDING", "failure_reason": None}
        if self.fails:
            reason = "beneficiary account refused the credit"
            return {"payment_id": self.payment_id, "status": "FAILURE", "failure_reason": reason}
        return {"payment_id": self.payment_id, "status": "SUCCESS", "failure_reason": None}


def _invalid(body: Any) -> str | None:
    if not isinstance(body, dict):
        return "body must be a JSON object"
    amount, currency = body.get("amount"), body.get("currency")
    if not isinstance(amount, str) or not AMOUNT.match(amount) or float(amount) <= 0:
        return "'amount' must be a positive decimal string with two places"
    if not isinstance(currency, str) or not CURRENCY.match(currency):
        return "'currency' must be three capital letters"
    if not isinstance(body.get("account_id"), str) or not body["account_id"]:
        return "'account_id' must be a non-empty string"
    return None


def create_app(
    settings: PaymentRailSettings | None = None, faults: Faults | None = None
) -> FastAPI:
    """Build the simulator; settings default to the environment."""
    simulator = Simulator(NAME, settings or PaymentRailSettings(), faults=faults)
    app = simulator.create_app(title="Payment rail simulator", description=__doc__ or "")
    by_key: dict[str, _Payment] = {}
    by_id: dict[str, _Payment] = {}
    outcomes = {"rng": random.Random(simulator.settings.seed), "seed": simulator.settings.seed}

    def draw_failure(account_id: str) -> bool:
        settings = simulator.settings
        if outcomes["seed"] != settings.seed:  # a new seed restarts the sequence
            outcomes["rng"], outcomes["seed"] = random.Random(settings.seed), settings.seed
        rng: random.Random = outcomes["rng"]  # type: ignore[assignment]
        drawn = rng.random() < settings.failure_rate
        return drawn or account_id in settings.failing_accounts

    async def create_payment(request: Request) -> JSONResponse:
        body = await json_body(request)
        if isinstance(body, JSONResponse):
            return body
        problem = _invalid(body)
        key = request.headers.get("idempotency-key")
        if problem is None and not key:
            problem = "the Idempotency-Key header is required"
        if problem is not None:
            return refusal(problem)
        assert key is not None
        honour = simulator.settings.honour_idempotency_keys
        if honour and key in by_key:
            return JSONResponse(by_key[key].answer(), status_code=200)
        await asyncio.sleep(simulator.settings.create_delay_seconds)
        if honour and key in by_key:  # a concurrent request with the key won meanwhile
            return JSONResponse(by_key[key].answer(), status_code=200)
        payment = _Payment(
            payment_id="PAY" + secrets.token_hex(12),
            settles_at=time.monotonic() + simulator.settings.settle_seconds,
            fails=draw_failure(body["account_id"]),
        )
        by_key[key] = by_id[payment.payment_id] = payment
        answer = payment.answer()
        simulator.record(key, body, answer)
        return JSONResponse(answer, status_code=202)

    async def get_payment(request: Request) -> JSONResponse:
        payment = by_id.get(request.path_params["payment_id"])
        if payment is None:
            return JSONResponse({"error": "no such payment"}, status_code=404)
        return JSONResponse(payment.answer())

    app.add_contract_route("/v1/payments", create_payment, methods=["POST"])
    app.add_contract_route("/v1/payments/{payment_id}", get_payment, methods=["GET"])
    return app
