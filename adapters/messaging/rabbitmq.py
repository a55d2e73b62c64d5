"""RabbitMQ adapters for the messaging ports (aio-pika): used when `AMQP_URL` is set.

Every queue is durable and declared with a dead-letter queue `<queue>.dead` (also via
`x-dead-letter-*` arguments, so a broker-side rejection lands there too). Messages are
persistent and published with publisher confirms, so `send`/`publish` return only once
the broker has them. A consumer acks only after its handler returned; anything unacked
when its channel or connection closes is redelivered by the broker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import aio_pika
from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustConnection,
)

from domain.messaging import (
    EVENTS_EXCHANGE,
    CommandHandler,
    DeadLetter,
    Message,
    MessageHandler,
    PoisonMessage,
    dead_letter_queue_name,
    deliver_command,
)

log = logging.getLogger(__name__)

# Settling (ack/nack/dead-letter copy) failing means the channel or connection went away:
# the message stays unacked and the broker redelivers it.
_SETTLE_ERRORS = (
    aio_pika.exceptions.AMQPError,
    aio_pika.exceptions.ChannelInvalidStateError,
    ConnectionError,
)

DEAD_REASON_HEADER = "x-dead-reason"
DEAD_AT_HEADER = "x-dead-at"  # when it was dead-lettered, ISO 8601
ROUTING_KEY_HEADER = "x-original-routing-key"
_BROKER_HEADERS = (
    "x-death",
    "x-first-death-",
    "x-last-death-",
    DEAD_REASON_HEADER,
    DEAD_AT_HEADER,
    ROUTING_KEY_HEADER,
)


def subscriber_queue_name(subscriber: str) -> str:
    return f"ledgerflow.subscriber.{subscriber}"


def header_text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def to_amqp(message: Message, extra: Mapping[str, str] | None = None) -> aio_pika.Message:
    headers: dict[str, Any] = dict(message.headers)
    headers.update(extra or {})
    return aio_pika.Message(
        body=message.body,
        message_id=message.message_id,
        correlation_id=message.correlation_id,
        headers=headers,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        content_type="application/json",
    )


def from_amqp(
    incoming: AbstractIncomingMessage, *, routing_key: str, strip_broker_headers: bool = False
) -> Message:
    headers = {
        key: header_text(value)
        for key, value in (incoming.headers or {}).items()
        if not (strip_broker_headers and key.startswith(_BROKER_HEADERS))
        and isinstance(value, str | bytes | int | float | bool)
    }
    return Message(
        body=incoming.body,
        message_id=incoming.message_id or "",
        correlation_id=incoming.correlation_id,
        headers=headers,
        routing_key=routing_key,
    )


def dead_reason(incoming: AbstractIncomingMessage) -> str:
    headers = incoming.headers or {}
    if DEAD_REASON_HEADER in headers:
        return header_text(headers[DEAD_REASON_HEADER])
    deaths = headers.get("x-death")
    if isinstance(deaths, list) and deaths and isinstance(deaths[0], Mapping):
        return f"broker: {header_text(deaths[0].get('reason', 'unknown'))}"
    return "unknown"


async def declare_with_dead_letters(
    channel: AbstractChannel,
    name: str,
    arguments: Mapping[str, Any] | None = None,
) -> AbstractQueue:
    """Declare `name` durable with its `<name>.dead` queue as its dead-letter queue."""
    dead = dead_letter_queue_name(name)
    await channel.declare_queue(dead, durable=True)
    return await channel.declare_queue(
        name,
        durable=True,
        arguments={
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": dead,
            **(arguments or {}),
        },
    )


class _RabbitMq:
    """Owns one robust connection and a confirming channel for publishing."""

    def __init__(self, amqp_url: str, *, prefetch: int = 16, retry_delay: float = 1.0) -> None:
        self._url = amqp_url
        self.prefetch = prefetch
        self.retry_delay = retry_delay
        self._connection: AbstractRobustConnection | None = None
        self._publisher: AbstractChannel | None = None
        self._lock = asyncio.Lock()
        self._declared: set[str] = set()

    async def _connect(self) -> AbstractRobustConnection:
        async with self._lock:
            if self._connection is None or self._connection.is_closed:
                self._connection = await aio_pika.connect_robust(self._url)
                self._publisher = None
                self._declared.clear()
            return self._connection

    async def _publishing_channel(self) -> AbstractChannel:
        connection = await self._connect()
        async with self._lock:
            if self._publisher is None or self._publisher.is_closed:
                self._publisher = await connection.channel(publisher_confirms=True)
                self._declared.clear()
            return self._publisher

    @staticmethod
    async def _to_dead_letter_queue(
        channel: AbstractChannel,
        queue: str,
        incoming: AbstractIncomingMessage,
        message: Message,
        reason: str,
    ) -> None:
        """Copy to `<queue>.dead` with the reason (confirmed), for the caller to ack."""
        extra = {DEAD_REASON_HEADER: reason, DEAD_AT_HEADER: datetime.now(UTC).isoformat()}
        if message.routing_key:
            extra[ROUTING_KEY_HEADER] = message.routing_key
        await channel.default_exchange.publish(
            to_amqp(message, extra), routing_key=dead_letter_queue_name(queue)
        )

    async def _read_dead_letters(self, queue: str, limit: int) -> list[DeadLetter]:
        """Browse `<queue>.dead` without consuming it.

        AMQP has no "peek": we basic.get up to `limit` messages unacked on a private
        channel, then close it, which returns them all to the queue in their places.
        """
        connection = await self._connect()
        channel = await connection.channel()
        letters: list[DeadLetter] = []
        try:
            dead = await channel.declare_queue(dead_letter_queue_name(queue), durable=True)
            while len(letters) < limit:
                incoming = await dead.get(no_ack=False, fail=False)
                if incoming is None:
                    break
                routing_key = header_text((incoming.headers or {}).get(ROUTING_KEY_HEADER, ""))
                letters.append(
                    DeadLetter(
                        message=from_amqp(
                            incoming, routing_key=routing_key, strip_broker_headers=True
                        ),
                        reason=dead_reason(incoming),
                    )
                )
        finally:
            await channel.close()
        return letters

    async def close(self) -> None:
        async with self._lock:
            if self._connection is not None:
                await self._connection.close()
            self._connection = None
            self._publisher = None


class RabbitMqCommandQueue(_RabbitMq):
    """`CommandQueue` on RabbitMQ: handlers run concurrently, up to `prefetch` per consumer.

    A transient failure is `nack(requeue=True)`-ed after `retry_delay`; the other prefetched
    messages keep flowing meanwhile.
    """

    async def send(self, queue: str, message: Message) -> None:
        channel = await self._publishing_channel()
        if queue not in self._declared:
            await declare_with_dead_letters(channel, queue)
            self._declared.add(queue)
        await channel.default_exchange.publish(to_amqp(message), routing_key=queue)

    async def consume(self, queue: str, handler: CommandHandler, stop: asyncio.Event) -> None:
        """Until `stop` is set; then stop taking messages and let running handlers finish.

        If this task is cancelled instead, running handlers are cancelled and the channel
        is closed: their messages go back to the queue.
        """
        connection = await self._connect()
        channel = await connection.channel(publisher_confirms=True)
        tasks: set[asyncio.Task[None]] = set()
        try:
            await channel.set_qos(prefetch_count=self.prefetch)
            amqp_queue = await declare_with_dead_letters(channel, queue)

            async def on_message(incoming: AbstractIncomingMessage) -> None:
                task = asyncio.create_task(self._handle(channel, queue, incoming, handler))
                tasks.add(task)
                task.add_done_callback(tasks.discard)

            tag = await amqp_queue.consume(on_message)
            await stop.wait()
            with contextlib.suppress(Exception):
                await amqp_queue.cancel(tag)
            if tasks:
                await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            for task in list(tasks):
                task.cancel()
            with contextlib.suppress(Exception):
                await channel.close()

    async def _handle(
        self,
        channel: AbstractChannel,
        queue: str,
        incoming: AbstractIncomingMessage,
        handler: CommandHandler,
    ) -> None:
        message = from_amqp(incoming, routing_key="")
        try:
            try:
                await deliver_command(message, handler)
            except PoisonMessage as poison:
                await self._to_dead_letter_queue(channel, queue, incoming, message, poison.reason)
                await incoming.ack()
                return
            except Exception:
                log.exception(
                    "handler failed for message %s on %s; will retry", message.message_id, queue
                )
                await asyncio.sleep(self.retry_delay)
                await incoming.nack(requeue=True)
                return
            await incoming.ack()
        except _SETTLE_ERRORS as error:
            log.warning("could not settle message %s: %s", message.message_id, error)

    async def dead_letters(self, queue: str, limit: int = 100) -> Sequence[DeadLetter]:
        return await self._read_dead_letters(queue, limit)


class RabbitMqEventBus(_RabbitMq):
    """`EventBus` on the topic exchange `ledgerflow.events`.

    Each subscriber has a durable queue `ledgerflow.subscriber.<name>` (with
    `x-single-active-consumer`, so only one consumer per name is active). Handlers are
    called one at a time in delivery order; a transient failure retries the same event in
    place after `retry_delay`, so order is kept. A durable queue only collects events
    published after its first `subscribe`.
    """

    async def _exchange(self, channel: AbstractChannel) -> AbstractExchange:
        return await channel.declare_exchange(
            EVENTS_EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True
        )

    async def publish(self, message: Message) -> None:
        channel = await self._publishing_channel()
        exchange = await self._exchange(channel)
        await exchange.publish(to_amqp(message), routing_key=message.routing_key)

    async def publish_many(self, messages: Sequence[Message]) -> None:
        # One after another, each confirmed: the broker keeps them in this order.
        for message in messages:
            await self.publish(message)

    async def subscribe(
        self,
        subscriber: str,
        binding_keys: Sequence[str],
        handler: MessageHandler,
        stop: asyncio.Event,
    ) -> None:
        connection = await self._connect()
        channel = await connection.channel(publisher_confirms=True)
        name = subscriber_queue_name(subscriber)
        inbox: asyncio.Queue[AbstractIncomingMessage] = asyncio.Queue()
        try:
            await channel.set_qos(prefetch_count=self.prefetch)
            exchange = await self._exchange(channel)
            amqp_queue = await declare_with_dead_letters(
                channel, name, {"x-single-active-consumer": True}
            )
            for key in binding_keys:
                await amqp_queue.bind(exchange, routing_key=key)
            tag = await amqp_queue.consume(inbox.put)
            while not stop.is_set():
                getter = asyncio.create_task(inbox.get())
                stopper = asyncio.create_task(stop.wait())
                await asyncio.wait([getter, stopper], return_when=asyncio.FIRST_COMPLETED)
                stopper.cancel()
                if not getter.done():
                    getter.cancel()
                    break
                if not await self._deliver(channel, name, getter.result(), handler, stop):
                    break
            with contextlib.suppress(Exception):
                await amqp_queue.cancel(tag)
        finally:
            # Anything received but not acked goes back to the queue, in its place.
            with contextlib.suppress(Exception):
                await channel.close()

    async def _deliver(
        self,
        channel: AbstractChannel,
        queue: str,
        incoming: AbstractIncomingMessage,
        handler: MessageHandler,
        stop: asyncio.Event,
    ) -> bool:
        message = from_amqp(incoming, routing_key=incoming.routing_key or "")
        while True:
            try:
                await handler(message)
            except PoisonMessage as poison:
                try:
                    await self._to_dead_letter_queue(
                        channel, queue, incoming, message, poison.reason
                    )
                    await incoming.ack()
                except _SETTLE_ERRORS as error:
                    log.warning("could not dead-letter %s: %s", message.message_id, error)
                return True
            except Exception:
                log.exception(
                    "subscriber queue %s failed on %s; retrying", queue, message.message_id
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.retry_delay)
                if stop.is_set():
                    return False
                continue
            try:
                await incoming.ack()
            except _SETTLE_ERRORS as error:
                log.warning("could not ack %s: %s", message.message_id, error)
            return True

    async def dead_letters(self, subscriber: str, limit: int = 100) -> Sequence[DeadLetter]:
        """Events `subscriber` rejected as poison, oldest first."""
        return await self._read_dead_letters(subscriber_queue_name(subscriber), limit)
