"""Orders with the platform as real processes: the orders worker is killed (SIGKILL)
with placements in flight at the exchange's 0.5 s, another one is started, and every
accepted order is placed exactly once (the exchange is idempotent by order id)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import httpx
import pytest

from tests.e2e.processes import Processes, free_port, wait_for_http
from tests.harness import eventually
from tests.issuer import TokenIssuer

pytestmark = pytest.mark.e2e

ORDERS = 60
BODY = {
    "type": "limit",
    "side": "buy",
    "instrument": "US0378331005",
    "limit_price": "10.00",
    "quantity": 4,
}
WORKER_ENV = {
    "LEDGERFLOW_WORK_LEASE_SECONDS": "2",
    "LEDGERFLOW_RETRY_BASE_SECONDS": "0.05",
    "LEDGERFLOW_RETRY_CAP_SECONDS": "0.5",
}


def test_a_killed_orders_worker_loses_no_order(
    database_url: str, tmp_path: Path, issuer: TokenIssuer
) -> None:
    api_port, exchange_port = free_port(), free_port()
    exchange_url = f"http://127.0.0.1:{exchange_port}"
    env = {
        "DATABASE_URL": database_url,
        **issuer.env,
        "LEDGERFLOW_EXCHANGE_URL": exchange_url,
        "LEDGERFLOW_EXCHANGE_FILLS_PER_ORDER": "0",
        **WORKER_ENV,
    }
    with Processes(tmp_path / "logs", env) as processes:
        processes.start("exchange", "simulator", "exchange", "--port", str(exchange_port))
        processes.start("api", "api", "--port", str(api_port))
        wait_for_http(f"{exchange_url}/__admin/faults")
        wait_for_http(f"http://127.0.0.1:{api_port}/health")
        processes.start("worker-1", "worker", "orders")
        with issuer.client(
            f"http://127.0.0.1:{api_port}", timeout=10, headers=issuer.as_client()
        ) as api:
            ids = []
            for _ in range(ORDERS):
                created = api.post("/orders", json=BODY)
                assert created.status_code == 201, created.text
                ids.append(created.json()["id"])

            def ledger() -> Counter[str]:
                items = httpx.get(f"{exchange_url}/__admin/ledger").json()["items"]
                return Counter(entry["key"] for entry in items)

            def stats() -> int:
                return int(httpx.get(f"{exchange_url}/__admin/stats").json()["requests"])

            eventually(lambda: stats() >= ORDERS // 3, timeout=60)
            processes.sigkill("worker-1")  # placements in flight (0.5 s each)
            processes.start("worker-2", "worker", "orders")

            def placed() -> bool:
                return all(api.get(f"/orders/{i}").json()["exchange_order_id"] for i in ids)

            assert eventually(placed, timeout=90, interval=0.5)
            assert all(ledger()[i] == 1 for i in ids)
