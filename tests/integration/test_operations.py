"""What operators rely on: health, the status view, the shared clock, prompt pickup of new
work."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import psycopg
import pytest

from adapters.work import WorkStore
from adapters.work.health import HealthStore, Observation
from domain.access import Actor, Role
from domain.billing.dataset import CustomerRecord, InvoiceRecord
from domain.health import BreakerSettings
from ledgerflow.bootstrap import platform_session
from ledgerflow.data_dir import write_database_url
from ledgerflow.settings import Settings
from ledgerflow.web import create_app
from ledgerflow.workflows.billing import BillingWorkflow
from simulators import sms_provider
from simulators.registry import running
from tests.harness import eventually, sms_status, workers
from tests.issuer import TokenIssuer
from tests.tcp_proxy import TcpProxy

# Who the tests' commands are recorded as, where it does not matter.
ACTOR = Actor.system("tests")


def test_health_follows_the_database(database_url: str, issuer: TokenIssuer) -> None:
    with TcpProxy(database_url) as proxy:
        settings = Settings(database_url=proxy.url, **issuer.trusted)
        # No token: the health check is public.
        with running(create_app(settings)) as url, httpx.Client(base_url=url, timeout=10) as api:
            assert api.get("/health").status_code == 200
            proxy.cut()
            down = api.get("/health")
            assert down.status_code == 503
            assert down.json()["code"] == "database_unavailable"
            proxy.restore()
            assert eventually(lambda: api.get("/health").status_code == 200, timeout=15)


def test_the_clock_moves_for_every_process_in_test_mode(
    database_url: str, issuer: TokenIssuer
) -> None:
    on = Settings(database_url=database_url, test_mode=True, **issuer.trusted)
    off = Settings(database_url=database_url, test_mode=False, **issuer.trusted)
    with (
        running(create_app(on)) as first_url,
        running(create_app(on)) as second_url,
        running(create_app(off)) as production_url,
        issuer.client(first_url) as first,
        issuer.client(second_url) as second,
    ):
        moved = first.put("/__admin/clock", json={"offset_seconds": 86400 * 30})
        assert moved.status_code == 200

        def second_sees_it() -> bool:
            now = datetime.fromisoformat(second.get("/__admin/clock").json()["now"])
            return (now - datetime.now(UTC)).days >= 29

        assert eventually(second_sees_it, timeout=5)
        auditor = first.put(
            "/__admin/clock", json={"offset_seconds": 5}, headers=issuer.headers(Role.AUDITOR)
        )
        assert auditor.status_code == 403  # an operator's action
        absent = httpx.put(
            f"{production_url}/__admin/clock",
            json={"offset_seconds": 5},
            headers=issuer.headers(),
        )
        assert absent.status_code == 405  # outside test mode only the clock's reading exists
        first.put("/__admin/clock", json={"offset_seconds": 0})


@pytest.mark.parametrize("idle_poll_seconds", [3600.0])
def test_new_work_is_picked_up_on_notify_not_by_polling(
    fresh_database_url: str,
    idle_poll_seconds: float,
    monkeypatch: pytest.MonkeyPatch,
    issuer: TokenIssuer,
) -> None:
    """With every idle poll an hour long, an SMS still goes out: only NOTIFY can have woken
    the idle worker and the projection."""
    from adapters import follower, work

    monkeypatch.setattr(
        work.WorkEngine, "__init__", _with_idle_poll(work.WorkEngine.__init__, idle_poll_seconds)
    )
    monkeypatch.setattr(
        follower.Follower,
        "__init__",
        _with_idle_poll(follower.Follower.__init__, idle_poll_seconds),
    )
    with running(sms_provider.create_app()) as simulator_url:
        settings = Settings(
            database_url=fresh_database_url, sms_provider_url=simulator_url, **issuer.trusted
        )
        with (
            running(create_app(settings)) as url,
            issuer.client(url) as api,
            workers(settings, "sms"),
        ):
            time.sleep(0.5)  # the worker is idle, in its hour-long wait
            body = {
                "message_id": str(uuid.uuid4()),
                "phone_number": "+254712345678",
                "text": "now",
            }
            sms = api.post("/sms", json=body, headers=issuer.as_client()).json()
            assert eventually(lambda: sms_status(api, sms["id"]) == "sent", timeout=30)


def _with_idle_poll(init: object, seconds: float) -> object:
    def patched(self: object, *args: object, **kwargs: object) -> None:
        kwargs["idle_poll_seconds"] = seconds
        init(self, *args, **kwargs)  # type: ignore[operator]

    return patched


async def _followers_and_work(url: str) -> None:
    """The billing read model caught up and then one event behind; four rows of work:
    one due, one leased, one failed and due again later, one polled later."""
    settings = Settings(database_url=url, billing_scheduler=False)
    async with platform_session(settings, only={"billing"}) as platform:
        service = platform.get(BillingWorkflow).service
        await service.load(
            [CustomerRecord(1, "EUR"), InvoiceRecord(1, 1, Decimal("10"), "EUR", False)], ACTOR
        )
        for follower in platform.projections():
            await follower.catch_up()
        await service.load([InvoiceRecord(2, 1, Decimal("20"), "EUR", False)], ACTOR)
        store = WorkStore(platform.pool)
        now = platform.clock.now()
        ids = [uuid.uuid4() for _ in range(4)]
        async with platform.pool.connection() as conn:
            await conn.cursor().executemany(
                "INSERT INTO ledgerflow_work (id, kind, aggregate_id, next_attempt,"
                " due_at) VALUES (%s, 'test.kind', %s, 1, %s)",
                [(i, i, now - timedelta(minutes=n)) for n, i in enumerate(ids)],
            )
        # Three of the four are leased; one of those stays in flight.
        leased = await store.lease(["test.kind"], "worker", now, timedelta(minutes=5), 3)
        failed, polled = leased[1:]
        await store.reschedule(failed, "worker", now + timedelta(minutes=1), "503 from the party")
        await store.poll_later(polled, "worker", now + timedelta(minutes=1))
        await store.close()
        # A third party failing twice in a row, enough to open its breaker.
        health = HealthStore(platform.pool, BreakerSettings(consecutive_failures=2))
        for _ in range(2):
            await health.observe([Observation("test-party", False, "503 from the party", now)])


def test_status_shows_each_followers_lag_and_the_work_waiting(
    fresh_database_url: str, issuer: TokenIssuer
) -> None:
    asyncio.run(_followers_and_work(fresh_database_url))
    settings = Settings(database_url=fresh_database_url, **issuer.trusted)
    with running(create_app(settings)) as url, httpx.Client(base_url=url) as console:
        status = httpx.get(f"{url}/status", headers=issuer.headers()).json()
        console.post("/console/login", data={"token": issuer.token(Role.AUDITOR)})
        overview = console.get("/console")
    printed = subprocess.run(
        [sys.executable, "-m", "ledgerflow.cli", "status"],
        env={**os.environ, "DATABASE_URL": fresh_database_url, "COLUMNS": "120"},
        capture_output=True,
        text=True,
        timeout=60,
    )

    [view] = [f for f in status["followers"] if f["follower"] == "billing_view"]
    assert view["log"] == "billing" and view["behind"] == 1
    assert view["head"] == view["position"] + 1
    [work] = status["work"]
    assert work["kind"] == "test.kind"
    assert (work["due"], work["in_flight"], work["scheduled"], work["failing"]) == (1, 1, 2, 1)
    assert datetime.fromisoformat(work["oldest_due_at"]) < datetime.fromisoformat(status["at"])
    [party] = status["third_parties"]
    assert (party["party"], party["state"], party["consecutive_failures"]) == (
        "test-party",
        "open",
        2,
    )
    assert party["last_error"] == "503 from the party"
    # The console's overview shows the same breaker: open, its failures and error.
    assert overview.status_code == 200 and "Third parties" in overview.text
    row = re.search(r'<tr data-party="test-party">(.*?)</tr>', overview.text, re.S)
    assert row, overview.text
    cells = [re.sub(r"<[^>]+>", "", cell).strip() for cell in row.group(1).split("</td>")]
    assert cells[:3] == ["test-party", "open", "2"]
    assert cells[3].endswith("ago") and cells[4] and cells[5] == "503 from the party"
    # `ledgerflow status` prints the same, as tables.
    assert printed.returncode == 0, printed.stderr
    [view_line] = [line for line in printed.stdout.splitlines() if "billing_view" in line]
    assert [cell.strip() for cell in view_line.split("│")[1:6]] == [
        "billing_view",
        "billing",
        str(view["position"]),
        str(view["head"]),
        "1",
    ]
    # (Its row in the work table, not in the block of the longest-waiting call.)
    [work_line] = [
        line for line in printed.stdout.splitlines() if "test.kind" in line and "│ 1 " in line
    ]
    assert [cell.strip() for cell in work_line.split("│")[1:6]] == ["test.kind", "1", "1", "2", "1"]
    [party_line] = [line for line in printed.stdout.splitlines() if "test-party" in line]
    assert [cell.strip() for cell in party_line.split("│")[1:4]] == ["test-party", "open", "2"]


def test_status_finds_the_database_of_up_and_wraps_in_a_narrow_terminal(
    fresh_database_url: str, tmp_path: Path
) -> None:
    asyncio.run(_followers_and_work(fresh_database_url))
    with psycopg.connect(fresh_database_url, autocommit=True) as conn:
        parked_id = uuid.uuid4()
        conn.execute(
            "INSERT INTO sms_view (id, message_id, phone_number, text, status, attempts,"
            " last_error, requested_at, updated_at, version)"
            " VALUES (%s, 'm-1', '+254712345678', 'hi', 'parked', 9,"
            " 'provider answered 503 for 120 s', now(), now(), 4)",
            (parked_id,),
        )
        row = conn.execute(
            "SELECT id FROM ledgerflow_work WHERE lease_owner IS NULL AND due_at <= now()"
        ).fetchone()
        assert row is not None
        due_id = row[0]
    environment = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}

    def status(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "ledgerflow.cli", "status", *args],
            env={**environment, "COLUMNS": "60"},
            capture_output=True,
            text=True,
            timeout=60,
        )

    missing = status("--data-dir", str(tmp_path))
    assert missing.returncode == 1
    assert "DATABASE_URL is not set" in missing.stderr and "database.url" in missing.stderr

    write_database_url(tmp_path, fresh_database_url)  # as `ledgerflow up` does
    assert (tmp_path / "database.url").stat().st_mode & 0o777 == 0o600
    printed = status("--data-dir", str(tmp_path))
    assert printed.returncode == 0, printed.stderr
    lines = printed.stdout.splitlines()
    assert max(len(line) for line in lines) <= 60, printed.stdout
    assert "…" not in printed.stdout  # wrapped, never cut
    # Whole, to copy: the follower, the due call waiting longest, the parked SMS and why.
    for text in ("billing_view", str(due_id), str(parked_id), "provider answered 503 for 120 s"):
        assert any(text in line for line in lines), f"{text!r} not whole in:\n{printed.stdout}"
