"""Keyset pagination shared by every list endpoint: an opaque cursor and a page."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from psycopg.rows import class_row

from domain.errors import DomainError, ErrorKind

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


class InvalidCursor(DomainError):
    code = "invalid_cursor"
    kind = ErrorKind.BAD_REQUEST


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


def encode_cursor(at: datetime, key: str) -> str:
    raw = json.dumps([at.isoformat(), key]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        at, key = json.loads(base64.urlsafe_b64decode(padded))
        return datetime.fromisoformat(at), str(key)
    except (ValueError, TypeError) as error:
        raise InvalidCursor("cursor is not one this API issued") from error


async def keyset_page(
    pool: Any,
    row_type: type[T],
    select: str,
    clauses: Sequence[str],
    params: Sequence[Any],
    *,
    order: tuple[str, str],
    limit: int,
    cursor: str | None,
    key_param: Callable[[str], Any] = str,
) -> Page[T]:
    """One page of `select` (a `SELECT ... FROM ...` without WHERE/ORDER) under `clauses`,
    ordered by the keyset `order` = (timestamp column, unique key column), after `cursor`.

    `pool` is a psycopg AsyncConnectionPool; `key_param` turns the cursor's key back into
    the key column's parameter. The row's attributes named like the order columns (without
    a table prefix) make the next cursor.
    """
    clauses = list(clauses)
    params = list(params)
    at_column, key_column = order
    if cursor is not None:
        at, key = decode_cursor(cursor)
        clauses.append(f"({at_column}, {key_column}) > (%s, %s)")
        params += [at, key_param(key)]
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    async with pool.connection() as conn:
        cur = conn.cursor(row_factory=class_row(row_type))
        await cur.execute(
            f"{select}{where} ORDER BY {at_column}, {key_column} LIMIT %s", [*params, limit + 1]
        )
        rows: list[T] = await cur.fetchall()
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = encode_cursor(
            getattr(last, at_column.rsplit(".", 1)[-1]),
            str(getattr(last, key_column.rsplit(".", 1)[-1])),
        )
    return Page(rows, next_cursor)


def owned_by(client: str | None) -> tuple[list[str], list[Any]]:
    """The `WHERE` clause (and its parameter) of a list limited to what `client` created;
    none for `None` (everyone's: operators and auditors)."""
    return (["client = %s"], [client]) if client is not None else ([], [])
