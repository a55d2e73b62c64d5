"""The billing read models' tables: customers, invoices, their charge attempts, the runs."""

from __future__ import annotations

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
