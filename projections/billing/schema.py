"""The billing read models' tables (customers, invoices, their charge attempts, the runs)
and the columns the projection writes; the migrations (adapters/migrations) create them."""

from __future__ import annotations

from projections.parked import ParkedRows

VIEW_NAME = "billing_view"

TABLES = ("billing_customers", "billing_invoices", "billing_charge_attempts", "billing_runs")

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

# Refused, or the charge's outcome unknown: an operator retries, marks paid or writes off.
PARKED = ParkedRows(
    "billing",
    "needs_attention",
    "billing_invoices",
    "status = 'needs_attention'",
    "nullif(concat_ws(': ', reason, last_error), '')",
    key="ref_id::text",
    error="last_error",
)
