"""The SMS provider fails, as real processes see it: two SMS workers sharing one breaker.

- An outage (every call answered 503) then recovery: every SMS is sent, none parked,
  and while the breaker was open the provider received only probes (counted in its
  stats), however many SMS waited.
- A steady fault mix (30% errors, 10% answers lost after the send, 5% resets) over a few
  hundred SMS: every one is sent, none parked.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from domain.access import Role
from tests.e2e.processes import Processes, free_port, wait_for_http
from tests.harness import eventually
from tests.issuer import TokenIssuer

pytestmark = pytest.mark.e2e

PROBES = 2
OPEN_SECONDS = 1.0
CONCURRENCY = 20  # per worker
CONSECUTIVE = 10

WORKER_ENV = {
    "LEDGERFLOW_WORKER_CONCURRENCY": str(CONCURRENCY),
    "LEDGERFLOW_WORK_LEASE_SECONDS": "5",
    "LEDGERFLOW_RETRY_BASE_SECONDS": "0.05",
    "LEDGERFLOW_RETRY_CAP_SECONDS": "1",
    "LEDGERFLOW_OUTBOUND_TIMEOUT_SECONDS": "1",
    "LEDGERFLOW_BREAKER_CONSECUTIVE_FAILURES": str(CONSECUTIVE),
    "LEDGERFLOW_BREAKER_OPEN_SECONDS": str(OPEN_SECONDS),
    "LEDGERFLOW_BREAKER_PROBES": str(PROBES),
    "LEDGERFLOW_RATE_LIMIT_SMS": "100000/second",
    "LEDGERFLOW_LOG_LEVEL": "WARNING",
}


@pytest.fixture()
def platform(fresh_database_url: str, tmp_path: Path, issuer: TokenIssuer) -> Iterator[Processes]:
    processes = Processes(tmp_path / "logs", env={"DATABASE_URL": fresh_database_url, **issuer.env})
    try:
        yield processes
    finally:
        processes.stop_all()


class Running:
    def __init__(self, platform: Processes, sim: httpx.Client, api: httpx.Client) -> None:
        self.platform, self.sim, self.api = platform, sim, api

    def post(self, count: int) -> list[str]:
        def post(i: int) -> str:
            body = {
                "message_id": f"e2e-{uuid.uuid4()}",
                "phone_number": "+254712345678",
                "text": f"Your code is {i:04d}",
            }
            answer = self.api.post("/sms", json=body)
            assert answer.status_code == 202, answer.text
            return str(answer.json()["id"])

        with ThreadPoolExecutor(max_workers=16) as pool:
            return list(pool.map(post, range(count)))

    def requests(self) -> int:
        return int(self.sim.get("/__admin/stats").json()["requests"])

    def statuses(self, ids: list[str]) -> Counter[str]:
        with ThreadPoolExecutor(max_workers=16) as pool:
            return Counter(pool.map(lambda i: self.api.get(f"/sms/{i}").json()["status"], ids))


def start(platform: Processes, sim_url: str, api_url: str, workers: int) -> None:
    env = {**WORKER_ENV, "LEDGERFLOW_SMS_PROVIDER_URL": sim_url}
    simulator = platform.start(
        "sms-provider", "simulator", "sms-provider", "--port", sim_url.rsplit(":", 1)[1]
    )
    wait_for_http(f"{sim_url}/__admin/faults", process=simulator)
    api = platform.start(
        "api", "api", "--host", "127.0.0.1", "--port", api_url.rsplit(":", 1)[1], env=env
    )
    assert wait_for_http(f"{api_url}/health", process=api).status_code == 200
    platform.start("projections", "worker", "projections", env=env)
    for n in range(workers):
        platform.start(f"sms-{n + 1}", "worker", "sms", env=env)


def breaker(db: psycopg.Connection[Any]) -> str | None:
    row = db.execute(
        "SELECT state FROM ledgerflow_third_party_health WHERE party = 'sms-provider'"
    ).fetchone()
    return row[0] if row else None


def test_an_outage_sends_only_probes_and_every_sms_goes_out_after_it(
    platform: Processes, fresh_database_url: str, issuer: TokenIssuer
) -> None:
    sim_url, api_url = f"http://127.0.0.1:{free_port()}", f"http://127.0.0.1:{free_port()}"
    with (
        platform.logs_on_failure(),
        httpx.Client(base_url=sim_url, timeout=10) as sim,
        issuer.client(api_url, timeout=15, headers=issuer.as_client()) as api,
        psycopg.connect(fresh_database_url, autocommit=True) as db,
    ):
        start(platform, sim_url, api_url, workers=2)
        running = Running(platform, sim, api)
        assert sim.put("/__admin/faults", json={"error_rate": 1.0}).status_code == 200

        ids = running.post(300)
        eventually(
            lambda: breaker(db) == "open" or breaker(db) == "half_open",
            30,
            0.05,
            what="the breaker to open",
        )
        opened_with = running.requests()
        outage = 6.0
        time.sleep(outage)  # the outage goes on, 300 SMS waiting
        during = running.requests() - opened_with
        # Open: a round of probes per wait, whichever worker sends it (and the calls in
        # flight when it opened, at most both workers' slots).
        rounds = outage / OPEN_SECONDS + 1
        assert during <= PROBES * rounds + 2 * CONCURRENCY, during
        assert opened_with <= 2 * CONCURRENCY + CONSECUTIVE + PROBES, opened_with
        status = api.get("/status", headers=issuer.headers(Role.OPERATOR)).json()
        [party] = [p for p in status["third_parties"] if p["party"] == "sms-provider"]
        assert party["state"] in ("open", "half_open")

        assert sim.put("/__admin/faults", json={"error_rate": 0.0}).status_code == 200
        eventually(
            lambda: running.statuses(ids) == {"sent": len(ids)},
            60,
            0.5,
            what="every SMS to be sent",
        )
        assert breaker(db) == "closed"
        ledger = Counter(item["key"] for item in sim.get("/__admin/ledger").json()["items"])
        assert set(ledger) == set(ids)  # each sent, by its key
        print(f"\noutage e2e: calls when it opened {opened_with}, during {outage}s open {during}")


FAULT_MIX = {"seed": 7, "error_rate": 0.3, "lost_response_rate": 0.1, "reset_rate": 0.05}


def test_a_fault_mix_over_hundreds_of_sms_sends_every_one(
    platform: Processes, fresh_database_url: str, issuer: TokenIssuer
) -> None:
    sim_url, api_url = f"http://127.0.0.1:{free_port()}", f"http://127.0.0.1:{free_port()}"
    with (
        platform.logs_on_failure(),
        httpx.Client(base_url=sim_url, timeout=10) as sim,
        issuer.client(api_url, timeout=15, headers=issuer.as_client()) as api,
    ):
        start(platform, sim_url, api_url, workers=1)
        running = Running(platform, sim, api)
        assert sim.put("/__admin/faults", json=FAULT_MIX).status_code == 200
        ids = running.post(300)
        eventually(
            lambda: running.statuses(ids) == {"sent": len(ids)},
            90,
            0.5,
            what="every SMS to be sent",
        )
        stats = sim.get("/__admin/stats").json()
        assert stats["errors"] > 0 and stats["lost_responses"] > 0 and stats["resets"] > 0
        ledger = Counter(item["key"] for item in sim.get("/__admin/ledger").json()["items"])
        assert set(ledger) == set(ids) and set(ledger.values()) == {1}  # keys honoured
