"""The billing read models' processor: a batch of events is folded in memory (one row
change per row per batch, `fold.BillingBatch`), then written set-based in the follower's
transaction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from psycopg import AsyncConnection, AsyncCursor

from domain.billing.invoice_changes import RESOLVED_BY_OPERATOR, AttemptOutcome
from projections.billing.fold import BillingBatch, Event
from projections.billing.schema import ATTEMPT_COLUMNS, INVOICE_COLUMNS, TABLES, VIEW_NAME
from projections.rows import insert_rows, update_grouped


class BillingView:
    name = VIEW_NAME

    async def reset(self, conn: AsyncConnection[Any]) -> None:
        await conn.execute(f"TRUNCATE {', '.join(TABLES)}")

    async def apply(self, cur: AsyncCursor[Any], events: Sequence[Event]) -> None:
        batch = BillingBatch()
        for event in events:
            batch.add(event)
        await write(cur, batch)


async def write(cur: AsyncCursor[Any], batch: BillingBatch) -> None:
    if batch.customers:
        await cur.executemany(
            "INSERT INTO billing_customers (ref_id, id, currency, registered_at)"
            " VALUES (%(ref_id)s, %(id)s, %(currency)s, %(at)s) ON CONFLICT DO NOTHING",
            batch.customers,
        )
    await insert_rows(
        cur, "billing_invoices", INVOICE_COLUMNS, list(batch.new_invoices.values()), conflict=""
    )
    await update_grouped(
        cur,
        "billing_invoices",
        ({"id": key, **changes} for key, changes in batch.invoice_updates.items()),
    )
    if batch.settled_by_operator:
        # Before the batch's other attempt changes: they came later, or already had the
        # decision applied in memory, and new attempts are not stored yet.
        await cur.executemany(
            "UPDATE billing_charge_attempts SET outcome = %s, detail = %s"
            " WHERE invoice_id = %s AND (outcome IS NULL OR outcome = %s)",
            [
                (
                    AttemptOutcome.NOT_CHARGED.value,
                    RESOLVED_BY_OPERATOR,
                    invoice_id,
                    AttemptOutcome.UNKNOWN.value,
                )
                for invoice_id in batch.settled_by_operator
            ],
        )
    await update_grouped(
        cur,
        "billing_charge_attempts",
        (
            {"invoice_id": invoice_id, "attempt": attempt, **changes}
            for (invoice_id, attempt), changes in batch.attempt_updates.items()
        ),
        keys=("invoice_id", "attempt"),
    )
    await insert_rows(
        cur,
        "billing_charge_attempts",
        ATTEMPT_COLUMNS,
        list(batch.new_attempts.values()),
        conflict="",
    )
    if batch.runs:
        await cur.executemany(
            "INSERT INTO billing_runs (id, period, trigger, started_at, selected,"
            " selection_complete) VALUES (%(id)s, %(period)s, %(trigger)s,"
            " %(started_at)s, %(selected)s, %(selection_complete)s) ON CONFLICT DO NOTHING",
            list(batch.runs.values()),
        )
    for row in batch.run_updates.values():
        await cur.execute(
            "UPDATE billing_runs SET selected = selected + %s,"
            " selection_complete = selection_complete OR %s WHERE id = %s",
            (row.get("selected", 0), row.get("selection_complete", False), row["id"]),
        )
