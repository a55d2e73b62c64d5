"""What waits for an operator in each workflow's read model: an SMS parked, an application
or an invoice that needs attention, a payment that failed. Each read model says which of
its rows those are (`ParkedRows`); `parked_summaries` counts them and names the latest
one with its reason, for `ledgerflow status` and the metrics."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg.sql import SQL, Identifier
from psycopg_pool import AsyncConnectionPool


@dataclass(frozen=True)
class ParkedRows:
    """Rows of `table` waiting for an operator. `condition` and `reason` are SQL of the
    read model's own (constants, never input): which rows, and the text saying why."""

    workflow: str
    state: str  # the read model's word for it: parked, needs_attention, payment_failed
    table: str
    condition: str
    reason: str = "NULL"
    key: str = "id::text"  # how operators name a row (its aggregate id, an invoice's number)
    error: str = "NULL"  # the last error its work met


@dataclass(frozen=True)
class ParkedSummary:
    workflow: str
    state: str
    count: int
    latest_id: str | None  # the one that most recently got there
    latest_reason: str | None
    latest_at: datetime | None


async def parked_summaries(
    pool: AsyncConnectionPool[Any], parked: Sequence[ParkedRows]
) -> list[ParkedSummary]:
    summaries: list[ParkedSummary] = []
    async with pool.connection() as conn:
        for rows in parked:
            table, condition = Identifier(rows.table), SQL(rows.condition)
            cur = await conn.execute(
                SQL("SELECT count(*) FROM {} WHERE {}").format(table, condition)
            )
            counted = await cur.fetchone()
            count = int(counted[0]) if counted else 0
            latest = None
            if count:
                cur = await conn.execute(
                    SQL(
                        "SELECT id::text, {}, updated_at FROM {} WHERE {}"
                        " ORDER BY updated_at DESC LIMIT 1"
                    ).format(SQL(rows.reason), table, condition)
                )
                latest = await cur.fetchone()
            summaries.append(
                ParkedSummary(
                    rows.workflow,
                    rows.state,
                    count,
                    latest[0] if latest else None,
                    latest[1] if latest else None,
                    latest[2] if latest else None,
                )
            )
    return summaries
