"""The poller service's intake: the subscription handler that turns
`lending.ApplicationSubmitted` events from the bus into due work.

The poller has no event store of its own: its state is its rows in `ledgerflow_work`,
and its results leave as commands. So its engine is given no committer, and a parked
row (the deadline passed) is reported through the policy's `parked` hook.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, cast

from psycopg_pool import AsyncConnectionPool
from pydantic import ValidationError
from typing_extensions import TypeVar

from adapters.follower import Event
from adapters.work import WorkScheduler
from domain.messaging import Message, MessageHandler, PoisonMessage
from domain.work import WorkPolicy

log = logging.getLogger(__name__)

P = TypeVar("P")
R = TypeVar("R")
F = TypeVar("F", default=None)


def work_intake(
    pool: AsyncConnectionPool[Any],
    policy: WorkPolicy[P, R, F],
    parse: Callable[[bytes], object],
) -> MessageHandler:
    """A bus handler: each message, parsed by `parse` (raising `ValidationError` when it
    cannot), becomes the policy's due work, inserted once (its id is deterministic) before
    the message is acknowledged."""
    scheduler = WorkScheduler(policy)

    async def handle(message: Message) -> None:
        try:
            parsed = parse(message.body)
        except ValidationError as error:
            raise PoisonMessage(f"not an event the poller reads: {error}") from error
        async with pool.connection() as conn, conn.transaction():
            await scheduler.apply(conn.cursor(), cast(Sequence[Event], [parsed]))

    return handle
