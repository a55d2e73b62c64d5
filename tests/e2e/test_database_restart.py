"""The database restarts under load: a PostgreSQL this test started itself, on its own
port, is restarted (`pg_ctl restart -m fast`: every connection is cut) while SMS and
orders keep arriving at the platform, run as real processes the way `ledgerflow up` runs
them (the API, the SMS and orders workers, the read models, the relay, two simulators).

Then: every SMS and order the API accepted (2xx) is sent or placed, the read models
and the relay reach the head of their logs, and no process exited or was restarted: each
one reconnected by itself."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.migrations import migrate
from tests.databases import empty_database
from tests.e2e.processes import Processes, free_port, wait_for_http
from tests.harness import eventually
from tests.issuer import TokenIssuer
from tests.own_postgres import OwnPostgres

pytestmark = pytest.mark.e2e

ORDER = {
    "type": "limit",
    "side": "buy",
    "instrument": "US0378331005",
    "limit_price": "10.00",
    "quantity": 4,
}
ENV = {
    "LEDGERFLOW_WORK_LEASE_SECONDS": "3",
    "LEDGERFLOW_RETRY_BASE_SECONDS": "0.05",
    "LEDGERFLOW_RETRY_CAP_SECONDS": "0.5",
    "LEDGERFLOW_RATE_LIMIT_SMS": "100000/second",
    "LEDGERFLOW_RATE_LIMIT_ORDERS": "100000/second",
    "LEDGERFLOW_EXCHANGE_FILLS_PER_ORDER": "0",
    "LEDGERFLOW_LOG_LEVEL": "WARNING",
}
WORKERS = ("projections", "relay", "sms", "orders")
LOAD_SECONDS = 12.0
RESTART_AFTER_SECONDS = 4.0


class Load:
    """SMS and orders sent in a loop from a thread; what the API accepted is kept."""

    def __init__(self, api: httpx.Client, client: dict[str, str]) -> None:
        self.api = api
        self.client = client  # the headers of the client that sends them
        self.sms: list[str] = []
        self.orders: list[str] = []
        self.refused: dict[int | str, int] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="load", daemon=True)

    def _run(self) -> None:
        n = 0
        while not self.stop.is_set():
            n += 1
            self.send_one(n)
            time.sleep(0.02)

    def send_one(self, n: int) -> None:
        sms = {
            "message_id": f"restart-{n}-{uuid.uuid4().hex[:6]}",
            "phone_number": "+254712345678",
            "text": f"Payment {n} received.",
        }
        self._send("/sms", sms, self.sms)
        self._send("/orders", ORDER, self.orders)

    def _send(self, path: str, body: dict[str, Any], accepted: list[str]) -> None:
        try:
            answer = self.api.post(path, json=body, headers=self.client)
        except httpx.HTTPError as error:  # the API itself stays up: a slow answer at most
            self.refused[type(error).__name__] = self.refused.get(type(error).__name__, 0) + 1
            return
        if answer.status_code < 300:
            accepted.append(answer.json()["id"])
        else:
            self.refused[answer.status_code] = self.refused.get(answer.status_code, 0) + 1

    def __enter__(self) -> Load:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(60)


def unfinished(api: httpx.Client, load: Load) -> list[str]:
    """What the API accepted and is not sent (an SMS) or placed (an order) yet."""
    waiting = [i for i in load.sms if api.get(f"/sms/{i}").json()["status"] != "sent"]
    return waiting + [i for i in load.orders if not api.get(f"/orders/{i}").json()["placed_at"]]


def caught_up(api: httpx.Client) -> bool:
    followers = api.get("/status").json()["followers"]
    return len(followers) >= len(WORKERS) and not any(
        f["behind"] or f["set_aside"] for f in followers
    )


def test_a_database_restart_under_load_loses_nothing_and_restarts_no_process(
    tmp_path: Path, issuer: TokenIssuer
) -> None:
    with OwnPostgres() as server, empty_database(server.url) as database_url:
        migrate(database_url)
        api_port, sms_port, exchange_port = free_port(), free_port(), free_port()
        api_url = f"http://127.0.0.1:{api_port}"
        env = {
            "DATABASE_URL": database_url,
            **issuer.env,
            **ENV,
            "LEDGERFLOW_SMS_PROVIDER_URL": f"http://127.0.0.1:{sms_port}",
            "LEDGERFLOW_EXCHANGE_URL": f"http://127.0.0.1:{exchange_port}",
        }
        with Processes(tmp_path / "logs", env) as platform, platform.logs_on_failure():
            platform.start("sms-provider", "simulator", "sms-provider", "--port", str(sms_port))
            platform.start("exchange", "simulator", "exchange", "--port", str(exchange_port))
            api_process = platform.start(
                "api", "api", "--host", "127.0.0.1", "--port", str(api_port)
            )
            wait_for_http(f"http://127.0.0.1:{sms_port}/__admin/faults")
            wait_for_http(f"http://127.0.0.1:{exchange_port}/__admin/faults")
            wait_for_http(f"{api_url}/health", process=api_process)
            for name in WORKERS:
                platform.start(name, "worker", name)
            client = issuer.as_client("restart-load")
            with issuer.client(api_url, timeout=30) as api:  # an operator: reads everything
                # Every process running (not starting: that is another story) before the
                # restart: one SMS sent and one order placed, every follower at the head.
                first = Load(api, client)
                first.send_one(1)
                eventually(lambda: not unfinished(api, first), 60, 0.2, what="the first ones")
                eventually(lambda: caught_up(api), 60, 0.2, what="followers at the head")
                pids = {name: process.pid for name, process in platform.processes.items()}

                with Load(api, client) as load:
                    time.sleep(RESTART_AFTER_SECONDS)
                    accepted_before = len(load.sms) + len(load.orders)
                    server.restart()
                    time.sleep(LOAD_SECONDS - RESTART_AFTER_SECONDS)
                accepted_after = len(load.sms) + len(load.orders) - accepted_before
                assert accepted_before and accepted_after, (accepted_before, load.refused)
                # Every body was valid: the outage may answer 5xx, never a client's error.
                assert not [s for s in load.refused if isinstance(s, int) and s < 500], load.refused

                def finished() -> bool:
                    platform.check_alive()
                    return not unfinished(api, load)

                eventually(finished, timeout=120, interval=1.0, what="all sent or placed")
                eventually(lambda: caught_up(api), 60, 0.5, what="followers at the head")

            platform.check_alive()
            assert {name: p.pid for name, p in platform.processes.items()} == pids
