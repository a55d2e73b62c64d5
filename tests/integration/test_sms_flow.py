"""The SMS workflow through real parts: the API over HTTP, PostgreSQL, the work engine,
the projection, the relay on the PostgreSQL event bus and the simulator on a real port."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator

import httpx
import pytest

from adapters.messaging.postgres.event_bus import PostgresEventBus
from domain.access import Role
from domain.messaging import Message
from ledgerflow.settings import Settings
from ledgerflow.web import create_app
from simulators import sms_provider
from simulators.registry import running
from tests.harness import eventually, sms_status, workers
from tests.issuer import TokenIssuer


@pytest.fixture(scope="module")
def simulator() -> Iterator[httpx.Client]:
    with running(sms_provider.create_app()) as url, httpx.Client(base_url=url) as client:
        yield client


@pytest.fixture(scope="module")
def settings(database_url: str, simulator: httpx.Client, issuer: TokenIssuer) -> Settings:
    return Settings(
        **issuer.trusted,
        database_url=database_url,
        sms_provider_url=str(simulator.base_url),
        worker_concurrency=20,
        retry_base_seconds=0.02,
        retry_cap_seconds=0.1,
        retry_budget_seconds=1.0,
        work_lease_seconds=3,
        outbound_timeout_seconds=1,
    )


@pytest.fixture(scope="module")
def api(settings: Settings, issuer: TokenIssuer) -> Iterator[httpx.Client]:
    with (
        running(create_app(settings)) as url,
        issuer.client(url, timeout=10, headers=issuer.as_client()) as client,
    ):  # a client of every scope: its own resources
        yield client


@pytest.fixture(scope="module")
def operator(issuer: TokenIssuer) -> dict[str, str]:
    """The headers of an operator's token: operator actions are operators' alone."""
    return issuer.headers(Role.OPERATOR)


@pytest.fixture(scope="module")
def platform_workers(settings: Settings, api: httpx.Client) -> Iterator[None]:
    with workers(settings, "sms", "projections", "relay"):
        yield


@pytest.fixture(autouse=True)
def calm_simulator(simulator: httpx.Client) -> None:
    simulator.put(
        "/__admin/faults",
        json={
            "error_rate": 0,
            "reset_rate": 0,
            "timeout_rate": 0,
            "lost_response_rate": 0,
            "latency_ms": 0,
        },
    )
    simulator.put(
        "/__admin/settings", json={"rejected_numbers": [], "honour_idempotency_keys": True}
    )


def new_sms(**changes: object) -> dict[str, object]:
    return {
        "message_id": f"m-{uuid.uuid4()}",
        "phone_number": "+254712345678",
        "text": "Your code is 1234",
        "correlation_id": "c-1",
        **changes,
    }


def test_an_sms_is_sent_once_and_its_history_shows_it(
    api: httpx.Client, simulator: httpx.Client, platform_workers: None
) -> None:
    body = new_sms()
    created = api.post("/sms", json=body)
    assert created.status_code == 202, created.text
    sms = created.json()
    assert sms["status"] in {"requested", "sending", "sent"}
    assert eventually(lambda: sms_status(api, sms["id"]) == "sent")

    final = api.get(f"/sms/{sms['id']}").json()
    assert final["attempts"] == 1 and final["provider_message_id"].startswith("SM")
    history = api.get(f"/sms/{sms['id']}/events").json()
    assert [e["type"] for e in history] == ["SmsRequested", "SmsSent"]
    assert [e["version"] for e in history] == [1, 2]
    assert history[1]["data"]["provider_message_id"] == final["provider_message_id"]
    ledger = simulator.get("/__admin/ledger").json()["items"]
    assert [entry["key"] for entry in ledger].count(sms["id"]) == 1


def test_the_same_message_id_is_one_sms_and_another_body_conflicts(
    api: httpx.Client, platform_workers: None
) -> None:
    body = new_sms()
    first = api.post("/sms", json=body)
    again = api.post("/sms", json=body)
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json()["id"] == first.json()["id"]
    conflict = api.post("/sms", json={**body, "text": "another text"})
    assert conflict.status_code == 409
    assert conflict.json()["code"] == "message_id_conflict"


def test_validation_names_the_field_and_the_rule(api: httpx.Client) -> None:
    answer = api.post("/sms", json=new_sms(phone_number="0712345678"))
    assert answer.status_code == 422
    detail = answer.json()["detail"][0]
    assert detail["loc"] == ["body", "phone_number"] and "E.164" in detail["msg"]
    assert api.post("/sms", json=new_sms(text="")).json()["detail"][0]["loc"] == ["body", "text"]


def test_a_refusal_fails_at_once_and_is_not_retried(
    api: httpx.Client, simulator: httpx.Client, platform_workers: None
) -> None:
    simulator.put("/__admin/settings", json={"rejected_numbers": ["+254712345679"]})
    sms = api.post("/sms", json=new_sms(phone_number="+254712345679")).json()
    assert eventually(lambda: sms_status(api, sms["id"]) == "failed")
    final = api.get(f"/sms/{sms['id']}").json()
    assert final["attempts"] == 1 and "400" in final["last_error"]
    assert [e["type"] for e in api.get(f"/sms/{sms['id']}/events").json()] == [
        "SmsRequested",
        "SmsRejected",
    ]


def test_transient_failures_are_retried_then_parked_and_an_operator_can_retry(
    operator: dict[str, str], api: httpx.Client, simulator: httpx.Client, platform_workers: None
) -> None:
    simulator.put("/__admin/faults", json={"error_rate": 1.0})
    sms = api.post("/sms", json=new_sms()).json()
    assert eventually(lambda: sms_status(api, sms["id"]) == "parked")  # the budget spent
    parked = api.get(f"/sms/{sms['id']}").json()
    attempts = parked["attempts"]
    assert attempts >= 2 and "503" in parked["last_error"]
    types = [e["type"] for e in api.get(f"/sms/{sms['id']}/events").json()]
    assert types == ["SmsRequested"] + ["SmsSendAttemptFailed"] * (attempts - 1) + ["SmsParked"]

    assert api.post(f"/sms/{uuid.uuid4()}/retry", headers=operator).status_code == 404
    simulator.put("/__admin/faults", json={"error_rate": 0.0})
    retried = api.post(f"/sms/{sms['id']}/retry", headers=operator)
    assert retried.status_code == 202 and retried.json()["status"] == "requested"
    assert eventually(lambda: sms_status(api, sms["id"]) == "sent")
    assert api.get(f"/sms/{sms['id']}").json()["attempts"] == attempts + 1  # numbers go on
    assert api.post(f"/sms/{sms['id']}/retry", headers=operator).status_code == 409


def test_lost_responses_are_retried_with_the_same_idempotency_key(
    operator: dict[str, str], api: httpx.Client, simulator: httpx.Client, platform_workers: None
) -> None:
    simulator.put("/__admin/faults", json={"lost_response_rate": 1.0})
    sms = api.post("/sms", json=new_sms()).json()
    assert eventually(lambda: sms_status(api, sms["id"]) == "parked")  # every answer lost
    attempts = api.get(f"/sms/{sms['id']}").json()["attempts"]
    simulator.put("/__admin/faults", json={"lost_response_rate": 0.0})
    api.post(f"/sms/{sms['id']}/retry", headers=operator)
    assert eventually(lambda: sms_status(api, sms["id"]) == "sent")
    ledger = simulator.get("/__admin/ledger").json()["items"]
    # Many calls, one effect: the provider saw the same key every time.
    assert [entry["key"] for entry in ledger].count(sms["id"]) == 1
    assert api.get(f"/sms/{sms['id']}").json()["attempts"] == attempts + 1


def test_lists_filter_by_status_and_paginate(api: httpx.Client, platform_workers: None) -> None:
    ids = {api.post("/sms", json=new_sms()).json()["id"] for _ in range(5)}
    eventually(lambda: all(sms_status(api, sms_id) == "sent" for sms_id in ids))

    def listed_sent() -> set[str]:
        seen: set[str] = set()
        cursor = None
        while True:
            params: dict[str, str | int] = {"status": "sent", "limit": 2}
            if cursor:
                params["cursor"] = cursor
            page = api.get("/sms", params=params).json()
            assert len(page["items"]) <= 2
            seen |= {item["id"] for item in page["items"]}
            cursor = page["next_cursor"]
            if cursor is None:
                return seen

    assert eventually(lambda: ids <= listed_sent())
    assert api.get("/sms", params={"status": "bogus"}).status_code == 422
    assert api.get("/sms", params={"limit": 501}).status_code == 422
    assert api.get("/sms", params={"cursor": "not-a-cursor"}).status_code == 400


def test_sms_sent_is_published_on_the_event_bus_after_the_send(
    api: httpx.Client, settings: Settings, platform_workers: None
) -> None:
    sms = api.post("/sms", json=new_sms()).json()
    received: list[Message] = []

    async def listen() -> None:
        assert settings.database_url
        bus = PostgresEventBus(settings.database_url)
        stop = asyncio.Event()

        async def handle(message: Message) -> None:
            received.append(message)
            if json.loads(message.body)["sms_id"] == sms["id"]:
                stop.set()

        try:
            await asyncio.wait_for(
                bus.subscribe(f"test-{uuid.uuid4()}", ["sms.*"], handle, stop), 20
            )
        finally:
            await bus.close()

    asyncio.run(listen())
    mine = [m for m in received if json.loads(m.body)["sms_id"] == sms["id"]]
    assert len(mine) == 1
    assert mine[0].routing_key == "sms.SmsSent" and mine[0].correlation_id == "c-1"
    assert sms_status(api, sms["id"]) == "sent"


def test_health_answers_while_the_database_does(api: httpx.Client) -> None:
    assert api.get("/health").json() == {"status": "ok"}
    docs = api.get("/openapi.json").json()
    post = docs["paths"]["/sms"]["post"]
    assert {"202", "200", "409", "422"} <= set(post["responses"])
    assert docs["components"]["schemas"]["SmsCreate"].get("examples")
