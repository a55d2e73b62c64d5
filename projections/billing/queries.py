"""Reads of the billing read models: our own lists (keyset pagination), the
reference-compatible lists, a run's progress, and the pending invoices a run selects (only
once the read model has caught up with the log)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from psycopg.rows import class_row, dict_row

from projections.billing.schema import ATTEMPT_COLUMNS, INVOICE_COLUMNS, VIEW_NAME
from projections.pagination import Page, keyset_page


@dataclass(frozen=True)
class InvoiceRow:
    ref_id: int
    id: UUID
    customer_ref_id: int
    amount: Decimal
    currency: str
    status: str
    cycle: int
    attempts: int
    run_id: UUID | None
    reason: str | None
    last_error: str | None
    next_charge_at: datetime | None
    issued_at: datetime
    updated_at: datetime
    version: int


@dataclass(frozen=True)
class AttemptRow:
    invoice_id: UUID
    attempt: int
    cycle: int
    key: str
    run_id: UUID | None
    started_at: datetime
    outcome: str | None
    detail: str | None
    finished_at: datetime | None


@dataclass(frozen=True)
class RunProgress:
    id: UUID
    period: str
    trigger: str
    started_at: datetime
    selected: int
    selection_complete: bool
    counts: dict[str, int]


@dataclass(frozen=True)
class _RunRow:
    id: UUID
    period: str
    trigger: str
    started_at: datetime
    selected: int
    selection_complete: bool


class BillingQueries:
    """Reads of the billing read models; `pool` is a psycopg AsyncConnectionPool."""

    def __init__(self, pool: Any, upstream: str = "billing") -> None:
        self.pool = pool
        self.upstream = upstream

    async def list_invoices(
        self, *, status: str | None, customer_id: int | None, limit: int, cursor: str | None
    ) -> Page[InvoiceRow]:
        clauses: list[str] = []
        params: list[Any] = []
        if status is not None:
            clauses.append("status = %s")
            params.append(status)
        if customer_id is not None:
            clauses.append("customer_ref_id = %s")
            params.append(customer_id)
        return await keyset_page(
            self.pool,
            InvoiceRow,
            f"SELECT {', '.join(INVOICE_COLUMNS)} FROM billing_invoices",
            clauses,
            params,
            order=("issued_at", "ref_id"),
            limit=limit,
            cursor=cursor,
            key_param=lambda key: int(key) if key.isdigit() else 0,
        )

    async def attempts_of(self, invoice_ids: Sequence[UUID]) -> dict[UUID, list[AttemptRow]]:
        if not invoice_ids:
            return {}
        async with self.pool.connection() as conn:
            cur = conn.cursor(row_factory=class_row(AttemptRow))
            await cur.execute(
                f"SELECT {', '.join(ATTEMPT_COLUMNS)} FROM billing_charge_attempts"
                " WHERE invoice_id = ANY(%s) ORDER BY invoice_id, attempt",
                (list(invoice_ids),),
            )
            found: dict[UUID, list[AttemptRow]] = {}
            for row in await cur.fetchall():
                found.setdefault(row.invoice_id, []).append(row)
        return found

    async def reference_invoices(self, ref_id: int | None = None) -> list[dict[str, Any]]:
        where, params = ("WHERE ref_id = %s", [ref_id]) if ref_id is not None else ("", [])
        async with self.pool.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(
                "SELECT ref_id, customer_ref_id, amount, currency, status FROM billing_invoices"
                f" {where} ORDER BY ref_id",
                params,
            )
            return list(await cur.fetchall())

    async def reference_customers(self, ref_id: int | None = None) -> list[dict[str, Any]]:
        where, params = ("WHERE ref_id = %s", [ref_id]) if ref_id is not None else ("", [])
        async with self.pool.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(
                f"SELECT ref_id, currency FROM billing_customers {where} ORDER BY ref_id", params
            )
            return list(await cur.fetchall())

    async def list_runs(self, *, limit: int, cursor: str | None) -> Page[RunProgress]:
        """Billing runs in the order they started, each with its invoices' counts."""
        page = await keyset_page(
            self.pool,
            _RunRow,
            "SELECT id, period, trigger, started_at, selected, selection_complete"
            " FROM billing_runs",
            [],
            [],
            order=("started_at", "id"),
            limit=limit,
            cursor=cursor,
            key_param=UUID,
        )
        counts: dict[UUID, dict[str, int]] = {run.id: {} for run in page.items}
        if counts:
            async with self.pool.connection() as conn:
                cur = await conn.execute(
                    "SELECT run_id, status, count(*) FROM billing_invoices"
                    " WHERE run_id = ANY(%s) GROUP BY run_id, status",
                    (list(counts),),
                )
                for run_id, status, n in await cur.fetchall():
                    counts[run_id][status] = int(n)
        runs = [RunProgress(**vars(run), counts=counts[run.id]) for run in page.items]
        return Page(runs, page.next_cursor)

    async def run_progress(self, run_id: UUID) -> RunProgress | None:
        async with self.pool.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(
                "SELECT id, period, trigger, started_at, selected, selection_complete"
                " FROM billing_runs WHERE id = %s",
                (run_id,),
            )
            run = await cur.fetchone()
            if run is None:
                return None
            counts_cur = await conn.execute(
                "SELECT status, count(*) FROM billing_invoices WHERE run_id = %s GROUP BY status",
                (run_id,),
            )
            counts = {status: int(n) for status, n in await counts_cur.fetchall()}
        return RunProgress(**run, counts=counts)

    async def pending_invoices(self, caught_up_to: int) -> list[UUID] | None:
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT position FROM ledgerflow_positions WHERE follower = %s AND upstream = %s",
                (VIEW_NAME, self.upstream),
            )
            row = await cur.fetchone()
            if row is None or int(row[0]) < caught_up_to:
                return None
            cur = await conn.execute(
                "SELECT id FROM billing_invoices WHERE status = 'pending' ORDER BY ref_id"
            )
            return [invoice_id for (invoice_id,) in await cur.fetchall()]
