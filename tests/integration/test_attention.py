"""What waits for an operator, as one list across the workflows: a parked SMS and a dead
letter in `GET /status/attention` (filtered by workflow, kind and reason), retried by a
filter through the SMS service, and the same list from `ledgerflow attention`."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool
from typer.testing import CliRunner

from ledgerflow.cli import app as cli
from ledgerflow.settings import Settings
from ledgerflow.web import create_app
from projections.overview import OverviewReader, WorkflowOverview
from simulators.registry import running
from tests.harness import eventually, sms_status, workers
from tests.integration import parking_sms
from tests.issuer import TokenIssuer

# The SMS provider and settings whose SMS park within half a second.
simulator = parking_sms.simulator
settings = parking_sms.settings


@pytest.fixture(scope="module")
def api(settings: Settings, issuer: TokenIssuer) -> Iterator[httpx.Client]:
    """The API, as an operator."""
    with (
        running(create_app(settings)) as url,
        issuer.client(url, timeout=10) as operator,
        workers(settings, "sms", "projections"),
    ):
        yield operator


@pytest.fixture(scope="module")
def shop(api: httpx.Client, issuer: TokenIssuer) -> Iterator[httpx.Client]:
    """A client of the API, which sends SMS."""
    with httpx.Client(base_url=api.base_url, headers=issuer.as_client(), timeout=10) as client:
        yield client


def new_sms() -> dict[str, str]:
    return {
        "message_id": f"m-{uuid.uuid4()}",
        "phone_number": "+254712345678",
        "text": "Your code is 1234",
    }


def attention(api: httpx.Client, **filters: str) -> list[dict[str, Any]]:
    answer = api.get("/status/attention", params=filters)
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


def test_a_parked_sms_waits_with_its_reason_and_a_filter_retries_it(
    api: httpx.Client, shop: httpx.Client, simulator: httpx.Client
) -> None:
    simulator.put("/__admin/faults", json={"error_rate": 1.0})
    sms = shop.post("/sms", json=new_sms()).json()
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


def dead_letter(database_url: str, queue: str) -> str:
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute(
            "INSERT INTO ledgerflow_dead_letters (queue, message_id, body, reason)"
            " VALUES (%s, %s, %s, 'not JSON') RETURNING id",
            (queue, f"dead-{uuid.uuid4()}", b"{"),
        ).fetchone()
    assert row is not None
    return str(row[0])


def queued(database_url: str, queue: str) -> list[bytes]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT body FROM ledgerflow_queue_messages WHERE queue = %s", (queue,)
        ).fetchall()
    return [bytes(row[0]) for row in rows]


def test_the_command_line_retries_what_a_filter_selects(
    api: httpx.Client, shop: httpx.Client, simulator: httpx.Client, database_url: str
) -> None:
    simulator.put("/__admin/faults", json={"error_rate": 1.0})
    sms = shop.post("/sms", json=new_sms()).json()
    assert eventually(lambda: attention(api, key=sms["id"]))  # its read model has it parked
    simulator.put("/__admin/faults", json={"error_rate": 0.0})

    env = {"DATABASE_URL": database_url}
    args = ["attention", "--workflow", "sms", "--kind", "parked", "--retry"]
    done = CliRunner().invoke(cli, args, env=env)
    assert done.exit_code == 0, done.output
    assert sms["id"] in done.output and "retried" in done.output
    assert eventually(lambda: sms_status(api, sms["id"]) == "sent")


def test_a_dead_letter_waits_and_is_replayed_or_discarded_not_retried(
    api: httpx.Client, database_url: str
) -> None:
    # A queue no consumer reads, so the replayed message stays there to be seen.
    queue = f"ledgerflow.commands.idle{uuid.uuid4().hex[:8]}"
    command = dead_letter(database_url, f"{queue}.dead")
    [item] = [i for i in attention(api, kind="dead_letter") if i["key"] == command]
    assert item["workflow"] == queue.removeprefix("ledgerflow.commands.")
    assert item["reason"] == "not JSON" and item["source"] == f"{queue}.dead"
    assert item["retryable"] is False and item["replayable"] is True
    assert item["aggregate_id"] is None

    retried = api.post("/status/attention/retry", params={"kind": "dead_letter"}).json()
    assert retried["retried"] == []

    replayed = api.post(f"/status/dead-letters/{command}/replay")
    assert replayed.status_code == 200 and replayed.json() == {"id": int(command), "queue": queue}
    assert queued(database_url, queue) == [b"{"]
    assert [i for i in attention(api, kind="dead_letter") if i["key"] == command] == []
    assert api.post(f"/status/dead-letters/{command}/replay").status_code == 404

    event = dead_letter(database_url, "reimbursements_notifier.dead")  # a bus subscriber's
    [item] = [i for i in attention(api, kind="dead_letter") if i["key"] == event]
    assert item["workflow"] == "messaging" and item["replayable"] is False
    refused = api.post(f"/status/dead-letters/{event}/replay")
    assert refused.status_code == 409 and refused.json()["code"] == "dead_letter_not_replayable"
    discarded = api.post(f"/status/dead-letters/{event}/discard")
    assert discarded.status_code == 200 and discarded.json() == {
        "id": int(event),
        "discarded": True,
    }
    assert [i for i in attention(api, kind="dead_letter") if i["key"] == event] == []
    assert api.post(f"/status/dead-letters/{event}/discard").status_code == 404


def test_the_command_line_lists_the_same_and_decides_on_dead_letters(
    api: httpx.Client, settings: Settings, database_url: str
) -> None:
    env = {"DATABASE_URL": database_url}
    letter = dead_letter(database_url, "ledgerflow.commands.sms.dead")
    done = CliRunner().invoke(cli, ["attention", "--kind", "dead_letter"], env=env)
    assert done.exit_code == 0, done.output
    assert "dead_letter" in done.output and "not JSON" in done.output and letter in done.output
    refused = CliRunner().invoke(cli, ["attention", "--kind", "nonsense"], env=env)
    assert refused.exit_code != 0

    discarded = CliRunner().invoke(cli, ["dead-letter", "discard", letter], env=env)
    assert discarded.exit_code == 0 and f"{letter}: discarded" in discarded.output
    again = CliRunner().invoke(cli, ["dead-letter", "discard", letter], env=env)
    assert again.exit_code == 1 and f"no dead letter {letter}" in again.output


def test_the_command_line_resolves_invoices_through_the_billing_service(
    database_url: str,
) -> None:
    env = {"DATABASE_URL": database_url}
    resolve = ["invoice", "resolve", "987654", "--action", "mark_paid", "--note", "paid by wire"]
    unknown = CliRunner().invoke(cli, resolve, env=env)
    assert unknown.exit_code == 1 and unknown.output.startswith("987654: ")
    assert "987654" in unknown.output.split(": ", 1)[1]  # the service's not-found
    wrong = CliRunner().invoke(cli, [*resolve[:3], "--action", "forgive", "--note", "x"], env=env)
    assert wrong.exit_code == 2


def test_the_overview_counts_each_workflow_by_status_and_its_last_hour(
    api: httpx.Client, shop: httpx.Client, database_url: str
) -> None:
    sms = shop.post("/sms", json=new_sms()).json()

    def projected() -> bool:  # the read model, which the overview reads, has it sent
        with psycopg.connect(database_url) as conn:
            row = conn.execute("SELECT status FROM sms_view WHERE id = %s", (sms["id"],))
            return row.fetchone() == ("sent",)

    assert eventually(projected)
    now = datetime.now(UTC)  # the platform's clock is the system's here

    async def read() -> list[WorkflowOverview]:
        async with AsyncConnectionPool(database_url, open=False) as pool:
            return await OverviewReader(pool).overviews(now)

    found = {overview.workflow: overview for overview in asyncio.run(read())}
    assert set(found) == {"sms", "orders", "billing", "lending", "reimbursements"}
    with psycopg.connect(database_url) as conn:
        counted = dict(conn.execute("SELECT status, count(*) FROM sms_view GROUP BY status"))
        recent = conn.execute(
            "SELECT count(*) FROM sms_view WHERE finished_at > %s", (now - timedelta(hours=1),)
        ).fetchone()
    assert found["sms"].counts == counted and found["sms"].counts["sent"] >= 1
    assert recent is not None and sum(found["sms"].finished) == recent[0]
    assert len(found["sms"].finished) == 12 and found["sms"].finished[-1] >= 1  # just now
