"""The work table: one row per piece of due work, leased by the engine's workers."""

from __future__ import annotations

from typing import TypeAlias

from domain.work import WorkItem

StoredPayload: TypeAlias = object
"""A payload as the table holds it: JSON, decoded (dicts, lists, strings, numbers); its
policy's `payload_type` reads it."""

LeasedWork: TypeAlias = WorkItem[StoredPayload]
"""A leased row, its payload as stored."""

# NOTIFYed when work is planned, so idle workers wake within milliseconds.
WORK_CHANNEL = "ledgerflow_work"

# `first_due_at` is when the work first became due: its retry budget runs from there (a
# row planned before the column existed has none; its `due_at` stands in). The budget
# replaces `last_attempt`, the attempt number after which a row was parked.
WORK_SCHEMA = """
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

# The columns the scheduler fills; the rest start empty.
WORK_COLUMNS = (
    "id",
    "kind",
    "aggregate_id",
    "payload",
    "next_attempt",
    "due_at",
    "first_due_at",
    "deadline",
)
