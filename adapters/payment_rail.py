"""`PaymentRail` over HTTP, against the contract of `adapters.simulators.payment_rail`.

Errors say whether the request can have had its effect (`domain.outbound`): refused
before sending -> `ProviderUnavailable`; lost after sending -> `OutcomeUnknown` (safe to
repeat: the `Idempotency-Key` names the payment); 4xx -> `ProviderRejected`.
"""

from __future__ import annotations

from typing import Any

import httpx

from adapters.sms_provider import NOT_SENT, TRANSIENT_4XX
from domain.outbound import OutcomeUnknown, ProviderRejected, ProviderUnavailable
from domain.reimbursements.commands import format_amount
from domain.reimbursements.ports import PaymentOrder, RailPayment, RailStatus

MAX_DETAIL = 200


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
        try:
            response = await self._client.request(method, url, **kwargs)
        except NOT_SENT as error:
            raise ProviderUnavailable(f"payment rail unreachable: {_describe(error)}") from error
        except httpx.TransportError as error:
            raise OutcomeUnknown(f"no answer from the payment rail: {_describe(error)}") from error
        status = response.status_code
        if 200 <= status < 300:
            return response
        detail = f"payment rail answered {status}: {response.text[:MAX_DETAIL]}"
        if status >= 500 or status in TRANSIENT_4XX:
            raise ProviderUnavailable(detail)
        if 400 <= status < 500:
            raise ProviderRejected(detail)
        raise OutcomeUnknown(detail)


def _payment(response: httpx.Response) -> RailPayment:
    try:
        body = response.json()
        return RailPayment(
            payment_id=str(body["payment_id"]),
            status=RailStatus(body["status"]),
            failure_reason=body.get("failure_reason"),
        )
    except (ValueError, KeyError, TypeError) as error:
        # It said yes, so the payment may exist, but we cannot tell which one.
        raise OutcomeUnknown(
            f"payment rail answered {response.status_code} without a readable payment"
        ) from error


def _describe(error: httpx.HTTPError) -> str:
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
