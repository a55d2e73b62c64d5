"""`PaymentProvider` over HTTP, against the contract of `simulators.payment_provider`.

- `POST /v1/charges` with the `Idempotency-Key` header; `200 {"charged": bool}`.
- `404 {"code": "customer_not_found"}`, `409 {"code": "currency_mismatch"}`: refusals.
- `GET /v1/charges/{key}`: `200` found, `404 {"code": "charge_not_found"}`, `501` when the
  provider cannot be asked (`LookupNotSupported`).

Transport errors are classified by whether the request can have had its effect: not sent
-> `ProviderUnavailable`; sent and no answer -> `OutcomeUnknown` (the contract's
NetworkException).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from adapters.outbound_http import error_text, send, status_error
from domain.billing.ports import (
    ChargeRequest,
    LookupNotSupported,
    ProviderCurrencyMismatch,
    ProviderCustomerNotFound,
)
from domain.outbound import OutcomeUnknown

PARTY = "payment provider"


class HttpPaymentProvider:
    def __init__(self, client: httpx.AsyncClient, base_url: str) -> None:
        self._client = client
        self._base = base_url.rstrip("/") + "/v1/charges"

    async def charge(self, request: ChargeRequest) -> bool:
        body = {
            "invoice_id": request.invoice_id,
            "customer_id": request.customer_id,
            "amount": {"value": f"{request.amount:.2f}", "currency": request.currency},
        }
        response = await self._send(
            "POST", self._base, json=body, headers={"Idempotency-Key": request.idempotency_key}
        )
        status = response.status_code
        if status == 200:
            charged = _field(response, "charged")
            if not isinstance(charged, bool):
                raise OutcomeUnknown(
                    f"payment provider answered 200 without 'charged': {error_text(response)}"
                )
            return charged
        code = _field(response, "code")
        if status == 404 and code == "customer_not_found":
            raise ProviderCustomerNotFound(
                f"customer {request.customer_id} not found at the provider"
            )
        if status == 409 and code == "currency_mismatch":
            raise ProviderCurrencyMismatch(
                f"invoice currency {request.currency} differs from the customer's account: "
                f"{error_text(response)}"
            )
        raise _status_error(response)

    async def find_charge(self, idempotency_key: str) -> bool:
        response = await self._send("GET", f"{self._base}/{quote(idempotency_key, safe='')}")
        status = response.status_code
        if status == 200:
            return True
        if status == 404 and _field(response, "code") == "charge_not_found":
            return False
        if status in (501, 405):
            raise LookupNotSupported(f"answered {status}: {error_text(response)}")
        raise _status_error(response)

    async def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return await send(self._client, method, url, party=PARTY, **kwargs)


def _status_error(response: httpx.Response) -> Exception:
    return status_error(response.status_code, error_text(response), party=PARTY, what="charge")


def _field(response: httpx.Response, name: str) -> object:
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get(name) if isinstance(body, dict) else None
