"""The SMS provider simulator and its control surface, over real HTTP on a real port,
and the `HttpSmsProvider` adapter against it (each fault to the right port error)."""

from __future__ import annotations

import re
import socket
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import pytest

from adapters.http import ThirdPartyClient, build_async_client
from adapters.sms_provider import HttpSmsProvider
from domain.outbound import OutcomeUnknown, ProviderRejected, ProviderUnavailable
from domain.sms.ports import OutboundSms
from simulators.registry import SIMULATORS, HttpImpl, running
from simulators.sms_provider import SmsProviderSettings, create_app

MESSAGE = {"to": "+254712345678", "text": "Payment of KES 100 received"}
Start = Callable[..., str]


@pytest.fixture()
def start() -> Iterator[Start]:
    """Start a fresh SMS provider simulator; answers its base URL."""
    with ExitStack() as stack:

        def _start(http: HttpImpl = "httptools", **settings: Any) -> str:
            app = create_app(SmsProviderSettings(**settings))
            return stack.enter_context(running(app, http=http))

        yield _start


@pytest.fixture()
def url(start: Start) -> str:
    return start()


def put_faults(url: str, **faults: Any) -> dict[str, Any]:
    response = httpx.put(f"{url}/__admin/faults", json=faults)
    assert response.status_code == 200, response.text
    return dict(response.json())


def ledger(url: str) -> list[dict[str, Any]]:
    body = httpx.get(f"{url}/__admin/ledger").json()
    assert body["count"] == len(body["items"])
    return list(body["items"])


def stats(url: str) -> dict[str, int]:
    return dict(httpx.get(f"{url}/__admin/stats").json())


def post(url: str, key: str | None = "k-1", timeout: float = 5.0, **body: Any) -> httpx.Response:
    headers = {"Idempotency-Key": key} if key else {}
    return httpx.post(
        f"{url}/v1/messages", json={**MESSAGE, **body}, headers=headers, timeout=timeout
    )


def test_registry_names_the_sms_provider() -> None:
    assert "sms-provider" in SIMULATORS


def test_happy_path(url: str) -> None:
    response = post(url)
    assert response.status_code == 201
    assert re.fullmatch(r"SM[0-9a-f]{24}", response.json()["message_id"])
    assert response.json()["status"] == "queued"
    [entry] = ledger(url)
    assert entry["key"] == "k-1"
    assert entry["request"] == MESSAGE
    assert entry["response"] == response.json()
    assert entry["response_lost"] is False
    httpx.delete(f"{url}/__admin/ledger")
    assert ledger(url) == []


def test_idempotency_key_honoured(url: str) -> None:
    first, again = post(url), post(url)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["message_id"] == first.json()["message_id"]
    assert len(ledger(url)) == 1
    assert post(url, key=None).status_code == 201
    assert post(url, key=None).status_code == 201
    assert len(ledger(url)) == 3


def test_idempotency_key_not_honoured(url: str) -> None:
    response = httpx.put(f"{url}/__admin/settings", json={"honour_idempotency_keys": False})
    assert response.json() == {"honour_idempotency_keys": False, "rejected_numbers": []}
    first, again = post(url), post(url)
    assert (first.status_code, again.status_code) == (201, 201)
    assert first.json()["message_id"] != again.json()["message_id"]
    assert [entry["key"] for entry in ledger(url)] == ["k-1", "k-1"]


def test_setting_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEDGERFLOW_SMS_PROVIDER_HONOUR_IDEMPOTENCY_KEYS", "false")
    monkeypatch.setenv("LEDGERFLOW_SMS_PROVIDER_REJECTED_NUMBERS", '["+15550000000"]')
    settings = SmsProviderSettings()
    assert settings.honour_idempotency_keys is False
    assert settings.rejected_numbers == ["+15550000000"]


def test_refusals_are_400_without_effect(url: str) -> None:
    bodies: list[dict[str, Any]] = [
        {"to": "0712345678"},
        {"to": "+1234567"},
        {"to": "+1" * 9},
        {"text": ""},
    ]
    for body in bodies:
        response = post(url, **body)
        assert response.status_code == 400, body
        assert response.json()["error"]
    assert httpx.post(f"{url}/v1/messages", content=b"nope").status_code == 400
    httpx.put(f"{url}/__admin/settings", json={"rejected_numbers": [MESSAGE["to"]]})
    response = post(url)
    assert (response.status_code, response.json()) == (400, {"error": "recipient rejected"})
    assert ledger(url) == []


def test_settings_validation(url: str) -> None:
    assert httpx.put(f"{url}/__admin/settings", json={"nope": 1}).status_code == 422
    bad = httpx.put(f"{url}/__admin/settings", json={"rejected_numbers": "x"})
    assert bad.status_code == 422
    assert httpx.get(f"{url}/__admin/settings").json()["rejected_numbers"] == []


def test_faults_partial_update_and_validation(url: str) -> None:
    assert put_faults(url)["error_rate"] == 0.0
    put_faults(url, seed=3, latency_ms=5)
    current = put_faults(url, error_rate=0.25)
    assert (current["seed"], current["latency_ms"], current["error_rate"]) == (3, 5, 0.25)
    for field in ("error_rate", "timeout_rate", "reset_rate", "lost_response_rate"):
        for value in (-0.1, 1.5):
            response = httpx.put(f"{url}/__admin/faults", json={field: value})
            assert response.status_code == 422
            assert field in response.json()["detail"][0]["loc"]
    assert httpx.put(f"{url}/__admin/faults", json={"bogus": 1}).status_code == 422
    assert httpx.get(f"{url}/__admin/faults").json() == current


def test_error_fault_is_503_without_effect_and_admin_is_never_faulted(url: str) -> None:
    put_faults(url, error_rate=1.0)
    response = post(url)
    assert response.status_code == 503
    assert ledger(url) == []  # the admin surface still answers
    assert stats(url) == {
        "requests": 1,
        "errors": 1,
        "timeouts": 0,
        "resets": 0,
        "lost_responses": 0,
    }
    httpx.delete(f"{url}/__admin/stats")
    assert stats(url)["requests"] == 0


@pytest.mark.parametrize("http", ["h11", "httptools"])
def test_reset_closes_the_connection_without_effect(start: Start, http: HttpImpl) -> None:
    url = start(http)
    put_faults(url, reset_rate=1.0)
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        post(url)
    assert ledger(url) == []
    assert stats(url)["resets"] == 1


@pytest.mark.parametrize("http", ["h11", "httptools"])
def test_lost_response_does_the_work_then_closes(start: Start, http: HttpImpl) -> None:
    url = start(http)
    put_faults(url, lost_response_rate=1.0)
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        post(url)
    [entry] = ledger(url)
    assert entry["response_lost"] is True
    assert stats(url)["lost_responses"] == 1
    put_faults(url, lost_response_rate=0.0)
    retry = post(url)  # the same key: the provider recognises it
    assert retry.status_code == 200
    assert retry.json() == entry["response"]
    assert len(ledger(url)) == 1


def test_timeout_holds_the_request_without_effect(url: str) -> None:
    put_faults(url, timeout_rate=1.0)
    with pytest.raises(httpx.ReadTimeout):  # held open: neither an answer nor a reset
        post(url, timeout=0.3)
    assert ledger(url) == []
    assert stats(url)["timeouts"] == 1


def test_latency_delays_contract_requests_only() -> None:
    app = create_app(SmsProviderSettings())
    simulator = app.state.simulator
    waits: list[tuple[float, int]] = []  # (seconds, ledger entries when the wait began)

    async def sleep(seconds: float) -> None:
        waits.append((seconds, len(simulator.ledger)))

    simulator.sleep = sleep
    with running(app) as url:
        put_faults(url, latency_ms=200, latency_jitter_ms=50)
        assert post(url).status_code == 201
        [(seconds, recorded)] = waits
        assert 0.2 <= seconds <= 0.25 and recorded == 0  # the wait came before the effect
        assert len(ledger(url)) == 1
        assert len(waits) == 1  # neither /__admin call waited


def _statuses(url: str, n: int) -> list[int]:
    with httpx.Client(base_url=url) as client:
        return [
            client.post(
                "/v1/messages", json=MESSAGE, headers={"Idempotency-Key": f"k-{i}"}
            ).status_code
            for i in range(n)
        ]


def test_same_seed_same_fault_sequence(start: Start) -> None:
    first, second = start(), start()
    for url in (first, second):
        put_faults(url, seed=42, error_rate=0.5)
    sequence = _statuses(first, 20)
    assert set(sequence) == {201, 503}
    assert _statuses(second, 20) == sequence
    put_faults(first, seed=42)  # reseeding restarts the sequence (accepted keys now answer 200)
    assert [s == 503 for s in _statuses(first, 20)] == [s == 503 for s in sequence]
    put_faults(first, seed=43)
    assert _statuses(first, 20) != sequence


# -- the adapter against the real simulator -------------------------------------------------


def sms(key: str = "k-1", to: str = MESSAGE["to"]) -> OutboundSms:
    return OutboundSms(phone_number=to, text=MESSAGE["text"], idempotency_key=key)


async def test_adapter_sends_and_retries_safely(url: str) -> None:
    async with build_async_client(
        ThirdPartyClient(), timeout_seconds=2, max_connections=10
    ) as client:
        provider = HttpSmsProvider(client, url)
        message_id = await provider.send(sms())
        assert await provider.send(sms()) == message_id
    assert len(ledger(url)) == 1


async def test_adapter_maps_refusal_to_rejected(url: str) -> None:
    async with build_async_client(
        ThirdPartyClient(), timeout_seconds=2, max_connections=10
    ) as client:
        with pytest.raises(ProviderRejected) as raised:
            await HttpSmsProvider(client, url).send(sms(to="12345"))
    assert "400" in raised.value.detail
    assert "+" in raised.value.detail


@pytest.mark.parametrize(
    ("faults", "error"),
    [
        ({"error_rate": 1.0}, ProviderUnavailable),
        ({"reset_rate": 1.0}, OutcomeUnknown),
        ({"lost_response_rate": 1.0}, OutcomeUnknown),
        ({"timeout_rate": 1.0}, OutcomeUnknown),
    ],
)
async def test_adapter_maps_each_fault(
    url: str, faults: dict[str, float], error: type[Exception]
) -> None:
    put_faults(url, **faults)
    async with build_async_client(
        ThirdPartyClient(), timeout_seconds=0.3, max_connections=10
    ) as client:
        with pytest.raises(error):
            await HttpSmsProvider(client, url).send(sms())
    expected = 1 if "lost_response_rate" in faults else 0
    assert len(ledger(url)) == expected


async def test_adapter_lost_response_then_retry_sends_once(url: str) -> None:
    put_faults(url, lost_response_rate=1.0)
    async with build_async_client(
        ThirdPartyClient(), timeout_seconds=2, max_connections=10
    ) as client:
        provider = HttpSmsProvider(client, url)
        with pytest.raises(OutcomeUnknown):
            await provider.send(sms())
        put_faults(url, lost_response_rate=0.0)
        message_id = await provider.send(sms())
    [entry] = ledger(url)
    assert entry["response"]["message_id"] == message_id


async def test_adapter_maps_connection_refused_to_unavailable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound but not listening: connection refused
        async with build_async_client(
            ThirdPartyClient(), timeout_seconds=2, max_connections=10
        ) as client:
            with pytest.raises(ProviderUnavailable):
                await HttpSmsProvider(client, f"http://127.0.0.1:{port}").send(sms())
