"""Each process's metrics, scraped over HTTP from real processes after real traffic: the
API's requests by route template, the SMS worker's outbound calls by outcome and the work
it parked, and the platform's state (lag, backlog, parked items) from the projections
worker alone."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from domain.access import Role
from tests.e2e.processes import Processes, free_port, wait_for_http
from tests.harness import eventually
from tests.issuer import TokenIssuer

pytestmark = pytest.mark.e2e

ENV = {
    # An SMS whose provider keeps failing is parked within a second.
    "LEDGERFLOW_SMS_RETRY_BUDGET_SECONDS": "1",
    "LEDGERFLOW_RETRY_BASE_SECONDS": "0.05",
    "LEDGERFLOW_RETRY_CAP_SECONDS": "0.2",
    "LEDGERFLOW_LOG_LEVEL": "WARNING",
}


@pytest.fixture()
def platform(fresh_database_url: str, tmp_path: Path, issuer: TokenIssuer) -> Iterator[Processes]:
    processes = Processes(tmp_path / "logs", env={"DATABASE_URL": fresh_database_url, **issuer.env})
    try:
        yield processes
    finally:
        processes.stop_all()


def scrape(url: str) -> list[Sample]:
    answer = httpx.get(url, timeout=10)
    answer.raise_for_status()
    return [
        sample
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    ]


def value(samples: list[Sample], name: str, **labels: str) -> float | None:
    """The value of the sample `name` whose labels include `labels` (None: none such)."""
    found = [s.value for s in samples if s.name == name and labels.items() <= s.labels.items()]
    assert len(found) <= 1, f"{name}{labels}: {len(found)} samples"
    return found[0] if found else None


def test_the_api_and_the_workers_serve_their_metrics_on_ports_of_their_own(
    platform: Processes, issuer: TokenIssuer, fresh_database_url: str
) -> None:
    sim_port, api_port = free_port(), free_port()
    sim_url, api_url = f"http://127.0.0.1:{sim_port}", f"http://127.0.0.1:{api_port}"
    metrics = {name: free_port() for name in ("api", "sms", "projections")}
    env = {**ENV, "LEDGERFLOW_SMS_PROVIDER_URL": sim_url}

    def metrics_env(name: str) -> dict[str, str]:
        return {**env, "LEDGERFLOW_METRICS_PORT": str(metrics[name])}

    def metrics_url(name: str) -> str:
        return f"http://127.0.0.1:{metrics[name]}/metrics"

    client = issuer.headers(Role.CLIENT, subject="shop", scopes=["sms:send", "sms:read"])
    with (
        platform.logs_on_failure(),
        httpx.Client(base_url=sim_url, timeout=10) as sim,
        httpx.Client(base_url=api_url, timeout=10, headers=client) as api,
    ):
        simulator = platform.start(
            "sms-provider", "simulator", "sms-provider", "--port", str(sim_port)
        )
        wait_for_http(f"{sim_url}/__admin/faults", process=simulator)
        started = platform.start("api", "api", "--port", str(api_port), env=metrics_env("api"))
        wait_for_http(f"{api_url}/health", process=started)
        platform.start("sms", "worker", "sms", env=metrics_env("sms"))
        platform.start("projections", "worker", "projections", env=metrics_env("projections"))

        def send(text: str) -> str:
            body = {"message_id": str(uuid.uuid4()), "phone_number": "+254712345678", "text": text}
            answer = api.post("/sms", json=body)
            assert answer.status_code == 202, answer.text
            return str(answer.json()["id"])

        def status_of(sms_id: str) -> str:
            return str(api.get(f"/sms/{sms_id}").json()["status"])

        sent = [send(f"hello {i}") for i in range(3)]
        for sms_id in sent:
            eventually(lambda sms_id=sms_id: status_of(sms_id) == "sent", 30, what="sent")
        assert httpx.post(f"{api_url}/sms", json={}).status_code == 401  # no token
        # The provider fails every call: the next SMS is parked once its budget is spent.
        assert sim.put("/__admin/faults", json={"error_rate": 1.0}).status_code == 200
        parked = send("never delivered")
        eventually(lambda: status_of(parked) == "parked", 30, what="the SMS parked")

        # The API: requests by route template, method and status, with their latency.
        served = scrape(metrics_url("api"))
        requests = "ledgerflow_http_request_duration_seconds"
        accepted = value(served, f"{requests}_count", route="/sms", method="POST", status="202")
        assert accepted == 4
        # Refused before routing, still under its route's template.
        assert value(served, f"{requests}_count", route="/sms", method="POST", status="401") == 1
        read = value(served, f"{requests}_count", route="/sms/{sms_id}", method="GET", status="200")
        assert read is not None and read >= 4
        buckets = [
            s
            for s in served
            if s.name == f"{requests}_bucket"
            and s.labels.items() >= {"route": "/sms", "status": "202"}.items()
        ]
        assert len(buckets) > 5 and max(s.value for s in buckets) == accepted
        assert value(served, "ledgerflow_follower_lag_events", follower="sms_view") is None
        # ... never on the API's own port.
        assert api.get("/metrics").status_code == 404

        # The SMS worker: its calls by outcome, and the work it parked.
        worked = scrape(metrics_url("sms"))
        calls = "ledgerflow_outbound_call_duration_seconds_count"
        assert value(worked, calls, kind="sms.send", outcome="succeeded") == 3
        failed = value(worked, calls, kind="sms.send", outcome="failed_transiently")
        assert failed is not None and failed >= 1
        assert value(worked, "ledgerflow_work_parked_total", kind="sms.send") == 1

        # The platform's state, from the projections worker (read when scraped): with a
        # call of a kind no worker here makes, due for a minute.
        with psycopg.connect(fresh_database_url, autocommit=True) as db:
            db.execute(
                "INSERT INTO ledgerflow_work (id, kind, aggregate_id, payload, next_attempt,"
                " due_at) VALUES (%s, 'test.kind', %s, '{}', 1, now() - interval '1 minute')",
                (uuid.uuid4(), uuid.uuid4()),
            )

        def parked_sms() -> list[Sample] | None:
            state = scrape(metrics_url("projections"))
            count = value(state, "ledgerflow_parked", workflow="sms", state="parked")
            return state if count == 1 else None

        state = eventually(parked_sms, 30, 0.5, what="the parked SMS among the metrics")
        assert value(state, "ledgerflow_status_up") == 1
        lag = value(state, "ledgerflow_follower_lag_events", follower="sms_view", log="sms")
        assert lag is not None and lag >= 0
        set_aside = value(state, "ledgerflow_follower_set_aside", follower="sms_view")
        assert set_aside == 0
        backlog = "ledgerflow_work_backlog"
        assert value(state, backlog, kind="test.kind", state="due") == 1
        assert value(state, backlog, kind="test.kind", state="in_flight") == 0
        assert value(state, backlog, kind="test.kind", state="scheduled") == 0
        waited = value(state, "ledgerflow_work_oldest_due_age_seconds", kind="test.kind")
        assert waited is not None and waited >= 60
        # The SMS provider's breaker: in exactly one state.
        breaker = "ledgerflow_third_party_breaker"
        states = [
            value(state, breaker, party="sms-provider", state=s)
            for s in ("closed", "open", "half_open")
        ]
        assert sorted(states) == [0, 0, 1], states
        for workflow, waiting in (
            ("billing", "needs_attention"),
            ("lending", "needs_attention"),
            ("reimbursements", "payment_failed"),
        ):
            assert value(state, "ledgerflow_parked", workflow=workflow, state=waiting) == 0
