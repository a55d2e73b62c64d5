"""Retrying every parked piece of work of a kind in one operator action.

A kind that can be retried names where its parked work shows (a read model's
`ParkedRows`) and how one item is retried: its workflow's own retry command, which
records the retry as an event on the aggregate with the operator who asked. An item
the read model still shows parked but its aggregate no longer is (retried meanwhile) is
skipped, not retried twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from psycopg_pool import AsyncConnectionPool

from domain.access import Actor
from domain.errors import NotFoundError
from projections.parked import ParkedRows, parked_ids

RetryOne = Callable[[UUID, Actor], Awaitable[bool]]
"""Retries one parked item for `actor`; False when it was no longer parked."""

IN_FLIGHT = 50  # retries at once: each is a read and a group-committed save


@dataclass(frozen=True)
class ParkedKind:
    rows: ParkedRows
    retry: RetryOne


@dataclass(frozen=True)
class RetriedParked:
    kind: str
    retried: int
    skipped: int  # no longer parked when their turn came


class UnknownParkedKind(NotFoundError):
    code = "unknown_parked_kind"

    def __init__(self, kind: str, known: list[str]) -> None:
        super().__init__(
            f"no parked work of kind {kind!r} can be retried here"
            f" (kinds: {', '.join(known) or 'none'})"
        )
        self.work_kind = kind


class ParkedWorkDesk:
    def __init__(self, pool: AsyncConnectionPool[Any], kinds: Mapping[str, ParkedKind]) -> None:
        self.pool = pool
        self._kinds = dict(kinds)

    @property
    def kinds(self) -> list[str]:
        return sorted(self._kinds)

    async def retry_all(self, kind: str, actor: Actor) -> RetriedParked:
        """Every item of `kind` parked now, retried on behalf of `actor`."""
        parked = self._kinds.get(kind)
        if parked is None:
            raise UnknownParkedKind(kind, self.kinds)
        ids = [UUID(found) for found in await parked_ids(self.pool, parked.rows)]
        slots = asyncio.Semaphore(IN_FLIGHT)

        async def retry(item_id: UUID) -> bool:
            async with slots:
                return await parked.retry(item_id, actor)

        done = await asyncio.gather(*(retry(item_id) for item_id in ids))
        retried = sum(done)
        return RetriedParked(kind, retried, len(done) - retried)
