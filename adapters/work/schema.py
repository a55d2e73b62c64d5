"""The work table: one row per piece of due work, leased by the engine's workers.

Its columns are the migrations' (adapters/migrations); a row planned before `first_due_at`
existed has none, and its `due_at` stands in for when the work first became due.
"""

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
