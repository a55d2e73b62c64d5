"""The schema as the platform's start-up code created it before migrations: each part's
string verbatim, as its `setup()` ran it (each in a transaction of its own, under the
schema lock). The migration tests build "an existing installation" from these, to show
that the first revision adopts it. Frozen: never edit these to follow a new revision.
"""

from __future__ import annotations

import psycopg

from adapters.postgres import SCHEMA_LOCK_KEY

# adapters/work/store.py (WorkStore.setup)
WORK = """
CREATE TABLE IF NOT EXISTS ledgerflow_work (
    id uuid PRIMARY KEY,
    kind text NOT NULL,
    aggregate_id uuid NOT NULL,
    payload jsonb NOT NULL DEFAULT '{}',
    next_attempt integer NOT NULL,
    due_at timestamptz NOT NULL,
    first_due_at timestamptz,
    lease_owner text,
    lease_expires_at timestamptz,
    last_error text,
    deadline timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE ledgerflow_work ADD COLUMN IF NOT EXISTS deadline timestamptz;
ALTER TABLE ledgerflow_work ADD COLUMN IF NOT EXISTS first_due_at timestamptz;
ALTER TABLE ledgerflow_work DROP COLUMN IF EXISTS last_attempt;
-- A row is up for lease from `due_at`, or from its lease's expiry while leased: leased
-- rows sort to the back, so a lease reads only rows it can take.
CREATE INDEX IF NOT EXISTS ledgerflow_work_available
    ON ledgerflow_work (kind, (greatest(due_at, lease_expires_at)));
-- Cancelling names both columns; with an index on the first alone the planner of a
-- generic plan may pick the `kind` index and scan every row of that kind.
CREATE INDEX IF NOT EXISTS ledgerflow_work_aggregate_kind
    ON ledgerflow_work (aggregate_id, kind);
DROP INDEX IF EXISTS ledgerflow_work_due;
DROP INDEX IF EXISTS ledgerflow_work_aggregate;
"""

# adapters/follower.py (Follower.setup)
FOLLOWER_POSITIONS = """
CREATE TABLE IF NOT EXISTS ledgerflow_positions (
    follower text NOT NULL,
    upstream text NOT NULL,
    position bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (follower, upstream)
)
"""

# adapters/messaging/postgres/schema.py
MESSAGING = """
CREATE TABLE IF NOT EXISTS ledgerflow_queue_messages (
    id bigserial PRIMARY KEY,
    queue text NOT NULL,
    message_id text NOT NULL,
    correlation_id text,
    headers jsonb NOT NULL DEFAULT '{}'::jsonb,
    body bytea NOT NULL,
    enqueued_at timestamptz NOT NULL DEFAULT now(),
    available_at timestamptz NOT NULL DEFAULT now(),
    delivery_count integer NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS ledgerflow_queue_messages_ready
    ON ledgerflow_queue_messages (queue, available_at, id);

CREATE TABLE IF NOT EXISTS ledgerflow_dead_letters (
    id bigserial PRIMARY KEY,
    queue text NOT NULL,
    message_id text NOT NULL,
    correlation_id text,
    headers jsonb NOT NULL DEFAULT '{}'::jsonb,
    body bytea NOT NULL,
    routing_key text NOT NULL DEFAULT '',
    reason text NOT NULL,
    dead_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS ledgerflow_dead_letters_queue ON ledgerflow_dead_letters (queue, id);

CREATE TABLE IF NOT EXISTS ledgerflow_bus_messages (
    position bigserial PRIMARY KEY,
    routing_key text NOT NULL,
    message_id text NOT NULL,
    correlation_id text,
    headers jsonb NOT NULL DEFAULT '{}'::jsonb,
    body bytea NOT NULL,
    published_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS ledgerflow_bus_subscriptions (
    subscriber text PRIMARY KEY,
    position bigint NOT NULL DEFAULT 0
);
"""

# adapters/clock.py
CLOCK = """
CREATE TABLE IF NOT EXISTS ledgerflow_clock (
    id boolean PRIMARY KEY DEFAULT true CHECK (id),
    offset_seconds double precision NOT NULL DEFAULT 0
)
"""

# adapters/execution_reports.py
STREAM_POSITIONS = """
CREATE TABLE IF NOT EXISTS ledgerflow_stream_positions (
    stream text PRIMARY KEY,
    position bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
)
"""

# projections/sms.py
SMS_VIEW = """
CREATE TABLE IF NOT EXISTS sms_view (
    id uuid PRIMARY KEY,
    message_id text NOT NULL,
    phone_number text NOT NULL,
    text text NOT NULL,
    correlation_id text,
    status text NOT NULL,
    attempts integer NOT NULL DEFAULT 0,
    provider_message_id text,
    last_error text,
    requested_at timestamptz NOT NULL,
    next_attempt_at timestamptz,
    finished_at timestamptz,
    updated_at timestamptz NOT NULL,
    version integer NOT NULL
);
CREATE INDEX IF NOT EXISTS sms_view_status ON sms_view (status, requested_at, id);
CREATE INDEX IF NOT EXISTS sms_view_requested ON sms_view (requested_at, id);
"""

# projections/orders.py
ORDERS_VIEW = """
CREATE TABLE IF NOT EXISTS orders_view (
    id uuid PRIMARY KEY,
    type text NOT NULL,
    side text NOT NULL,
    instrument text NOT NULL,
    limit_price numeric(20, 2),
    quantity bigint NOT NULL,
    status text NOT NULL,
    attempts integer NOT NULL DEFAULT 0,
    last_error text,
    next_attempt_at timestamptz,
    exchange_order_id text,
    placed_at timestamptz,
    filled_quantity bigint NOT NULL DEFAULT 0,
    notional numeric NOT NULL DEFAULT 0,
    accepted_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    version integer NOT NULL
);
CREATE INDEX IF NOT EXISTS orders_view_status ON orders_view (status, accepted_at, id);
CREATE INDEX IF NOT EXISTS orders_view_accepted ON orders_view (accepted_at, id);
"""

# projections/billing/schema.py
BILLING_VIEW = """
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

# projections/lending.py
LENDING_VIEW = """
CREATE TABLE IF NOT EXISTS lending_applications (
    id uuid PRIMARY KEY,
    first_name text NOT NULL,
    last_name text NOT NULL,
    amount numeric(15, 2) NOT NULL,
    currency text NOT NULL,
    term_months integer NOT NULL,
    email text NOT NULL,
    status text NOT NULL,
    job_id text,
    note text,
    submitted_at timestamptz NOT NULL,
    decided_at timestamptz,
    updated_at timestamptz NOT NULL,
    version integer NOT NULL
);
CREATE INDEX IF NOT EXISTS lending_applications_status
    ON lending_applications (status, submitted_at, id);
CREATE INDEX IF NOT EXISTS lending_applications_submitted
    ON lending_applications (submitted_at, id);
"""

# projections/reimbursements.py
REIMBURSEMENTS_VIEW = """
CREATE TABLE IF NOT EXISTS reimbursement_banks (
    id uuid PRIMARY KEY, uid text NOT NULL, name text NOT NULL, location text NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS reimbursement_administrators (
    id uuid PRIMARY KEY, uid text NOT NULL, first_name text NOT NULL, last_name text NOT NULL,
    bank_id uuid NOT NULL, created_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS reimbursement_administrators_bank
    ON reimbursement_administrators (bank_id, created_at, id);
CREATE TABLE IF NOT EXISTS reimbursement_members (
    id uuid PRIMARY KEY, uid text NOT NULL, first_name text NOT NULL, last_name text NOT NULL,
    email text NOT NULL, phone text, created_at timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS reimbursement_accounts (
    id uuid PRIMARY KEY, uid text NOT NULL, bank_id uuid NOT NULL,
    bank_member_id uuid NOT NULL, created_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS reimbursement_accounts_bank
    ON reimbursement_accounts (bank_id, created_at, id);
CREATE TABLE IF NOT EXISTS reimbursements_view (
    id uuid PRIMARY KEY,
    bank_account_id uuid NOT NULL,
    bank_id uuid NOT NULL,
    member_id uuid NOT NULL,
    amount numeric(14, 2) NOT NULL,
    currency text NOT NULL,
    description text NOT NULL,
    submitted_at timestamptz NOT NULL,
    status text NOT NULL,
    payment_status text,
    decided_by uuid,
    decided_at timestamptz,
    updated_at timestamptz NOT NULL,
    version integer NOT NULL
);
CREATE INDEX IF NOT EXISTS reimbursements_view_member
    ON reimbursements_view (member_id, submitted_at, id);
CREATE INDEX IF NOT EXISTS reimbursements_view_bank
    ON reimbursements_view (bank_id, status, submitted_at, id);
"""

# adapters/work.py (WorkStore.setup) of an older release still: `last_attempt` instead of
# a retry budget, no `first_due_at`.
OLDER_WORK = """
CREATE TABLE IF NOT EXISTS ledgerflow_work (
    id uuid PRIMARY KEY,
    kind text NOT NULL,
    aggregate_id uuid NOT NULL,
    payload jsonb NOT NULL DEFAULT '{}',
    next_attempt integer NOT NULL,
    last_attempt integer NOT NULL,
    due_at timestamptz NOT NULL,
    lease_owner text,
    lease_expires_at timestamptz,
    last_error text,
    deadline timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE ledgerflow_work ADD COLUMN IF NOT EXISTS deadline timestamptz;
-- A row is up for lease from `due_at`, or from its lease's expiry while leased: leased
-- rows sort to the back, so a lease reads only rows it can take.
CREATE INDEX IF NOT EXISTS ledgerflow_work_available
    ON ledgerflow_work (kind, (greatest(due_at, lease_expires_at)));
-- Cancelling names both columns; with an index on the first alone the planner of a
-- generic plan may pick the `kind` index and scan every row of that kind.
CREATE INDEX IF NOT EXISTS ledgerflow_work_aggregate_kind
    ON ledgerflow_work (aggregate_id, kind);
DROP INDEX IF EXISTS ledgerflow_work_due;
DROP INDEX IF EXISTS ledgerflow_work_aggregate;
"""

PREVIOUS = (
    WORK,
    FOLLOWER_POSITIONS,
    MESSAGING,
    CLOCK,
    STREAM_POSITIONS,
    SMS_VIEW,
    ORDERS_VIEW,
    BILLING_VIEW,
    LENDING_VIEW,
    REIMBURSEMENTS_VIEW,
)
"""Every part's schema, as the release before migrations left a database."""


def create_previous_schema(database_url: str, parts: tuple[str, ...] = PREVIOUS) -> None:
    """Run the start-up code's strings as it ran them."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        for statements in parts:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK_KEY,))
                conn.execute(statements)
