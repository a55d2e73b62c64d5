"""The dead-letter desk of the RabbitMQ messaging: the messages in the `<queue>.dead`
queues of the queues it is told about, each keyed by its message's id.

AMQP has no "peek" and no "take this one": the desk `basic.get`s a dead-letter queue's
messages unacked on a channel of its own, and closing the channel puts back, in their
places, all it did not ack. A replay publishes the message back on its command queue
(confirmed) and only then acks it on the dead-letter queue; a discard acks it. The
decision is recorded in PostgreSQL (`ledgerflow_dead_letter_decisions`) in a transaction
that commits only after the broker took the action, so a failure on the broker records
nothing. Should the ack be lost after a replay's publish, the letter stays and its
message is on its queue twice: delivery is at least once, as everywhere on the queues.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import aio_pika
from aio_pika.abc import (
    AbstractChannel,
    AbstractConnection,
    AbstractIncomingMessage,
    AbstractQueue,
)
from psycopg_pool import AsyncConnectionPool

from adapters.messaging.dead_letter_desk import (
    DeadLetterNotFound,
    DeadLetterNotReplayable,
    DeadLettersUnavailable,
    Decided,
    DecisionPage,
    Verdict,
    WaitingLetter,
    replayable,
)
from adapters.messaging.postgres import dead_letter_decisions
from adapters.messaging.rabbitmq import (
    DEAD_AT_HEADER,
    dead_reason,
    declare_with_dead_letters,
    from_amqp,
    header_text,
    to_amqp,
)
from domain.access import Actor
from domain.messaging import dead_letter_queue_name


class RabbitMqDeadLetterDesk:
    """Connects for each call and closes after it: operators' reads and decisions are
    few, and a desk built for a command or a request then has nothing to release."""

    def __init__(
        self, amqp_url: str, queues: Sequence[str], pool: AsyncConnectionPool[Any]
    ) -> None:
        """`queues`: the queues (command queues, bus subscribers' queues) whose dead
        letters it shows; a broker cannot be asked which queues it has."""
        self.url = amqp_url
        self.queues = tuple(queues)
        self.pool = pool

    async def letters(self, limit: int | None = 500) -> list[WaitingLetter]:
        letters: list[WaitingLetter] = []
        try:
            connection = await aio_pika.connect(self.url)
        except (OSError, aio_pika.exceptions.AMQPError) as error:
            raise DeadLettersUnavailable(f"RabbitMQ: {error}") from error
        async with connection:
            for queue in self.queues:
                async with _dead_letter_queue(connection, queue) as (_, dead):
                    taken = 0
                    while dead is not None and (limit is None or taken < limit):
                        incoming = await dead.get(no_ack=False, fail=False)
                        if incoming is None:
                            break
                        letters.append(_waiting(queue, incoming))
                        taken += 1
        return letters

    async def replay(
        self, key: str, actor: Actor, now: datetime, note: str | None = None
    ) -> Decided:
        return await self._decide(key, "replay", actor, now, note)

    async def discard(
        self, key: str, actor: Actor, now: datetime, note: str | None = None
    ) -> Decided:
        return await self._decide(key, "discard", actor, now, note)

    async def decisions(self, limit: int, cursor: str | None = None) -> DecisionPage:
        return await dead_letter_decisions.recent(self.pool, limit, cursor)

    async def _decide(
        self, key: str, decision: Verdict, actor: Actor, now: datetime, note: str | None
    ) -> Decided:
        async with (
            await aio_pika.connect(self.url) as connection,
            self.pool.connection() as conn,
            conn.transaction(),
        ):
            for queue in self.queues:
                async with _dead_letter_queue(connection, queue) as (channel, dead):
                    incoming = await _find(dead, key) if dead is not None else None
                    if incoming is None:
                        continue
                    decided = Decided(
                        key, dead_letter_queue_name(queue), incoming.message_id or "", decision
                    )
                    if decision == "replay":
                        if not replayable(queue):
                            raise DeadLetterNotReplayable(decided.queue)
                        message = from_amqp(incoming, routing_key="", strip_broker_headers=True)
                        await declare_with_dead_letters(channel, queue)
                        await channel.default_exchange.publish(to_amqp(message), routing_key=queue)
                    await dead_letter_decisions.record(conn, decided, actor, now, note)
                    await incoming.ack()
                    return decided
        raise DeadLetterNotFound(key)


@contextlib.asynccontextmanager
async def _dead_letter_queue(
    connection: AbstractConnection, queue: str
) -> AsyncIterator[tuple[AbstractChannel, AbstractQueue | None]]:
    """`<queue>.dead` on a channel of its own (None if the broker has no such queue:
    nothing was ever dead-lettered there); closing the channel puts back every message
    got and not acked."""
    channel = await connection.channel(publisher_confirms=True)
    try:
        try:
            dead: AbstractQueue | None = await channel.declare_queue(
                dead_letter_queue_name(queue), passive=True
            )
        except aio_pika.exceptions.ChannelNotFoundEntity:
            dead = None  # and the broker closed the channel
        yield channel, dead
    finally:
        with contextlib.suppress(Exception):
            await channel.close()


async def _find(dead: AbstractQueue, key: str) -> AbstractIncomingMessage | None:
    while (incoming := await dead.get(no_ack=False, fail=False)) is not None:
        if _key(incoming) == key:
            return incoming
    return None


def _key(incoming: AbstractIncomingMessage) -> str:
    """Its message's id; a message without one, a digest of its body (stable as long as
    it waits)."""
    if incoming.message_id:
        return incoming.message_id
    return "sha256-" + hashlib.sha256(incoming.body).hexdigest()[:16]


def _waiting(queue: str, incoming: AbstractIncomingMessage) -> WaitingLetter:
    return WaitingLetter(
        key=_key(incoming),
        queue=dead_letter_queue_name(queue),
        message_id=incoming.message_id or "",
        reason=dead_reason(incoming),
        dead_at=_dead_at(incoming),
    )


def _dead_at(incoming: AbstractIncomingMessage) -> datetime:
    """When it was dead-lettered: as the consumer that did it wrote, else as the broker
    did (a broker-side rejection's `x-death`), else when it was published."""
    headers = incoming.headers or {}
    if DEAD_AT_HEADER in headers:
        with contextlib.suppress(ValueError):
            return _aware(datetime.fromisoformat(header_text(headers[DEAD_AT_HEADER])))
    deaths = headers.get("x-death")
    if isinstance(deaths, list) and deaths and isinstance(deaths[0], Mapping):
        died = deaths[0].get("time")
        if isinstance(died, datetime):
            return _aware(died)
    if incoming.timestamp is not None:
        return _aware(incoming.timestamp)
    return datetime.now(UTC)


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)
