"""Read models: filled live in batches, and rebuilt from the log to the same rows."""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import uuid4

import psycopg
import pytest
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from adapters.eventstore import open_application
from adapters.follower import Follower
from domain.access import Actor
from domain.sms.aggregate import Sms
from ledgerflow.settings import Settings
from processes.billing.application import BillingApplication
from processes.sms.application import SmsApplication
from projections.billing import BillingView
from projections.rows import insert_rows, update_grouped
from projections.sms import SmsView
from tests.harness import eventually, workers
from tests.invoice_histories import ACTIONS, apply_step, new_invoice

# Who the tests' commands are recorded as, where it does not matter.
ACTOR = Actor.system("tests")

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def sms_in_every_state(count: int) -> list[Sms]:
    """SMS whose histories cover every event type, some with several events."""
    batch = []
    for n in range(count):
        sms = Sms(
            message_id=f"p-{n}",
            phone_number="+254712345678",
            text=f"text {n}",
            correlation_id=None if n % 3 else f"c-{n}",
            requested_at=T0,
            actor=ACTOR,
        )
        at = T0 + timedelta(seconds=n)
        match n % 5:
            case 0:
                sms.record_sent(1, f"SM{n}", at, actor=ACTOR)
            case 1:
                sms.record_transient_failure(1, "503", at, at + timedelta(seconds=1), actor=ACTOR)
                sms.record_sent(2, f"SM{n}", at + timedelta(seconds=1), actor=ACTOR)
            case 2:
                sms.record_rejection(1, "400 recipient rejected", at, actor=ACTOR)
            case 3:
                sms.park(1, "gave up", at, actor=ACTOR)
                sms.retry(at, actor=ACTOR)
                sms.record_transient_failure(
                    2, "timeout", at, at + timedelta(seconds=5), actor=ACTOR
                )
            case _:
                pass  # still requested
        batch.append(sms)
    return batch


def view_rows(database_url: str) -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(database_url) as conn:
        return conn.execute("SELECT * FROM sms_view ORDER BY id").fetchall()


def test_a_rebuilt_projection_equals_the_live_one(fresh_database_url: str) -> None:
    settings = Settings(database_url=fresh_database_url)
    app = open_application(SmsApplication, fresh_database_url)
    try:
        with workers(settings, "projections"):
            # Written while the live projection runs, in many small transactions.
            aggregates = sms_in_every_state(300)
            for start in range(0, len(aggregates), 7):
                app.save(*aggregates[start : start + 7])
            head = app.recorder.max_notification_id()
            eventually(lambda: asyncio.run(_position(app, fresh_database_url)) == head)
        live = view_rows(fresh_database_url)
        assert len(live) == 300

        batches: list[int] = []
        applied = asyncio.run(_rebuild(app, fresh_database_url, batch_size=100, seen=batches))
        rebuilt = view_rows(fresh_database_url)
    finally:
        app.close()
    assert applied == head
    assert len(batches) == -(-applied // 100)  # 100 events per transaction, not one
    assert rebuilt == live


def test_the_cli_rebuilds_with_a_progress_bar(fresh_database_url: str) -> None:
    app = open_application(SmsApplication, fresh_database_url)
    try:
        app.save(*sms_in_every_state(50))
        head = app.recorder.max_notification_id()
    finally:
        app.close()
    env = {**os.environ, "DATABASE_URL": fresh_database_url, "COLUMNS": "100"}
    done = subprocess.run(
        [sys.executable, "-m", "ledgerflow.cli", "projections", "rebuild", "sms_view"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert f"sms_view: {head} events applied" in done.stdout
    assert f"{head}/{head}" in done.stdout  # the progress bar reached the end
    assert len(view_rows(fresh_database_url)) == 50

    unknown = subprocess.run(
        [sys.executable, "-m", "ledgerflow.cli", "projections", "rebuild", "nope"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert unknown.returncode != 0 and "sms_view" in unknown.stderr + unknown.stdout


async def _pool(url: str) -> AsyncConnectionPool[Any]:
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
        url, min_size=1, max_size=2, open=False, kwargs={"autocommit": True}
    )
    await pool.open()
    return pool


async def _position(app: SmsApplication, url: str) -> int:
    pool = await _pool(url)
    try:
        return await Follower(app, SmsView(), pool).position()
    finally:
        await pool.close()


async def _rebuild(app: SmsApplication, url: str, *, batch_size: int, seen: list[int]) -> int:
    pool = await _pool(url)
    try:
        follower = Follower(app, SmsView(), pool, batch_size=batch_size)
        return await follower.rebuild(lambda position, head: seen.append(position))
    finally:
        await pool.close()


def test_rows_written_as_json_come_back_exactly_as_given(fresh_database_url: str) -> None:
    """Every column type the read models use survives the trip through one JSON array."""

    class Colour(Enum):
        RED = "red"

    columns = ("id", "name", "amount", "at", "flag", "big", "n", "note")
    first, second = uuid4(), uuid4()
    rows = [
        {
            "id": first,
            "name": 'quote " and é, \\ and 🙂',
            "amount": Decimal("12345678901234.000001"),
            "at": datetime(2026, 11, 1, 12, 30, 15, 123456, tzinfo=UTC),
            "flag": True,
            "big": 2**62,
            "n": -3,
            "note": None,
        },
        {
            "id": second,
            "name": Colour.RED,
            "amount": Decimal("-0.10"),
            "at": datetime(2026, 11, 1, 14, 0, tzinfo=UTC) + timedelta(hours=1),
            "flag": False,
            "big": 0,
            "n": 0,
            "note": "kept",
        },
    ]

    async def write() -> list[tuple[Any, ...]]:
        async with await psycopg.AsyncConnection.connect(fresh_database_url) as conn:
            await conn.execute(
                "CREATE TABLE json_rows (id uuid PRIMARY KEY, name text, amount numeric,"
                " at timestamptz, flag boolean, big bigint, n integer, note text)"
            )
            cur = conn.cursor()
            await insert_rows(cur, "json_rows", columns, rows)
            await insert_rows(cur, "json_rows", columns, [{**rows[0], "name": "ignored"}])
            await update_grouped(
                cur, "json_rows", [{"id": second, "note": None, "n": 7}, {"id": first, "n": 8}]
            )
            with pytest.raises(ValueError, match="twice"):
                await update_grouped(cur, "json_rows", [{"id": first}, {"id": first}])
            found = await cur.execute(f"SELECT {', '.join(columns)} FROM json_rows ORDER BY n")
            return await found.fetchall()

    stored = asyncio.run(write())
    assert stored == [
        (*[rows[1][c] for c in columns[:1]], "red", *[rows[1][c] for c in columns[2:6]], 7, None),
        (*[rows[0][c] for c in columns[:6]], 8, None),
    ]


def test_the_billing_read_model_says_what_the_invoices_say(fresh_database_url: str) -> None:
    """Invoices driven through random commands, their events interleaved and folded in
    batches of a few events (one invoice's events spread over many batches): every row is
    the state of its aggregate as loaded from the log."""
    rng = random.Random(11)
    app = open_application(BillingApplication, fresh_database_url)
    try:
        invoices = [new_invoice(ref_id) for ref_id in range(1, 61)]
        app.save(*invoices)
        for minute in range(1, 16):
            for invoice in invoices:
                for _ in range(rng.randrange(4)):
                    step = (rng.choice(ACTIONS), rng.randrange(12))
                    apply_step(invoice, step, T0 + timedelta(minutes=minute))
            app.save(*invoices)
        stored = [app.get_invoice(invoice.id) for invoice in invoices]
        asyncio.run(_rebuild_billing(app, fresh_database_url, batch_size=5))
    finally:
        app.close()
    with psycopg.connect(fresh_database_url, row_factory=dict_row) as conn:
        rows = {row["id"]: row for row in conn.execute("SELECT * FROM billing_invoices")}
        attempts = conn.execute(
            "SELECT invoice_id, attempt, cycle, key, started_at, outcome, detail"
            " FROM billing_charge_attempts ORDER BY invoice_id, attempt"
        ).fetchall()
    for invoice in stored:
        row = rows[invoice.id]
        assert (row["status"], row["cycle"], row["attempts"], row["run_id"]) == (
            invoice.status.value,
            invoice.cycle,
            invoice.last_attempt,
            invoice.run_id,
        )
        assert (row["reason"], row["last_error"], row["next_charge_at"]) == (
            invoice.reason,
            invoice.last_error,
            invoice.next_charge_at,
        )
        assert row["version"] == invoice.version
        assert [tuple(a.values())[1:] for a in attempts if a["invoice_id"] == invoice.id] == [
            (a["attempt"], a["cycle"], a["key"], a["at"], a["outcome"], a["detail"])
            for a in invoice.attempts
        ]
    statuses = {invoice.status for invoice in stored}
    assert len(statuses) >= 5, statuses  # the histories reach most statuses


async def _rebuild_billing(app: BillingApplication, url: str, *, batch_size: int) -> int:
    pool = await _pool(url)
    try:
        return await Follower(app, BillingView(), pool, batch_size=batch_size).rebuild()
    finally:
        await pool.close()


def test_an_operators_decision_and_an_attempts_outcome_in_one_batch(
    fresh_database_url: str,
) -> None:
    """Whichever comes first in a batch, the attempt stored before it ends as the
    aggregate says: settled by the operator, or by the outcome that came after."""
    decided_first, answered_first = new_invoice(1), new_invoice(2)
    for invoice in (decided_first, answered_first):
        invoice.attempt_charge(1, None, T0, previous_not_charged=False, actor=ACTOR)
    decided_first.record_failure(1, "timeout", T0, T0, outcome_known=False, actor=ACTOR)
    decided_first.needs_attention(1, "outcome_unknown", "cannot be asked", T0, actor=ACTOR)
    app = open_application(BillingApplication, fresh_database_url)
    try:
        app.save(decided_first, answered_first)
        asyncio.run(_rebuild_billing(app, fresh_database_url, batch_size=500))

        decided_first.resolve("retry", "try again", T0, actor=ACTOR)
        decided_first.record_failure(1, "a late answer", T0, T0, outcome_known=False, actor=ACTOR)
        answered_first.record_failure(1, "reset", T0, T0, outcome_known=False, actor=ACTOR)
        answered_first.needs_attention(None, "outcome_unknown", "cannot be asked", T0, actor=ACTOR)
        answered_first.resolve("write_off", "closed", T0, actor=ACTOR)
        app.save(decided_first, answered_first)
        asyncio.run(_catch_up_billing(app, fresh_database_url))
    finally:
        app.close()
    with psycopg.connect(fresh_database_url) as conn:
        outcomes = conn.execute(
            "SELECT invoice_id, outcome, detail FROM billing_charge_attempts"
        ).fetchall()
    assert sorted(outcomes) == sorted(
        (invoice.id, invoice.attempts[0]["outcome"], invoice.attempts[0]["detail"])
        for invoice in (decided_first, answered_first)
    )
    assert decided_first.attempts[0]["outcome"] == "unknown"
    assert answered_first.attempts[0]["outcome"] == "not_charged"


async def _catch_up_billing(app: BillingApplication, url: str) -> int:
    pool = await _pool(url)
    try:
        return await Follower(app, BillingView(), pool).catch_up()
    finally:
        await pool.close()
