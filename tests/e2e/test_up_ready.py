"""`ledgerflow up` says it is up only once it is usable: right after it says so, the read
models hold every data set it loaded (the reference customers and invoices, the demo
banks), so the first list a developer asks for is complete."""

from __future__ import annotations

import queue
import subprocess
import threading
from pathlib import Path

import httpx
import pytest

from domain.access import Actor
from ledgerflow.supervisor import free_port
from processes.reimbursements.demo_banks import demo_banks
from tests.e2e.processes import bearer, ledgerflow_token, start_up


def _lines(stream: object) -> queue.Queue[str]:
    """The lines `stream` prints, as they come (read by a thread of their own)."""
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        for line in stream:  # type: ignore[attr-defined]
            lines.put(line)

    threading.Thread(target=read, daemon=True).start()
    return lines


@pytest.mark.e2e
def test_up_is_up_once_the_read_models_hold_the_data_sets(tmp_path: Path) -> None:
    port = free_port()
    data_dir = tmp_path / "data"
    up = start_up(data_dir, port)
    printed: list[str] = []
    try:
        lines = _lines(up.stdout)
        while not any("ledgerflow is up" in line for line in printed):
            printed.append(lines.get(timeout=240))
        # At once: no waiting, no retrying.
        operator = bearer(ledgerflow_token(data_dir, "--role", "operator"))
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=operator) as api:
            customers = api.get("/rest/v1/customers").json()
            invoices = api.get("/rest/v1/invoices").json()
            banks = api.get("/banks", params={"limit": 500}).json()["items"]
        assert len(customers) == 100
        assert len(invoices) == 1000
        loaded = demo_banks(Actor.system("test"))
        expected_banks = {a.uid for a in loaded if type(a).__name__ == "Bank"}
        assert {bank["uid"] for bank in banks} == expected_banks
    except BaseException:
        print("ledgerflow up printed:\n", "".join(printed))
        raise
    finally:
        up.terminate()
        try:
            up.wait(60)
        except subprocess.TimeoutExpired:
            up.kill()
