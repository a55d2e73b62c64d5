"""The event relay: publishes a workflow's integration events on the event bus.

A follower like any other: its position advances in PostgreSQL only after the bus has
durably taken every message of the batch, so each event is published at least once, in
log order (hence in order per aggregate). Consumers deduplicate on the message id,
which names the event (`<aggregate id>:<version>`).

An event that cannot be made into a message is the event's fault: the follower sets its
aggregate aside. The bus failing to take messages never is: the batch is published again
later (`RetryLater`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from psycopg import AsyncConnection, AsyncCursor

from adapters.set_aside.errors import RetryLater
from domain.messaging import EventBus, Message

ToMessage = Callable[[Any], Message | None]


class EventRelay:
    def __init__(self, workflow: str, to_message: ToMessage, bus: EventBus) -> None:
        self.name = f"relay:{workflow}"
        self.to_message = to_message
        self.bus = bus

    async def reset(self, conn: AsyncConnection[Any]) -> None:
        raise RuntimeError("the relay is never rebuilt: that would publish everything again")

    async def apply(self, cur: AsyncCursor[Any], events: Sequence[Any]) -> None:
        messages = [m for m in map(self.to_message, events) if m is not None]
        try:
            await self.bus.publish_many(messages)
        except Exception as error:
            raise RetryLater(f"{self.name}: the bus did not take the messages") from error
