"""`HttpSmsProvider`: every status and transport error mapped to the right port error
(`httpx.MockTransport`, no network)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

import httpx
import pytest

from adapters.sms_provider import HttpSmsProvider
from domain.outbound import OutcomeUnknown, ProviderRejected, ProviderUnavailable
from domain.privacy import mask_phone_number
from domain.sms.ports import OutboundSms

NUMBER = "+254712345678"
SMS = OutboundSms(phone_number=NUMBER, text="Paid KES 100", idempotency_key="key-1")
Handler = Callable[[httpx.Request], httpx.Response]


def provider(handler: Handler) -> HttpSmsProvider:
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return HttpSmsProvider(client, "http://sms.test/")


def answer(status: int, body: object) -> Handler:
    return lambda request: httpx.Response(status, json=body)


def raise_(error: Exception) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        raise error

    return handler


async def test_sends_the_contract_request_and_returns_the_message_id() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201, json={"message_id": "SM1", "status": "queued"})

    assert await provider(handler).send(SMS) == "SM1"
    [request] = seen
    assert (request.method, str(request.url)) == ("POST", "http://sms.test/v1/messages")
    assert request.headers["Idempotency-Key"] == "key-1"
    assert json.loads(request.content) == {"to": NUMBER, "text": "Paid KES 100"}


async def test_a_replayed_key_answering_200_is_success() -> None:
    assert await provider(answer(200, {"message_id": "SM1", "status": "queued"})).send(SMS)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
async def test_4xx_is_rejected_with_status_and_provider_text(status: int) -> None:
    with pytest.raises(ProviderRejected) as raised:
        await provider(answer(status, {"error": "recipient rejected"})).send(SMS)
    assert str(status) in raised.value.detail
    assert "recipient rejected" in raised.value.detail


@pytest.mark.parametrize("status", [408, 429])
async def test_4xx_meaning_not_now_is_unavailable(status: int) -> None:
    with pytest.raises(ProviderUnavailable):
        await provider(answer(status, {"error": "slow down"})).send(SMS)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_5xx_is_unavailable(status: int) -> None:
    with pytest.raises(ProviderUnavailable) as raised:
        await provider(answer(status, {"error": "down"})).send(SMS)
    assert str(status) in raised.value.detail


@pytest.mark.parametrize(
    "error",
    [
        httpx.ConnectError("refused"),
        httpx.ConnectTimeout("slow connect"),
        httpx.PoolTimeout("pool full"),
    ],
)
async def test_errors_before_sending_are_unavailable(error: Exception) -> None:
    with pytest.raises(ProviderUnavailable):
        await provider(raise_(error)).send(SMS)


@pytest.mark.parametrize(
    "error",
    [
        httpx.ReadTimeout("no answer"),
        httpx.WriteTimeout("stuck"),
        httpx.RemoteProtocolError("Server disconnected"),
        httpx.ReadError("reset"),
        httpx.WriteError("broken pipe"),
    ],
)
async def test_errors_after_sending_are_outcome_unknown(error: Exception) -> None:
    with pytest.raises(OutcomeUnknown):
        await provider(raise_(error)).send(SMS)


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(201, text="not json"),
        httpx.Response(201, json={"status": "queued"}),
        httpx.Response(201, json={"message_id": ""}),
        httpx.Response(201, json=["SM1"]),
        httpx.Response(302, headers={"Location": "/elsewhere"}),
    ],
)
async def test_success_without_a_message_id_is_outcome_unknown(response: httpx.Response) -> None:
    with pytest.raises(OutcomeUnknown):
        await provider(lambda request: response).send(SMS)


async def test_the_phone_number_is_never_logged_nor_in_details(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ProviderRejected) as raised:
        await provider(answer(400, {"error": f"bad number {NUMBER}"})).send(SMS)
    with pytest.raises(OutcomeUnknown):
        await provider(raise_(httpx.ReadTimeout("no answer"))).send(SMS)
    assert NUMBER not in raised.value.detail
    assert mask_phone_number(NUMBER) in raised.value.detail
    assert caplog.records
    assert NUMBER not in caplog.text


def test_mask_keeps_prefix_and_last_two_digits() -> None:
    assert mask_phone_number(NUMBER) == "+254*******78"
    assert mask_phone_number("+123") == "****"
