"""SMS provider simulator: the invented contract our `HttpSmsProvider` adapter speaks.

The real provider's contract is not known (docs/third-parties.md, "SMS provider"), so this
one is assumed:

- `POST /v1/messages`, JSON `{"to": "+254712345678", "text": "..."}`, optional header
  `Idempotency-Key`.
- `201 {"message_id": "SM<24 hex>", "status": "queued"}`: the message was accepted.
- `200` with the same body: a repeat of an `Idempotency-Key` already accepted; nothing new
  is sent and nothing is added to the ledger. With the setting `honour_idempotency_keys`
  false, every request is a new send (a new ledger entry, the key still recorded so that
  duplicates can be counted by key).
- `400 {"error": "..."}` (permanent): `to` is not `+` and 8 to 15 digits, `text` is empty,
  the body is not such a JSON object, or `{"error": "recipient rejected"}` for a number
  listed in the setting `rejected_numbers`.

Settings (env prefix `LEDGERFLOW_SMS_PROVIDER_`, or `PUT /__admin/settings`):
`honour_idempotency_keys` (default true), `rejected_numbers` (JSON list, default empty).
Faults and the ledger are the shared control surface of `simulators.control`.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic_settings import BaseSettings, SettingsConfigDict

from simulators.control import Faults, Simulator, json_body, refusal

NAME = "sms-provider"
E164 = re.compile(r"^\+[0-9]{8,15}$")


class SmsProviderSettings(BaseSettings):
    """Contract-specific behaviour (not faults)."""

    model_config = SettingsConfigDict(env_prefix="LEDGERFLOW_SMS_PROVIDER_", extra="forbid")

    honour_idempotency_keys: bool = True
    rejected_numbers: list[str] = []


def create_app(
    settings: SmsProviderSettings | None = None, faults: Faults | None = None
) -> FastAPI:
    """Build the simulator; settings default to the environment."""
    simulator = Simulator(NAME, settings or SmsProviderSettings(), faults=faults)
    app = simulator.create_app(title="SMS provider simulator", description=__doc__ or "")
    accepted: dict[str, dict[str, Any]] = {}  # idempotency key -> answer

    async def send_message(request: Request) -> JSONResponse:
        body = await json_body(request)
        if isinstance(body, JSONResponse):
            return body
        if not isinstance(body, dict):
            return refusal("body must be a JSON object")
        to, text = body.get("to"), body.get("text")
        if not isinstance(to, str) or not E164.match(to):
            return refusal("'to' must be + and 8 to 15 digits")
        if not isinstance(text, str) or not text:
            return refusal("'text' must be a non-empty string")
        if to in simulator.settings.rejected_numbers:
            return refusal("recipient rejected")
        key = request.headers.get("idempotency-key")
        honour = simulator.settings.honour_idempotency_keys
        if honour and key is not None and key in accepted:
            return JSONResponse(accepted[key], status_code=200)
        answer = {"message_id": "SM" + secrets.token_hex(12), "status": "queued"}
        if key is not None:
            accepted[key] = answer
        simulator.record(key, {"to": to, "text": text}, answer)
        return JSONResponse(answer, status_code=201)

    app.add_contract_route("/v1/messages", send_message, methods=["POST"])
    return app
