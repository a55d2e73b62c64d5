"""Monthly billing with the platform as real processes: FOUR billing workers on one
period, and a payment provider that fails 20% of calls with network errors (half of them
after the charge took effect: the answer is lost).

The provider does NOT honour idempotency keys, so a second charge of an invoice would
show in its ledger. Both ways a provider can be:
- it answers charges by key: unknown outcomes are reconciled, so no invoice is charged
  twice, every one ends paid, and none waits in `needs_attention`;
- it cannot be asked by key: nothing is charged blindly, so no invoice is charged twice,
  and every invoice ends paid or in `needs_attention` (`outcome_unknown`) with the
  unresolved attempt as evidence, for an operator to settle.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from domain.billing.money import period_of
from tests.e2e.processes import Processes, free_port, wait_for_http
from tests.harness import eventually
from tests.issuer import TokenIssuer

pytestmark = pytest.mark.e2e

WORKERS = 4
FAULTS = {"seed": 20261201, "latency_ms": 5, "reset_rate": 0.1, "lost_response_rate": 0.1}
ENV = {
    "LEDGERFLOW_WORKER_CONCURRENCY": "25",
    "LEDGERFLOW_WORK_LEASE_SECONDS": "5",
    "LEDGERFLOW_RETRY_BASE_SECONDS": "0.05",
    "LEDGERFLOW_RETRY_CAP_SECONDS": "0.5",
    "LEDGERFLOW_RETRY_BUDGET_SECONDS": "60",
    "LEDGERFLOW_OUTBOUND_TIMEOUT_SECONDS": "1",
    "LEDGERFLOW_BILLING_SCHEDULER": "false",
    "LEDGERFLOW_LOG_LEVEL": "WARNING",
    "LEDGERFLOW_SIDE_POOL_SIZE": "2",
}


@pytest.mark.parametrize("lookup_by_key", [True, False], ids=["lookup", "no-lookup"])
def test_four_worker_processes_charge_every_invoice_at_most_once(
    fresh_database_url: str, tmp_path: Path, lookup_by_key: bool, issuer: TokenIssuer
) -> None:
    sim_port, api_port = free_port(), free_port()
    sim_url, api_url = f"http://127.0.0.1:{sim_port}", f"http://127.0.0.1:{api_port}"
    env = {
        **ENV,
        **issuer.env,
        "DATABASE_URL": fresh_database_url,
        "LEDGERFLOW_PAYMENT_PROVIDER_URL": sim_url,
        "LEDGERFLOW_PAYMENT_PROVIDER_HONOUR_IDEMPOTENCY_KEYS": "false",
        "LEDGERFLOW_PAYMENT_PROVIDER_LOOKUP_BY_KEY": str(lookup_by_key).lower(),
    }
    with Processes(tmp_path / "logs", env) as processes, issuer.client(api_url) as api:
        simulator = processes.start(
            "simulator", "simulator", "payment-provider", "--port", str(sim_port)
        )
        wait_for_http(f"{sim_url}/__admin/faults", process=simulator)
        subprocess.run(
            [sys.executable, "-m", "ledgerflow.cli", "seed", "antaeus"],
            env={**os.environ, **processes.env},
            check=True,
            capture_output=True,
        )
        api_process = processes.start("api", "api", "--port", str(api_port))
        processes.start("projections", "worker", "projections")
        for n in range(WORKERS):
            processes.start(f"billing-{n}", "worker", "billing")
        wait_for_http(f"{api_url}/health", process=api_process)
        httpx.put(f"{sim_url}/__admin/faults", json=FAULTS).raise_for_status()

        # The read model may still be applying the data set: wait until it shows all of it.
        def all_pending() -> list[int] | None:
            invoices = api.get("/rest/v1/invoices").json()
            pending = [i["id"] for i in invoices if i["status"] == "PENDING"]
            return pending if len(pending) == 100 else None

        pending = eventually(all_pending, timeout=30, what="the data set's 100 pending invoices")
        # The current month: the only one a platform that began billing today may bill.
        period = period_of(datetime.now(UTC))
        run = api.post("/billing/runs", json={"period": period}).json()

        def settled() -> dict[str, int] | None:
            processes.check_alive()
            progress = api.get(f"/billing/runs/{run['id']}").json()
            counts: dict[str, int] = progress["counts"]
            done = sum(n for status, n in counts.items() if status != "charging")
            return counts if progress["selected"] == 100 and done == 100 else None

        counts = eventually(settled, timeout=90, interval=0.5)
        stats = httpx.get(f"{sim_url}/__admin/stats").json()
        ledger = httpx.get(f"{sim_url}/__admin/ledger").json()["items"]
        waiting = api.get("/invoices", params={"status": "needs_attention", "limit": 100}).json()[
            "items"
        ]

    charged = Counter(int(entry["request"]["invoice_id"]) for entry in ledger)
    assert max(charged.values()) == 1, [i for i, n in charged.items() if n > 1]
    assert stats["resets"] + stats["lost_responses"] > 0  # the faults did happen
    if lookup_by_key:
        assert counts == {"paid": 100}, counts
        assert sorted(charged) == sorted(pending)
        return
    # Every invoice not paid names why: its last charge went out and nobody can tell
    # whether it took effect. The evidence is the unresolved attempt with its key.
    assert set(counts) <= {"paid", "needs_attention"}, counts
    assert 0 < counts.get("needs_attention", 0) <= stats["resets"] + stats["lost_responses"]
    assert len(waiting) == counts["needs_attention"]
    for invoice in waiting:
        assert invoice["reason"] == "outcome_unknown", invoice
        last = invoice["attempts"][-1]
        assert last["outcome"] == "unknown" and last["detail"], invoice
        assert last["key"] == f"invoice-{invoice['id']}-cycle-1", invoice
    # Every paid invoice was charged, exactly once; a waiting one at most once.
    paid = set(pending) - {invoice["id"] for invoice in waiting}
    assert paid <= set(charged)
