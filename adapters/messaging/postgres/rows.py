"""Messages and dead letters as stored in rows, read back into the port's types."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from domain.messaging import DeadLetter, Message


def message_of(row: Mapping[str, Any]) -> Message:
    """The message a queue, bus or dead-letter row holds."""
    return Message(
        body=bytes(row["body"]),
        message_id=row["message_id"],
        correlation_id=row["correlation_id"],
        headers=_headers(row["headers"]),
        routing_key=row.get("routing_key") or "",
    )


def _headers(value: Any) -> dict[str, str]:
    if isinstance(value, str):
        value = json.loads(value)
    return {str(k): str(v) for k, v in (value or {}).items()}


async def read_dead_letters(pool: AsyncConnectionPool, queue: str, limit: int) -> list[DeadLetter]:
    """The dead letters stored under `queue`, oldest first."""
    async with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT message_id, correlation_id, headers, body, routing_key, reason"
            " FROM ledgerflow_dead_letters WHERE queue = %s ORDER BY id LIMIT %s",
            (queue, limit),
        )
        rows = await cur.fetchall()
    return [DeadLetter(message=message_of(row), reason=row["reason"]) for row in rows]
