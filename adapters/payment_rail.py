"""`PaymentRail` over HTTP, against the contract of `simulators.payment_rail`.

Errors say whether the request can have had its effect (`domain.outbound`): refused
before sending -> `ProviderUnavailable`; lost after sending -> `OutcomeUnknown` (safe to
repeat: the `Idempotency-Key` names the payment); 4xx -> `ProviderRejected`.
"""

from __future__ import annotations

from typing import Any

import httpx

from adapters.outbound_http import error_text, party_text, send, status_error
from domain.money import format_amount
from domain.outbound import OutcomeUnknown
from domain.reimbursements.ports import PaymentOrder, RailPayment, RailStatus


class HttpPaymentRail:
    def __init__(self, client: httpx.AsyncClient, base_url: str) -> None:
        self._client = client
        self._payments = base_url.rstrip("/") + "/v1/payments"

    async def create(self, order: PaymentOrder) -> RailPayment:
        body = {
            "amount": format_amount(order.amount),
            "currency": order.currency,
            "bank_id": order.bank_id,
            "account_id": order.account_id,
            "reference": order.reference,
        }
        response = await self._call(
            "POST", self._payments, json=body, headers={"Idempotency-Key": order.idempotency_key}
        )
        return _payment(response)

    async def status(self, payment_id: str) -> RailPayment:
        response = await self._call("GET", f"{self._payments}/{payment_id}")
        return _payment(response)

    async def _call(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        response = await send(self._client, method, url, party="payment rail", **kwargs)
        if 200 <= response.status_code < 300:
            return response
        raise status_error(response.status_code, error_text(response), party="payment rail")


def _payment(response: httpx.Response) -> RailPayment:
    try:
        body = response.json()
        reason = body.get("failure_reason")
        return RailPayment(
            payment_id=str(body["payment_id"]),
            status=RailStatus(body["status"]),
            # The rail's words, recorded and shown: scrubbed like an error's.
            failure_reason=None if reason is None else party_text(str(reason)),
        )
    except (ValueError, KeyError, TypeError) as error:
        # It said yes, so the payment may exist, but we cannot tell which one.
        raise OutcomeUnknown(
            f"payment rail answered {response.status_code} without a readable payment"
        ) from error
