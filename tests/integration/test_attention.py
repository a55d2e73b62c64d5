"""What waits for an operator, as one list across the workflows: a parked SMS and a dead
letter in `GET /status/attention` (filtered by workflow, kind and reason), retried by a
filter through the SMS service, and the same list from `ledgerflow attention`."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest
from typer.testing import CliRunner

from ledgerflow.cli import app as cli
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
        retry_base_seconds=0.02,
        retry_cap_seconds=0.1,
        retry_budget_seconds=0.5,
        outbound_timeout_seconds=1,
    )


@pytest.fixture(scope="module")
def api(settings: Settings, issuer: TokenIssuer) -> Iterator[httpx.Client]:
    with (
        running(create_app(settings)) as url,
        issuer.client(url, timeout=10) as client,
        workers(settings, "sms", "projections"),
    ):
        yield client


def attention(api: httpx.Client, **filters: str) -> list[dict[str, Any]]:
    answer = api.get("/status/attention", params=filters)
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


def test_a_parked_sms_waits_with_its_reason_and_a_filter_retries_it(
    api: httpx.Client, simulator: httpx.Client
) -> None:
    simulator.put("/__admin/faults", json={"error_rate": 1.0})
    sms = api.post(
        "/sms",
        json={
            "message_id": f"m-{uuid.uuid4()}",
            "phone_number": "+254712345678",
            "text": "Your code is 1234",
        },
    ).json()
    assert eventually(lambda: sms_status(api, sms["id"]) == "parked")

    def listed(**filters: str) -> list[dict[str, Any]]:
        return [item for item in attention(api, **filters) if item["key"] == sms["id"]]

    assert eventually(lambda: listed(workflow="sms", kind="parked"))
    [item] = listed(workflow="sms", kind="parked", reason="503")
    assert item["aggregate_id"] == sms["id"] and item["retryable"] is True
    assert "503" in item["last_error"] and item["since"]
    assert listed(workflow="billing") == [] and listed(kind="set_aside") == []
    assert listed(reason="no such reason") == []

    simulator.put("/__admin/faults", json={"error_rate": 0.0})
    retried = api.post("/status/attention/retry", params={"workflow": "sms", "kind": "parked"})
    assert retried.status_code == 200
    assert {"key": sms["id"], "error": None} in [
        {"key": r["item"]["key"], "error": r["error"]} for r in retried.json()["retried"]
    ]
    assert eventually(lambda: sms_status(api, sms["id"]) == "sent")
    assert eventually(lambda: listed() == [])


def test_a_dead_letter_waits_and_is_not_retried_by_a_filter(
    api: httpx.Client, database_url: str
) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute(
            "INSERT INTO ledgerflow_dead_letters (queue, message_id, body, reason)"
            " VALUES ('ledgerflow.commands.sms', %s, %s, 'not JSON') RETURNING id",
            (f"dead-{uuid.uuid4()}", b"{"),
        ).fetchone()
    assert row is not None
    [item] = [i for i in attention(api, kind="dead_letter") if i["key"] == str(row[0])]
    assert item["workflow"] == "sms" and item["reason"] == "not JSON"
    assert item["retryable"] is False and item["aggregate_id"] is None

    retried = api.post("/status/attention/retry", params={"kind": "dead_letter"}).json()
    assert retried["retried"] == []


def test_the_command_line_lists_the_same(api: httpx.Client, settings: Settings) -> None:
    env = {"DATABASE_URL": settings.database_url}
    done = CliRunner().invoke(cli, ["attention", "--kind", "dead_letter"], env=env)
    assert done.exit_code == 0, done.output
    assert "dead_letter" in done.output and "not JSON" in done.output
    refused = CliRunner().invoke(cli, ["attention", "--kind", "nonsense"], env=env)
    assert refused.exit_code != 0
