"""Read models with one row per aggregate, shared by the simple projections.

A `RowPerAggregate` subclass names its table, schema and columns, the event type(s) that
create an aggregate's row, and `changes(event)`: the columns an event sets (besides
`updated_at` and `version`, which every change sets). A batch's events are folded in
memory first (one row change per aggregate per batch), then written in the follower's
transaction: one INSERT for the new rows, and one UPDATE per set of changed columns for the
rest.

`insert_rows` and `update_grouped` serve any table (the work table's planner uses the
first). A statement takes its rows as a JSON array of up to `CHUNK_ROWS`, read by
`jsonb_populate_recordset` into the table's own row type (so each value is parsed by its
column's type), the chunks pipelined, rather than as an `executemany` of a statement per
row: measured on 500-row batches, that halves the client's CPU per row and cuts the
server's by a third, and is faster in wall time too.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from datetime import date
from decimal import Decimal
from enum import Enum
from typing import Any, ClassVar
from uuid import UUID

from psycopg import AsyncConnection, AsyncCursor

CHUNK_ROWS = 100


async def insert_rows(
    cur: AsyncCursor[Any],
    table: str,
    columns: Sequence[str],
    rows: list[dict[str, Any]],
    *,
    conflict: str = "(id)",
) -> None:
    """Insert `rows` (dicts keyed by `columns`), skipping the ones already there."""
    if not rows:
        return
    names = ", ".join(columns)
    await cur.executemany(
        f"INSERT INTO {table} ({names})"
        f" SELECT {names} FROM jsonb_populate_recordset(NULL::{table}, %s::jsonb)"
        f" ON CONFLICT {conflict + ' ' if conflict else ''}DO NOTHING",
        _json_chunks(rows),
    )


async def update_grouped(
    cur: AsyncCursor[Any],
    table: str,
    rows: Iterable[dict[str, Any]],
    keys: Sequence[str] = ("id",),
) -> None:
    """Update rows identified by `keys`, one statement per set of changed columns. A key
    may appear once per call (one statement cannot update a row twice in order)."""
    where = " AND ".join(f"t.{k} = v.{k}" for k in keys)
    by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    seen: set[tuple[Any, ...]] = set()
    for row in rows:
        key = tuple(row[k] for k in keys)
        if key in seen:
            raise ValueError(f"{table}: row {key} updated twice in one call")
        seen.add(key)
        by_columns.setdefault(tuple(sorted(set(row) - set(keys))), []).append(row)
    for columns, group in by_columns.items():
        if not columns:
            continue
        assignments = ", ".join(f"{c} = v.{c}" for c in columns)
        await cur.executemany(
            f"UPDATE {table} AS t SET {assignments}"
            f" FROM jsonb_populate_recordset(NULL::{table}, %s::jsonb) AS v WHERE {where}",
            _json_chunks(group),
        )


def _json_chunks(rows: list[dict[str, Any]]) -> Iterator[tuple[str]]:
    """The rows as JSON arrays of `CHUNK_ROWS`, made as the pipeline sends them: the
    server applies one while the next is encoded (one array for a whole rebuild batch
    left each side idle in turn, and rebuilt 20% slower than a statement per row)."""
    for start in range(0, len(rows), CHUNK_ROWS):
        chunk = rows[start : start + CHUNK_ROWS]
        yield (json.dumps(chunk, default=_json_value, separators=(",", ":")),)


def _json_value(value: Any) -> Any:
    """A value JSON cannot hold, as the text its column's type parses back exactly."""
    if isinstance(value, UUID | Decimal):
        return str(value)
    if isinstance(value, date):  # and datetime: ISO 8601, with its offset when aware
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    raise TypeError(f"cannot store {type(value).__name__} in a projection row")


class RowPerAggregate(ABC):
    """An EventProcessor keeping one row per aggregate (keyed `id`) in `table`."""

    name: str
    """The follower's name (its position is tracked under it)."""
    table: ClassVar[str]
    columns: ClassVar[tuple[str, ...]]
    created_by: ClassVar[tuple[type, ...]]
    """The event types that create an aggregate's row."""
    truncates: ClassVar[tuple[str, ...]] = ()
    """The tables `reset` empties; `(table,)` unless given."""

    @abstractmethod
    def changes(self, event: Any) -> dict[str, Any]:
        """The columns an event sets (besides updated_at and version); {} to skip it."""

    async def reset(self, conn: AsyncConnection[Any]) -> None:
        await conn.execute(f"TRUNCATE {', '.join(self.truncates or (self.table,))}")

    async def apply(self, cur: AsyncCursor[Any], events: Sequence[Any]) -> None:
        inserts: dict[UUID, dict[str, Any]] = {}
        updates: dict[UUID, dict[str, Any]] = {}
        for event in events:
            changes = self.changes(event)
            if not changes:
                continue
            changes |= {"updated_at": event.timestamp, "version": event.originator_version}
            key = event.originator_id
            if isinstance(event, self.created_by):
                inserts[key] = {"id": key, **changes}
            elif key in inserts:
                inserts[key].update(changes)
            else:
                updates.setdefault(key, {}).update(changes)
        await insert_rows(cur, self.table, self.columns, list(inserts.values()))
        await update_grouped(cur, self.table, ({"id": k, **c} for k, c in updates.items()))
