"""`ledgerflow_dead_letter_decisions`: every replay or discard of a dead letter, with who
decided and when, whichever backend kept the letter (the dead-letter desks write here)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import class_row
from psycopg_pool import AsyncConnectionPool

from adapters.messaging.dead_letter_desk import Decided, Decision, DecisionPage
from domain.access import Actor
from projections.pagination import InvalidCursor, decode_cursor, encode_cursor


async def record(
    conn: AsyncConnection[Any], decided: Decided, actor: Actor, now: datetime, note: str | None
) -> None:
    """Record `decided` on `conn`, in the caller's transaction."""
    await conn.execute(
        "INSERT INTO ledgerflow_dead_letter_decisions (letter, queue, message_id, decision,"
        " actor_role, actor_subject, decided_at, note) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
        (
            decided.letter,
            decided.queue,
            decided.message_id,
            decided.decision,
            actor.role,
            actor.subject,
            now,
            note,
        ),
    )


async def recent(
    pool: AsyncConnectionPool[Any], limit: int, cursor: str | None = None
) -> DecisionPage:
    """The decisions newest first, `limit` at a time; `cursor` continues a page."""
    clause, params = "", []
    if cursor is not None:
        at, key = decode_cursor(cursor)
        if not key.isdecimal():
            raise InvalidCursor("cursor is not one this API issued")
        clause, params = " WHERE (decided_at, id) < (%s, %s)", [at, int(key)]
    async with pool.connection() as conn:
        cur = conn.cursor(row_factory=class_row(Decision))
        await cur.execute(
            "SELECT id, letter, queue, message_id, decision, actor_role, actor_subject,"
            f" decided_at, note FROM ledgerflow_dead_letter_decisions{clause}"
            " ORDER BY decided_at DESC, id DESC LIMIT %s",
            [*params, limit + 1],
        )
        rows = await cur.fetchall()
    if len(rows) <= limit:
        return DecisionPage(rows, None)
    last = rows[limit - 1]
    return DecisionPage(rows[:limit], encode_cursor(last.decided_at, str(last.id)))
