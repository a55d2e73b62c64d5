"""The billing read models: customers, invoices, their charge attempts and the runs.

Events of a batch are folded in memory (one row change per invoice per batch) and written
with `executemany` in the follower's transaction. `BillingQueries` reads them: our own
lists (keyset pagination), the reference-compatible lists, a run's progress, and the
pending invoices a run selects (only once the read model has caught up with the log).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection, AsyncCursor
from psycopg.rows import class_row, dict_row

from domain.billing.customer import Customer
from domain.billing.invoice import Invoice
from domain.billing.run import BillingRun
from projections.pagination import Page, keyset_page
from projections.rows import insert_rows, update_grouped

VIEW_NAME = "billing_view"

SCHEMA = """
CREATE TABLE IF NOT EXISTS billing_customers (
    ref_id integer PRIMARY KEY,
    id uuid NOT NULL,
    currency text NOT NULL,
    registered_at timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS billing_invoices (
    ref_id integer PRIMARY KEY,
    id uuid NOT NULL UNIQUE,
    customer_ref_id integer NOT NULL,
    amount numeric(14, 2) NOT NULL,
    currency text NOT NULL,
    status text NOT NULL,
    cycle integer NOT NULL DEFAULT 0,
    attempts integer NOT NULL DEFAULT 0,
    run_id uuid,
    reason text,
    last_error text,
    next_charge_at timestamptz,
    issued_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    version integer NOT NULL
);
CREATE INDEX IF NOT EXISTS billing_invoices_status ON billing_invoices (status, issued_at, ref_id);
CREATE INDEX IF NOT EXISTS billing_invoices_run ON billing_invoices (run_id, status);
CREATE TABLE IF NOT EXISTS billing_charge_attempts (
    invoice_id uuid NOT NULL,
    attempt integer NOT NULL,
    cycle integer NOT NULL,
    key text NOT NULL,
    run_id uuid,
    started_at timestamptz NOT NULL,
    outcome text,
    detail text,
    finished_at timestamptz,
    PRIMARY KEY (invoice_id, attempt)
);
CREATE TABLE IF NOT EXISTS billing_runs (
    id uuid PRIMARY KEY,
    period text NOT NULL,
    trigger text NOT NULL,
    started_at timestamptz NOT NULL,
    selected integer NOT NULL DEFAULT 0,
    selection_complete boolean NOT NULL DEFAULT false
);
"""

INVOICE_COLUMNS = (
    "ref_id",
    "id",
    "customer_ref_id",
    "amount",
    "currency",
    "status",
    "cycle",
    "attempts",
    "run_id",
    "reason",
    "last_error",
    "next_charge_at",
    "issued_at",
    "updated_at",
    "version",
)
ATTEMPT_COLUMNS = (
    "invoice_id",
    "attempt",
    "cycle",
    "key",
    "run_id",
    "started_at",
    "outcome",
    "detail",
    "finished_at",
)


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


def _invoice_changes(event: Any) -> dict[str, Any]:
    """The invoice columns an event sets (besides updated_at and version)."""
    if isinstance(event, Invoice.ChargeAttempted):
        changes: dict[str, Any] = {
            "status": "charging",
            "cycle": event.cycle,
            "attempts": event.attempt,
            "next_charge_at": None,
        }
        if event.run_id is not None:
            changes["run_id"] = event.run_id
        return changes
    if isinstance(event, Invoice.InvoicePaid):
        return {"status": "paid", "reason": None, "next_charge_at": None}
    if isinstance(event, Invoice.ChargeDeclined):
        status = "retry_scheduled" if event.retry_at else "uncollectible"
        return {"status": status, "reason": event.reason, "next_charge_at": event.retry_at}
    if isinstance(event, Invoice.ChargeFailed):
        return {"last_error": event.error, "next_charge_at": event.retry_at}
    if isinstance(event, Invoice.ChargeNeedsAttention):
        return {
            "status": "needs_attention",
            "reason": event.reason,
            "last_error": event.detail,
            "next_charge_at": None,
        }
    if isinstance(event, Invoice.InvoiceMarkedPaid):
        return {"status": "paid", "reason": f"marked paid: {event.note}", "next_charge_at": None}
    if isinstance(event, Invoice.InvoiceWrittenOff):
        return {"status": "written_off", "reason": f"written off: {event.note}"}
    if isinstance(event, Invoice.ChargeRetryRequested):
        return {
            "status": "charging",
            "cycle": event.cycle,
            "reason": None,
            "next_charge_at": event.at,
        }
    return {}


def _attempt_outcome(event: Any) -> tuple[int, dict[str, Any]] | None:
    """(attempt, columns) when the event settles one attempt."""
    if isinstance(event, Invoice.InvoicePaid):
        return event.attempt, {"outcome": "charged", "detail": event.how}
    if isinstance(event, Invoice.ChargeDeclined):
        return event.attempt, {"outcome": "declined", "detail": event.reason}
    if isinstance(event, Invoice.ChargeFailed):
        outcome = "failed" if event.outcome_known else "unknown"
        return event.attempt, {"outcome": outcome, "detail": event.error}
    if (
        isinstance(event, Invoice.ChargeNeedsAttention)
        and event.attempt is not None
        and event.reason in ("customer_not_found", "currency_mismatch")
    ):
        return event.attempt, {"outcome": "refused", "detail": event.detail}
    return None


SETTLED_BY_OPERATOR = (
    Invoice.InvoiceMarkedPaid,
    Invoice.ChargeRetryRequested,
    Invoice.InvoiceWrittenOff,
)


class BillingView:
    name = VIEW_NAME

    async def setup(self, conn: AsyncConnection[Any]) -> None:
        await conn.execute(SCHEMA)

    async def reset(self, conn: AsyncConnection[Any]) -> None:
        await conn.execute(
            "TRUNCATE billing_customers, billing_invoices, billing_charge_attempts, billing_runs"
        )

    async def apply(self, cur: AsyncCursor[Any], events: Sequence[Any]) -> None:
        customers: list[dict[str, Any]] = []
        new_invoices: dict[UUID, dict[str, Any]] = {}
        invoice_updates: dict[UUID, dict[str, Any]] = {}
        new_attempts: dict[tuple[UUID, int], dict[str, Any]] = {}
        attempt_updates: dict[tuple[UUID, int], dict[str, Any]] = {}
        settled: list[tuple[UUID]] = []  # unresolved attempts stored before this batch
        runs: dict[UUID, dict[str, Any]] = {}
        run_updates: dict[UUID, dict[str, Any]] = {}
        for event in events:
            key = event.originator_id
            if isinstance(event, Customer.CustomerRegistered):
                customers.append(
                    {"ref_id": event.ref_id, "id": key, "currency": event.currency, "at": event.at}
                )
                continue
            if isinstance(
                event,
                BillingRun.RunStarted | BillingRun.InvoicesSelected | BillingRun.SelectionCompleted,
            ):
                self._fold_run(event, runs, run_updates)
                continue
            if isinstance(event, Invoice.InvoiceIssued):
                new_invoices[key] = {
                    "ref_id": event.ref_id,
                    "id": key,
                    "customer_ref_id": event.customer_ref_id,
                    "amount": event.amount,
                    "currency": event.currency,
                    "status": "paid" if event.paid else "pending",
                    "cycle": 0,
                    "attempts": 0,
                    "run_id": None,
                    "reason": None,
                    "last_error": None,
                    "next_charge_at": None,
                    "issued_at": event.at,
                    "updated_at": event.timestamp,
                    "version": event.originator_version,
                }
                continue
            changes = _invoice_changes(event)
            if not changes:
                continue
            changes |= {"updated_at": event.timestamp, "version": event.originator_version}
            (
                new_invoices[key] if key in new_invoices else invoice_updates.setdefault(key, {})
            ).update(changes)
            if isinstance(event, Invoice.ChargeAttempted):
                if event.previous_not_charged:
                    self._settle(
                        key,
                        event.attempt - 1,
                        new_attempts,
                        attempt_updates,
                        "reconciled: no charge at the provider",
                    )
                new_attempts[(key, event.attempt)] = {
                    "invoice_id": key,
                    "attempt": event.attempt,
                    "cycle": event.cycle,
                    "key": event.key,
                    "run_id": event.run_id,
                    "started_at": event.at,
                    "outcome": None,
                    "detail": None,
                    "finished_at": None,
                }
            elif isinstance(event, SETTLED_BY_OPERATOR):
                for (invoice_id, _), row in new_attempts.items():
                    if invoice_id == key and row["outcome"] in (None, "unknown"):
                        row |= {"outcome": "not_charged", "detail": "resolved by an operator"}
                settled.append((key,))
            else:
                settled_attempt = _attempt_outcome(event)
                if settled_attempt is not None:
                    number, columns = settled_attempt
                    columns["finished_at"] = event.at
                    slot = (key, number)
                    target = (
                        new_attempts[slot]
                        if slot in new_attempts
                        else attempt_updates.setdefault(slot, {})
                    )
                    target.update(columns)
        await self._write(
            cur,
            customers,
            new_invoices,
            invoice_updates,
            new_attempts,
            attempt_updates,
            settled,
            runs,
            run_updates,
        )

    @staticmethod
    def _settle(
        invoice_id: UUID,
        attempt: int,
        new_attempts: dict[tuple[UUID, int], dict[str, Any]],
        attempt_updates: dict[tuple[UUID, int], dict[str, Any]],
        detail: str,
    ) -> None:
        slot = (invoice_id, attempt)
        target = (
            new_attempts[slot] if slot in new_attempts else attempt_updates.setdefault(slot, {})
        )
        target.update({"outcome": "not_charged", "detail": detail})

    @staticmethod
    def _fold_run(
        event: Any, runs: dict[UUID, dict[str, Any]], run_updates: dict[UUID, dict[str, Any]]
    ) -> None:
        key = event.originator_id
        if isinstance(event, BillingRun.RunStarted):
            runs[key] = {
                "id": key,
                "period": event.period,
                "trigger": event.trigger,
                "started_at": event.at,
                "selected": 0,
                "selection_complete": False,
            }
            return
        target = runs[key] if key in runs else run_updates.setdefault(key, {"id": key})
        if isinstance(event, BillingRun.InvoicesSelected):
            target["selected"] = target.get("selected", 0) + len(event.invoice_ids)
        else:
            target["selection_complete"] = True

    @staticmethod
    async def _write(
        cur: AsyncCursor[Any],
        customers: list[dict[str, Any]],
        new_invoices: dict[UUID, dict[str, Any]],
        invoice_updates: dict[UUID, dict[str, Any]],
        new_attempts: dict[tuple[UUID, int], dict[str, Any]],
        attempt_updates: dict[tuple[UUID, int], dict[str, Any]],
        settled: list[tuple[UUID]],
        runs: dict[UUID, dict[str, Any]],
        run_updates: dict[UUID, dict[str, Any]],
    ) -> None:
        if customers:
            await cur.executemany(
                "INSERT INTO billing_customers (ref_id, id, currency, registered_at)"
                " VALUES (%(ref_id)s, %(id)s, %(currency)s, %(at)s) ON CONFLICT DO NOTHING",
                customers,
            )
        await insert_rows(
            cur, "billing_invoices", INVOICE_COLUMNS, list(new_invoices.values()), conflict=""
        )
        await update_grouped(
            cur,
            "billing_invoices",
            ({"id": key, **changes} for key, changes in invoice_updates.items()),
        )
        await update_grouped(
            cur,
            "billing_charge_attempts",
            (
                {"invoice_id": invoice_id, "attempt": attempt, **changes}
                for (invoice_id, attempt), changes in attempt_updates.items()
            ),
            keys=("invoice_id", "attempt"),
        )
        if settled:
            await cur.executemany(
                "UPDATE billing_charge_attempts SET outcome = 'not_charged',"
                " detail = 'resolved by an operator'"
                " WHERE invoice_id = %s AND (outcome IS NULL OR outcome = 'unknown')",
                settled,
            )
        await insert_rows(
            cur,
            "billing_charge_attempts",
            ATTEMPT_COLUMNS,
            list(new_attempts.values()),
            conflict="",
        )
        if runs:
            await cur.executemany(
                "INSERT INTO billing_runs (id, period, trigger, started_at, selected,"
                " selection_complete) VALUES (%(id)s, %(period)s, %(trigger)s,"
                " %(started_at)s, %(selected)s, %(selection_complete)s) ON CONFLICT DO NOTHING",
                list(runs.values()),
            )
        for row in run_updates.values():
            await cur.execute(
                "UPDATE billing_runs SET selected = selected + %s,"
                " selection_complete = selection_complete OR %s WHERE id = %s",
                (row.get("selected", 0), row.get("selection_complete", False), row["id"]),
            )


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
