"""Each workflow's read model at a glance, for the operator console's overview: how many
rows are in each status, and how many finished in each slice of the last hour.

`ViewRows` names, per workflow, its read-model table, the column holding its status and
the SQL (a constant of the read model's own, never input) of when a row finished its
work; the queries are one piece for all of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from psycopg.sql import SQL, Identifier
from psycopg_pool import AsyncConnectionPool


@dataclass(frozen=True)
class ViewRows:
    workflow: str
    table: str
    done_at: str  # SQL: when a row of `done_table` finished (NULL while it has not)
    status: str = "status"
    done_table: str | None = None  # where finished work is counted; default `table`
    done_label: str = "finished"  # what the throughput counts, in words


VIEWS: tuple[ViewRows, ...] = (
    ViewRows("sms", "sms_view", "finished_at", done_label="sent, failed or parked"),
    ViewRows("orders", "orders_view", "placed_at", done_label="placed"),
    # Invoices loaded as paid finished nothing here: billing's throughput is its charges.
    ViewRows(
        "billing",
        "billing_invoices",
        "finished_at",
        done_table="billing_charge_attempts",
        done_label="charges answered",
    ),
    ViewRows("lending", "lending_applications", "decided_at", done_label="decided"),
    ViewRows("reimbursements", "reimbursements_view", "decided_at", done_label="decided"),
)


@dataclass(frozen=True)
class WorkflowOverview:
    workflow: str
    done_label: str
    counts: dict[str, int]  # status -> rows
    finished: list[int]  # rows finished per slice, oldest slice first
    since: datetime  # the first slice's start
    slice: timedelta


@dataclass(frozen=True)
class OverviewReader:
    pool: AsyncConnectionPool[Any]
    views: Sequence[ViewRows] = VIEWS

    async def overviews(self, now: datetime) -> list[WorkflowOverview]:
        return await overviews(self.pool, self.views, now)


async def overviews(
    pool: AsyncConnectionPool[Any],
    views: Sequence[ViewRows],
    now: datetime,
    *,
    window: timedelta = timedelta(hours=1),
    slices: int = 12,
) -> list[WorkflowOverview]:
    """Each workflow's counts by status and its throughput over `window` before `now`
    (the platform's clock), in `slices` equal slices. A table not created yet counts
    nothing."""
    since, width = now - window, window / slices
    found: list[WorkflowOverview] = []
    async with pool.connection() as conn:
        for view in views:
            cur = await conn.execute("SELECT to_regclass(%s) IS NOT NULL", (view.table,))
            exists = await cur.fetchone()
            if not (exists and exists[0]):
                found.append(
                    WorkflowOverview(view.workflow, view.done_label, {}, [0] * slices, since, width)
                )
                continue
            table, status = Identifier(view.table), Identifier(view.status)
            cur = await conn.execute(
                SQL("SELECT {0}, count(*) FROM {1} GROUP BY {0} ORDER BY {0}").format(status, table)
            )
            counts = {str(row[0]): int(row[1]) for row in await cur.fetchall()}
            cur = await conn.execute(
                SQL(
                    "SELECT width_bucket(extract(epoch FROM done - %(since)s), 0,"
                    " %(window)s, %(slices)s) AS slice, count(*)"
                    " FROM (SELECT {} AS done FROM {}) finished"
                    " WHERE done > %(since)s AND done <= %(now)s GROUP BY slice"
                ).format(SQL(view.done_at), Identifier(view.done_table or view.table)),
                {
                    "since": since,
                    "now": now,
                    "window": window.total_seconds(),
                    "slices": slices,
                },
            )
            finished = [0] * slices
            for bucket, count in await cur.fetchall():
                finished[min(max(int(bucket), 1), slices) - 1] += int(count)
            found.append(
                WorkflowOverview(view.workflow, view.done_label, counts, finished, since, width)
            )
    return found
