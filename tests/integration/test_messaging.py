"""The messaging adapters against real PostgreSQL and RabbitMQ: one test body, both backends.

Every test uses names with a uuid suffix, so runs (and people) sharing a broker or a
database do not see each other's messages; RabbitMQ queues are deleted afterwards.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import aio_pika
import pytest

from adapters.messaging.factory import build_messaging
from adapters.messaging.postgres.command_queue import PostgresCommandQueue
from adapters.messaging.postgres.event_bus import PostgresEventBus, topic_regex
from adapters.messaging.rabbitmq import (
    RabbitMqCommandQueue,
    RabbitMqEventBus,
    subscriber_queue_name,
)
from domain.access import Actor
from domain.messaging import (
    ACTOR_ROLE_HEADER,
    CLIENT_HEADER,
    DeadLetter,
    Message,
    PoisonMessage,
    actor_headers,
    command_queue_name,
    dead_letter_queue_name,
)

pytestmark = pytest.mark.timeout(60)

LEASE = 1.0  # PostgreSQL visibility timeout, short so a "crashed" consumer's message returns fast
RETRY_DELAY = 0.2

Queue = PostgresCommandQueue | RabbitMqCommandQueue
Bus = PostgresEventBus | RabbitMqEventBus


@dataclass
class Backend:
    name: str
    new_queue: Callable[[], Queue]
    new_bus: Callable[[], Bus]
    amqp_queues: list[str] = field(default_factory=list)
    opened: list[Queue | Bus] = field(default_factory=list)

    def queue(self) -> Queue:
        adapter = self.new_queue()
        self.opened.append(adapter)
        return adapter

    def bus(self) -> Bus:
        adapter = self.new_bus()
        self.opened.append(adapter)
        return adapter

    def command_queue(self) -> str:
        name = command_queue_name(f"test-{uuid.uuid4().hex[:10]}")
        self.amqp_queues += [name, dead_letter_queue_name(name)]
        return name

    def subscriber(self) -> str:
        name = f"test-{uuid.uuid4().hex[:10]}"
        queue = subscriber_queue_name(name)
        self.amqp_queues += [queue, dead_letter_queue_name(queue)]
        return name


@pytest.fixture(params=["postgres", "rabbitmq"])
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[Backend]:
    if request.param == "postgres":
        url: str = request.getfixturevalue("database_url")
        made = Backend(
            "postgres",
            lambda: PostgresCommandQueue(
                url, lease=LEASE, retry_delay=RETRY_DELAY, poll_interval=0.5
            ),
            lambda: PostgresEventBus(url, retry_delay=RETRY_DELAY, poll_interval=0.5),
        )
    else:
        amqp: str = request.getfixturevalue("amqp_url")
        made = Backend(
            "rabbitmq",
            lambda: RabbitMqCommandQueue(amqp, retry_delay=RETRY_DELAY),
            lambda: RabbitMqEventBus(amqp, retry_delay=RETRY_DELAY),
        )
    try:
        yield made
    finally:
        for adapter in made.opened:
            await adapter.close()
        if made.name == "rabbitmq":
            connection = await aio_pika.connect(request.getfixturevalue("amqp_url"))
            async with connection:
                channel = await connection.channel()
                for queue in made.amqp_queues:
                    await channel.queue_delete(queue)


def message(**headers: str) -> Message:
    return Message(
        body=f'{{"n": "{uuid.uuid4().hex}"}}'.encode(),
        message_id=str(uuid.uuid4()),
        correlation_id=str(uuid.uuid4()),
        headers=headers,
    )


CLIENT_A = {CLIENT_HEADER: "client-a"}


def command(**headers: str) -> Message:
    """A command as a client sends it on a queue: its client named in the header."""
    return message(**CLIENT_A, **headers)


class Running:
    """A consume/subscribe call running in the background until stopped or cancelled."""

    def __init__(self, start: Callable[[asyncio.Event], Coroutine[Any, Any, None]]) -> None:
        self.stop = asyncio.Event()
        self.task = asyncio.create_task(start(self.stop))

    async def stopped(self) -> None:
        self.stop.set()
        await asyncio.wait_for(self.task, 5)

    async def crash(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


async def eventually(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def test_send_consume_round_trips_and_acks(backend: Backend) -> None:
    queue, adapter = backend.command_queue(), backend.queue()
    sent = command(tenant="acme", trace="t-1")
    await adapter.send(queue, sent)
    received: list[Message] = []

    async def handler(m: Message, actor: Actor) -> None:
        received.append(m)

    consumer = Running(lambda stop: adapter.consume(queue, handler, stop))
    await eventually(lambda: len(received) == 1)
    await consumer.stopped()
    got = received[0]
    assert (got.body, got.message_id, got.correlation_id) == (
        sent.body,
        sent.message_id,
        sent.correlation_id,
    )
    assert dict(got.headers) == {**CLIENT_A, "tenant": "acme", "trace": "t-1"}

    other = backend.queue()  # a fresh consumer, after the lease would have expired
    again: list[Message] = []

    async def second(m: Message, actor: Actor) -> None:
        again.append(m)

    consumer = Running(lambda stop: other.consume(queue, second, stop))
    await asyncio.sleep(LEASE + 0.3)
    await consumer.stopped()
    assert again == []


async def test_transient_failure_is_delivered_again(backend: Backend) -> None:
    queue, adapter = backend.command_queue(), backend.queue()
    sent = command()
    await adapter.send(queue, sent)
    deliveries: list[str] = []

    async def flaky(m: Message, actor: Actor) -> None:
        deliveries.append(m.message_id)
        if len(deliveries) == 1:
            raise ConnectionError("database briefly unreachable")

    consumer = Running(lambda stop: adapter.consume(queue, flaky, stop))
    await eventually(lambda: len(deliveries) == 2)
    await asyncio.sleep(RETRY_DELAY + 0.3)
    await consumer.stopped()
    assert deliveries == [sent.message_id, sent.message_id]


async def test_consumer_killed_mid_handler_loses_nothing(backend: Backend) -> None:
    queue, first = backend.command_queue(), backend.queue()
    sent = command()
    await first.send(queue, sent)
    started = asyncio.Event()

    async def hangs(m: Message, actor: Actor) -> None:
        started.set()
        await asyncio.Event().wait()

    crashed = Running(lambda stop: first.consume(queue, hangs, stop))
    await asyncio.wait_for(started.wait(), 10)
    await crashed.crash()
    await first.close()  # for RabbitMQ, the connection goes away with the "process"

    second = backend.queue()
    received: list[Message] = []

    async def handler(m: Message, actor: Actor) -> None:
        received.append(m)

    consumer = Running(lambda stop: second.consume(queue, handler, stop))
    await eventually(lambda: len(received) == 1)
    await consumer.stopped()
    assert received[0].message_id == sent.message_id


async def test_poison_message_is_dead_lettered_and_does_not_block(backend: Backend) -> None:
    queue, adapter = backend.command_queue(), backend.queue()
    poison, good = command(kind="poison"), command(kind="good")
    await adapter.send(queue, poison)
    await adapter.send(queue, good)
    handled: list[str] = []

    async def handler(m: Message, actor: Actor) -> None:
        if m.headers.get("kind") == "poison":
            raise PoisonMessage("body is not a SendSms")
        handled.append(m.message_id)

    consumer = Running(lambda stop: adapter.consume(queue, handler, stop))
    await eventually(lambda: handled == [good.message_id])
    await consumer.stopped()

    letters = await adapter.dead_letters(queue)
    assert [(d.message.message_id, d.reason) for d in letters] == [
        (poison.message_id, "body is not a SendSms")
    ]
    dead = letters[0].message
    assert (dead.body, dead.correlation_id, dict(dead.headers)) == (
        poison.body,
        poison.correlation_id,
        {**CLIENT_A, "kind": "poison"},
    )
    assert len(await adapter.dead_letters(queue)) == 1  # inspecting does not consume


async def test_a_handler_never_sees_a_command_that_names_no_client(backend: Backend) -> None:
    """The queue itself requires the client header: a handler registered on it, which reads
    no header at all, is handed only commands naming their actor, with that actor."""
    queue, adapter = backend.command_queue(), backend.queue()
    nameless = message(kind="nameless")
    blank = message(**{CLIENT_HEADER: "  "})
    bad_role = command(**{ACTOR_ROLE_HEADER: "operator"})
    system = message(**actor_headers(Actor.system("worker-test")))
    good = command()
    for sent in (nameless, blank, bad_role, system, good):
        await adapter.send(queue, sent)
    handled: list[tuple[str, Actor]] = []

    async def handler(m: Message, actor: Actor) -> None:
        handled.append((m.message_id, actor))

    consumer = Running(lambda stop: adapter.consume(queue, handler, stop))
    await eventually(lambda: len(handled) == 2)
    letters: list[DeadLetter] = []

    async def dead_lettered() -> None:
        for _ in range(200):
            letters[:] = await adapter.dead_letters(queue)
            if len(letters) == 3:
                return
            await asyncio.sleep(0.05)

    await dead_lettered()
    await consumer.stopped()

    assert set(handled) == {
        (good.message_id, Actor("client", "client-a")),
        (system.message_id, Actor.system("worker-test")),
    }
    reasons = {d.message.message_id: d.reason.split(":")[0] for d in letters}
    assert reasons == {
        nameless.message_id: "missing_client",
        blank.message_id: "missing_client",
        bad_role.message_id: "invalid_actor_role",
    }


async def test_event_bus_filters_orders_and_resumes(backend: Backend) -> None:
    bus, subscriber = backend.bus(), backend.subscriber()
    sms, orders = f"sms{uuid.uuid4().hex[:8]}", f"orders{uuid.uuid4().hex[:8]}"
    received: list[Message] = []
    markers: list[str] = []

    async def handler(m: Message) -> None:
        if m.routing_key.endswith(".Marker"):
            markers.append(m.message_id)
            return
        if m.routing_key.endswith(".Bad"):
            raise PoisonMessage("unknown event version")
        received.append(m)

    def event(key: str) -> Message:
        return Message(
            body=b"{}",
            message_id=str(uuid.uuid4()),
            correlation_id="corr-1",
            headers={"h": key},
            routing_key=key,
        )

    async def subscribed() -> Running:
        """Started, and bound (RabbitMQ only keeps events for an existing queue)."""
        running = Running(lambda stop: bus.subscribe(subscriber, [f"{sms}.*"], handler, stop))
        marker = event(f"{sms}.Marker")
        while marker.message_id not in markers:
            await bus.publish(marker)
            await asyncio.sleep(0.2)
        return running

    running = await subscribed()
    events = [
        event(f"{sms}.SmsSent"),
        event(f"{orders}.OrderPlaced"),
        event(f"{sms}.SmsFailed"),
        event(f"{sms}.x.Nested"),
    ]
    await bus.publish_many(events)  # one batch, as the relay publishes: order is kept
    await eventually(lambda: len(received) == 2)
    await asyncio.sleep(0.3)
    assert [m.message_id for m in received] == [events[0].message_id, events[2].message_id]
    first = received[0]
    assert (first.routing_key, first.correlation_id, dict(first.headers), first.body) == (
        f"{sms}.SmsSent",
        "corr-1",
        {"h": f"{sms}.SmsSent"},
        b"{}",
    )
    await running.stopped()

    received.clear()
    bad, later = event(f"{sms}.Bad"), event(f"{sms}.SmsDelivered")
    await bus.publish(bad)  # published while the subscriber is away
    await bus.publish(later)
    restarted = Running(lambda stop: bus.subscribe(subscriber, [f"{sms}.*"], handler, stop))
    await eventually(lambda: len(received) >= 1)
    await asyncio.sleep(0.3)
    await restarted.stopped()
    assert [m.message_id for m in received] == [later.message_id]
    letters = await bus.dead_letters(subscriber)
    assert [(d.message.message_id, d.message.routing_key, d.reason) for d in letters] == [
        (bad.message_id, f"{sms}.Bad", "unknown event version")
    ]


async def test_postgres_subscriber_name_has_one_active_consumer(database_url: str) -> None:
    first, second = PostgresEventBus(database_url), PostgresEventBus(database_url)
    subscriber, key = f"test-{uuid.uuid4().hex[:10]}", f"solo{uuid.uuid4().hex[:8]}"
    seen: list[str] = []

    def handler_for(label: str) -> Callable[[Message], Awaitable[None]]:
        async def handler(m: Message) -> None:
            seen.append(label)

        return handler

    try:
        one = Running(
            lambda stop: first.subscribe(subscriber, [f"{key}.*"], handler_for("a"), stop)
        )
        await first.publish(Message(b"{}", "m1", routing_key=f"{key}.E"))
        await eventually(lambda: seen == ["a"])
        two = Running(
            lambda stop: second.subscribe(subscriber, [f"{key}.*"], handler_for("b"), stop)
        )
        await asyncio.sleep(0.3)
        await first.publish(Message(b"{}", "m2", routing_key=f"{key}.E"))
        await eventually(lambda: len(seen) == 2)
        await one.stopped()  # the waiting one takes over, from where the first stopped
        await first.publish(Message(b"{}", "m3", routing_key=f"{key}.E"))
        await eventually(lambda: len(seen) == 3, seconds=5)
        await two.stopped()
        assert seen == ["a", "a", "b"]
    finally:
        await first.close()
        await second.close()


@pytest.mark.parametrize(
    ("keys", "routing_key", "matches"),
    [
        (["sms.*"], "sms.SmsSent", True),
        (["sms.*"], "sms.a.b", False),
        (["sms.*"], "orders.SmsSent", False),
        (["sms.#"], "sms", True),
        (["sms.#"], "sms.a.b", True),
        (["#.SmsSent"], "x.y.SmsSent", True),
        (["#"], "anything.at.all", True),
        (["*.b", "a.*"], "a.c", True),
        (["a-b.*"], "axb.c", False),
    ],
)
def test_topic_patterns_follow_amqp(keys: list[str], routing_key: str, matches: bool) -> None:
    assert bool(re.match(topic_regex(keys), "." + routing_key)) is matches


def test_factory_picks_the_backend_from_amqp_url() -> None:
    queue, bus = build_messaging("postgresql://postgres@127.0.0.1/x", None)
    assert isinstance(queue, PostgresCommandQueue)
    assert isinstance(bus, PostgresEventBus)
    queue2, bus2 = build_messaging(
        "postgresql://postgres@127.0.0.1/x", "amqp://guest:guest@127.0.0.1/"
    )
    assert isinstance(queue2, RabbitMqCommandQueue)
    assert isinstance(bus2, RabbitMqEventBus)
