"""The idempotency keys' table on PostgreSQL: a key is its client's, answers its
retries, conflicts with another request, and is free again once expired or abandoned."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from psycopg_pool import AsyncConnectionPool

from adapters.idempotency import Answer, Claimed, Conflict, IdempotencyStore, InProgress

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
ANSWER = Answer(201, [("content-type", "application/json")], b'{"id": 1}')


@pytest.fixture()
async def store(database_url: str) -> AsyncIterator[IdempotencyStore]:
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(database_url, min_size=1, open=False)
    await pool.open()
    try:
        yield IdempotencyStore(pool)
    finally:
        await pool.close()


async def test_a_key_answers_its_retries_and_conflicts_with_another_request(
    store: IdempotencyStore,
) -> None:
    key = f"k-{NOW.timestamp()}-answers"
    assert await store.claim("a", key, "f1", NOW) == Claimed()
    assert await store.claim("a", key, "f1", NOW) == InProgress()
    assert await store.claim("b", key, "f1", NOW) == Claimed()  # another client's own
    await store.complete("a", key, ANSWER)
    assert await store.claim("a", key, "f1", NOW + timedelta(hours=23)) == ANSWER
    assert await store.claim("a", key, "f2", NOW + timedelta(hours=23)) == Conflict()


async def test_a_key_is_free_again_when_released_expired_or_abandoned(
    store: IdempotencyStore,
) -> None:
    released, expired, abandoned = (f"k-{NOW.timestamp()}-{n}" for n in ("r", "e", "a"))
    assert await store.claim("a", released, "f1", NOW) == Claimed()
    await store.release("a", released)
    assert await store.claim("a", released, "f2", NOW) == Claimed()

    assert await store.claim("a", expired, "f1", NOW) == Claimed()
    await store.complete("a", expired, ANSWER)
    assert await store.claim("a", expired, "f2", NOW + timedelta(hours=24, seconds=1)) == (
        Claimed()
    )

    assert await store.claim("a", abandoned, "f1", NOW) == Claimed()  # its process died
    assert await store.claim("a", abandoned, "f1", NOW + timedelta(seconds=30)) == InProgress()
    assert await store.claim("a", abandoned, "f1", NOW + timedelta(seconds=61)) == Claimed()
