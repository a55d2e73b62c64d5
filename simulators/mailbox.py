"""Mailbox simulator: keeps every mail it is given and shows it over HTTP.

- `POST /v1/mail` with JSON `{"message_id": "<...@...>", "from": "...", "to": "...",
  "subject": "...", "text": "..."}`: `201 {"message_id": ..., "status": "accepted"}`.
  The same `message_id` again is the same mail: `200`, its `deliveries` count grows,
  nothing is added to the ledger. `400 {"error": ...}` (permanent) for a body that is
  not such an object, or a recipient listed in the setting `rejected_recipients`.
- `GET /v1/mail?to=...`: every distinct mail, oldest first,
  `{"count": N, "items": [{"message_id", "from", "to", "subject", "text",
  "received_at", "deliveries"}]}`; `GET /v1/mail/{message_id}` (URL-encoded) one mail.

Settings (env prefix `LEDGERFLOW_MAILBOX_`, or `PUT /__admin/settings`):
`rejected_recipients` (JSON list, default empty). Faults and the ledger are the shared
control surface of `simulators.control`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic_settings import BaseSettings, SettingsConfigDict

from simulators.control import Faults, Simulator, json_body, refusal

NAME = "mailbox"
FIELDS = ("message_id", "from", "to", "subject", "text")


class MailboxSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LEDGERFLOW_MAILBOX_", extra="forbid")

    rejected_recipients: list[str] = []


def create_app(settings: MailboxSettings | None = None, faults: Faults | None = None) -> FastAPI:
    simulator = Simulator(NAME, settings or MailboxSettings(), faults=faults)
    app = simulator.create_app(title="Mailbox simulator", description=__doc__ or "")
    mails: dict[str, dict[str, Any]] = {}  # Message-ID -> the mail, in arrival order

    async def receive(request: Request) -> JSONResponse:
        body = await json_body(request)
        if isinstance(body, JSONResponse):
            return body
        if not isinstance(body, dict) or not all(
            isinstance(body.get(f), str) and body[f] for f in FIELDS
        ):
            return refusal(f"body must be an object with non-empty strings {', '.join(FIELDS)}")
        if body["to"] in simulator.settings.rejected_recipients:
            return refusal("recipient rejected")
        message_id = body["message_id"]
        answer = {"message_id": message_id, "status": "accepted"}
        if message_id in mails:
            mails[message_id]["deliveries"] += 1
            return JSONResponse(answer, status_code=200)
        received_at = datetime.now(UTC).isoformat()
        mails[message_id] = {
            **{f: body[f] for f in FIELDS},
            "received_at": received_at,
            "deliveries": 1,
        }
        simulator.record(message_id, {"to": body["to"], "subject": body["subject"]}, answer)
        return JSONResponse(answer, status_code=201)

    async def list_mail(request: Request) -> JSONResponse:
        to = request.query_params.get("to")
        items = [mail for mail in mails.values() if to is None or mail["to"] == to]
        return JSONResponse({"count": len(items), "items": items})

    async def get_mail(request: Request) -> JSONResponse:
        mail = mails.get(request.path_params["message_id"])
        if mail is None:
            return JSONResponse({"error": "no such mail"}, status_code=404)
        return JSONResponse(mail)

    app.add_contract_route("/v1/mail", receive, methods=["POST"])
    app.add_contract_route("/v1/mail", list_mail, methods=["GET"])
    app.add_contract_route("/v1/mail/{message_id}", get_mail, methods=["GET"])
    return app
