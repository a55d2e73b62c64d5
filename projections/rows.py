"""Read models with one row per aggregate, shared by the simple projections.

A `RowPerAggregate` subclass names its table, schema and columns, the event type(s) that
create an aggregate's row, and `changes(event)`: the columns an event sets (besides
`updated_at` and `version`, which every change sets). A batch's events are folded in
memory first (one row change per aggregate per batch), then written with `executemany` in
the follower's transaction: one INSERT for the new rows, and one UPDATE per set of
changed columns for the rest.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from typing import Any, ClassVar
from uuid import UUID

from psycopg import AsyncConnection, AsyncCursor


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
    await cur.executemany(
        f"INSERT INTO {table} ({', '.join(columns)})"
        f" VALUES ({', '.join('%(' + c + ')s' for c in columns)})"
        f" ON CONFLICT {conflict + ' ' if conflict else ''}DO NOTHING",
        rows,
    )


async def update_grouped(
    cur: AsyncCursor[Any],
    table: str,
    rows: Iterable[dict[str, Any]],
    keys: Sequence[str] = ("id",),
) -> None:
    """Update rows identified by `keys`, one statement per set of changed columns."""
    where = " AND ".join(f"{k} = %({k})s" for k in keys)
    by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        by_columns.setdefault(tuple(sorted(set(row) - set(keys))), []).append(row)
    for columns, group in by_columns.items():
        if not columns:
            continue
        assignments = ", ".join(f"{c} = %({c})s" for c in columns)
        await cur.executemany(f"UPDATE {table} SET {assignments} WHERE {where}", group)


class RowPerAggregate(ABC):
    """An EventProcessor keeping one row per aggregate (keyed `id`) in `table`."""

    name: str
    """The follower's name (its position is tracked under it)."""
    table: ClassVar[str]
    schema: ClassVar[str]
    columns: ClassVar[tuple[str, ...]]
    created_by: ClassVar[tuple[type, ...]]
    """The event types that create an aggregate's row."""
    truncates: ClassVar[tuple[str, ...]] = ()
    """The tables `reset` empties; `(table,)` unless given."""

    @abstractmethod
    def changes(self, event: Any) -> dict[str, Any]:
        """The columns an event sets (besides updated_at and version); {} to skip it."""

    async def setup(self, conn: AsyncConnection[Any]) -> None:
        await conn.execute(self.schema)

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
