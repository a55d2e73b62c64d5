"""`HttpPaymentProvider`: answers and errors mapped to the port's own, over MockTransport."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from decimal import Decimal

import httpx
import pytest

from adapters.payment_provider import HttpPaymentProvider
from domain.billing.ports import (
    ChargeRequest,
    LookupNotSupported,
    ProviderCurrencyMismatch,
    ProviderCustomerNotFound,
)
from domain.outbound import OutcomeUnknown, ProviderUnavailable

REQUEST = ChargeRequest(1, 2, Decimal("292.97"), "USD", "invoice-1-cycle-1")


def provider(handler: Callable[[httpx.Request], httpx.Response]) -> HttpPaymentProvider:
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return HttpPaymentProvider(client, "http://provider")


def test_a_charge_sends_the_key_and_the_amount_with_two_decimals() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"charged": True})

    assert asyncio.run(provider(handler).charge(REQUEST)) is True
    assert seen[0].headers["Idempotency-Key"] == "invoice-1-cycle-1"
    assert json.loads(seen[0].content)["amount"] == {"value": "292.97", "currency": "USD"}


@pytest.mark.parametrize(
    ("response", "error"),
    [
        (httpx.Response(404, json={"code": "customer_not_found"}), ProviderCustomerNotFound),
        (httpx.Response(409, json={"code": "currency_mismatch"}), ProviderCurrencyMismatch),
        (httpx.Response(503, json={"error": "down"}), ProviderUnavailable),
        (httpx.Response(200, json={"ok": 1}), OutcomeUnknown),
    ],
)
def test_answers_map_to_the_ports_errors(response: httpx.Response, error: type[Exception]) -> None:
    with pytest.raises(error):
        asyncio.run(provider(lambda _: response).charge(REQUEST))


def test_a_dropped_answer_is_an_unknown_outcome_and_a_refused_connection_is_not() -> None:
    def dropped(request: httpx.Request) -> httpx.Response:
        raise httpx.RemoteProtocolError("server disconnected", request=request)

    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(OutcomeUnknown):
        asyncio.run(provider(dropped).charge(REQUEST))
    with pytest.raises(ProviderUnavailable):
        asyncio.run(provider(refused).charge(REQUEST))


def test_a_lookup_answers_found_not_found_or_not_supported() -> None:
    answers = {
        "a": httpx.Response(200, json={"charged": True}),
        "b": httpx.Response(404, json={"code": "charge_not_found"}),
        "c": httpx.Response(501, json={"code": "lookup_not_supported"}),
    }
    lookup = provider(lambda request: answers[request.url.path.rsplit("/", 1)[-1]])
    assert asyncio.run(lookup.find_charge("a")) is True
    assert asyncio.run(lookup.find_charge("b")) is False
    with pytest.raises(LookupNotSupported):
        asyncio.run(lookup.find_charge("c"))
