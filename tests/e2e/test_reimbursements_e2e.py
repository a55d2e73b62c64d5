"""The reimbursements workflow with the platform as real processes and a crash.

`ledgerflow seed demo-banks`, the API, the payment rail and mailbox simulators (faulty:
errors, resets and lost responses) and a reimbursements worker run as processes. While
approved reimbursements are being paid the worker is killed with SIGKILL (calls in
flight) and another one started. Then every reimbursement is `paid` with exactly one
payment per idempotency key at the rail, exactly one `PaymentSucceeded` in its history,
and exactly one distinct mail (Message-ID) in the mailbox.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from domain.access import Role
from domain.reimbursements.reference import reference_id
from tests.e2e.processes import Processes, free_port, wait_for_http
from tests.harness import eventually
from tests.issuer import TokenIssuer

pytestmark = pytest.mark.e2e

COUNT = 40
ACCOUNTS = [reference_id("account", f"nordic-m-{n}-acct") for n in (1, 2, 3)]
MEMBERS = [reference_id("member", f"nordic-m-{n}") for n in (1, 2, 3)]  # each account's
ADMIN = reference_id("administrator", "nordic-admin-1")
NORDIC = reference_id("bank", "nordic-coop")
FAULTS = {"seed": 6, "error_rate": 0.1, "reset_rate": 0.05, "lost_response_rate": 0.1}
ENV = {
    "LEDGERFLOW_WORKER_CONCURRENCY": "20",
    "LEDGERFLOW_WORK_LEASE_SECONDS": "3",
    "LEDGERFLOW_RETRY_BASE_SECONDS": "0.05",
    "LEDGERFLOW_RETRY_CAP_SECONDS": "0.3",
    "LEDGERFLOW_RETRY_BUDGET_SECONDS": "60",
    "LEDGERFLOW_OUTBOUND_TIMEOUT_SECONDS": "2",
    "LEDGERFLOW_REIMBURSEMENTS_PAYMENT_POLL_SECONDS": "0.2",
    "LEDGERFLOW_PAYMENT_RAIL_CREATE_DELAY_SECONDS": "0.3",
    "LEDGERFLOW_PAYMENT_RAIL_SETTLE_SECONDS": "0.3",
    "LEDGERFLOW_PAYMENT_RAIL_FAILURE_RATE": "0",
    "LEDGERFLOW_LOG_LEVEL": "WARNING",
}


@pytest.fixture()
def platform(fresh_database_url: str, tmp_path: Path, issuer: TokenIssuer) -> Iterator[Processes]:
    env = {"DATABASE_URL": fresh_database_url, **ENV, **issuer.env}
    processes = Processes(tmp_path / "logs", env=env)
    try:
        yield processes
    finally:
        processes.stop_all()


def test_every_approved_reimbursement_is_paid_once_through_faults_and_a_crash(
    platform: Processes, fresh_database_url: str, issuer: TokenIssuer
) -> None:
    rail_port, box_port, api_port = free_port(), free_port(), free_port()
    rail_url, box_url = f"http://127.0.0.1:{rail_port}", f"http://127.0.0.1:{box_port}"
    api_url = f"http://127.0.0.1:{api_port}"
    env = {"LEDGERFLOW_PAYMENT_RAIL_URL": rail_url, "LEDGERFLOW_MAILBOX_URL": box_url}
    with (
        platform.logs_on_failure(),
        httpx.Client(base_url=rail_url, timeout=10) as rail,
        httpx.Client(base_url=box_url, timeout=10) as box,
        issuer.client(api_url, timeout=15) as api,
    ):
        rail_process = platform.start(
            "payment-rail", "simulator", "payment-rail", "--port", str(rail_port)
        )
        box_process = platform.start("mailbox", "simulator", "mailbox", "--port", str(box_port))
        wait_for_http(f"{rail_url}/__admin/faults", process=rail_process)
        wait_for_http(f"{box_url}/__admin/faults", process=box_process)
        for client in (rail, box):
            assert client.put("/__admin/faults", json=FAULTS).status_code == 200
        seeded = subprocess.run(
            [sys.executable, "-m", "ledgerflow.cli", "seed", "demo-banks"],
            env={**os.environ, **platform.env},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert seeded.returncode == 0, seeded.stdout + seeded.stderr
        api_process = platform.start(
            "api", "api", "--host", "127.0.0.1", "--port", str(api_port), env=env
        )
        wait_for_http(f"{api_url}/health", process=api_process)
        first = platform.start("worker-1", "worker", "reimbursements", env=env)

        ids = []
        for i in range(COUNT):
            body = {
                "bank_account_id": str(ACCOUNTS[i % len(ACCOUNTS)]),
                "amount": {"amount": f"{i + 1}.25", "currency": "DKK"},  # Danish accounts
                "description": f"Expense {i}",
            }
            member = issuer.headers(Role.MEMBER, member_id=MEMBERS[i % len(MEMBERS)])
            created = api.post("/reimbursements", json=body, headers=member)
            assert created.status_code == 201, created.text
            ids.append(created.json()["id"])
        admin = issuer.headers(Role.BANK_ADMIN, bank_id=NORDIC, administrator_id=ADMIN)
        for rid in ids:
            approved = api.post(f"/reimbursements/{rid}/approve", headers=admin)
            assert approved.status_code == 200, approved.text

        def busy() -> int | None:
            platform.check_alive()
            created = rail.get("/__admin/ledger").json()["count"]
            return created if created >= COUNT // 3 else None

        eventually(busy, 60, 0.02, what="the worker to have created a third of the payments")
        platform.sigkill(first.name)
        platform.start("worker-2", "worker", "reimbursements", env=env)

        def all_paid() -> list[dict[str, Any]] | None:
            platform.check_alive("payment-rail", "mailbox", "api", "worker-2")
            states = [api.get(f"/reimbursements/{rid}").json() for rid in ids]
            done = all(
                s["payment_status"] == "paid" and s["notifications"].get("email:approved") == "sent"
                for s in states
            )
            return states if done else None

        states = eventually(all_paid, 90, 0.25, what="every reimbursement paid and notified")
        keys = Counter(item["key"] for item in rail.get("/__admin/ledger").json()["items"])
        assert all(keys[state["payment_id"]] == 1 for state in states), keys
        mails = Counter(item["key"] for item in box.get("/__admin/ledger").json()["items"])
        assert sorted(mails) == sorted(f"<reimbursement-{rid}-approved@ledgerflow>" for rid in ids)
        assert set(mails.values()) == {1}
        for state in states:
            types = [e["type"] for e in api.get(f"/reimbursements/{state['id']}/events").json()]
            assert (
                types.count("PaymentSucceeded") == 1 and types.count("ReimbursementApproved") == 1
            )
            with_phone = state["bank_account_id"] != str(ACCOUNTS[1])  # nordic-m-2 has none
            assert ("sms:approved" in state["notifications"]) == with_phone
