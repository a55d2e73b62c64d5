"""Messaging ports: commands arrive on a `CommandQueue`, integration events leave on an `EventBus`.

Both are abstract here; PostgreSQL and RabbitMQ adapters live in `adapters/messaging/`.
The names are the same on both (docs/third-parties.md, "Messaging"): queue
`ledgerflow.commands.<workflow>` with a dead-letter queue `<queue>.dead`, exchange
`ledgerflow.events`, routing key `<workflow>.<EventName>`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from domain.access import Actor, Role

EVENTS_EXCHANGE = "ledgerflow.events"

# Who a command on a queue is sent for, in two headers: `client_id` names the client
# (required: a command without it is dead-lettered, never recorded as nobody's), and
# `actor_role` is `system` when the sender is one of the platform's own processes
# (`client` when absent). The sender's word: who may publish on a queue is the broker's
# or the database's access control.
CLIENT_HEADER = "client_id"
ACTOR_ROLE_HEADER = "actor_role"
QUEUE_ROLES = frozenset({Role.CLIENT.value, Role.SYSTEM.value})


def command_queue_name(workflow: str) -> str:
    return f"ledgerflow.commands.{workflow}"


def dead_letter_queue_name(queue: str) -> str:
    return f"{queue}.dead"


def routing_key(workflow: str, event_name: str) -> str:
    return f"{workflow}.{event_name}"


@dataclass(frozen=True)
class Message:
    """One message on a queue or the bus. `body` is the raw bytes (JSON by convention)."""

    body: bytes
    message_id: str
    correlation_id: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    routing_key: str = ""


class PoisonMessage(Exception):
    """Raised by a handler for a message that can never be processed (unparseable, invalid).

    The consumer moves the message to the dead-letter queue with `reason` and acknowledges
    the original, so the messages behind it are not blocked.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def actor_headers(actor: Actor) -> dict[str, str]:
    """The headers a command sent on a queue for `actor` carries."""
    return {CLIENT_HEADER: actor.subject, ACTOR_ROLE_HEADER: actor.role}


def actor_of_message(message: Message) -> Actor:
    """The actor a queued command names; `PoisonMessage` when it names none."""
    client = message.headers.get(CLIENT_HEADER, "").strip()
    if not client:
        raise PoisonMessage(f"missing_client: a command names its client in `{CLIENT_HEADER}`")
    role = message.headers.get(ACTOR_ROLE_HEADER, Role.CLIENT.value)
    if role not in QUEUE_ROLES:
        raise PoisonMessage(f"invalid_actor_role: `{ACTOR_ROLE_HEADER}` is client or system")
    return Actor(role=role, subject=client)


MessageHandler = Callable[[Message], Awaitable[None]]
"""Returns normally: the message is acknowledged (its effect is durable).
Raises `PoisonMessage`: dead-lettered with the reason. Raises anything else: the message
is returned to the queue and delivered again later (a transient failure, e.g. the
database is briefly unreachable)."""


CommandHandler = Callable[[Message, Actor], Awaitable[None]]
"""A command queue's handler: the message and the actor its headers name, read by the
queue before the handler is called (`deliver_command`). Returns and raises as a
`MessageHandler` does."""


async def deliver_command(message: Message, handler: CommandHandler) -> None:
    """Hand a queued command to `handler` with its actor, as every `CommandQueue` does.

    `PoisonMessage` (dead-lettered with its reason) when the headers name no valid actor:
    the queue requires them, so no handler sees a command sent for nobody.
    """
    await handler(message, actor_of_message(message))


class CommandQueue(Protocol):
    async def send(self, queue: str, message: Message) -> None:
        """Durably enqueue `message` (returns once the broker or database has it)."""

    async def consume(self, queue: str, handler: CommandHandler, stop: asyncio.Event) -> None:
        """Deliver commands to `handler` (`deliver_command`) until `stop` is set; ack only
        after it returns."""

    async def dead_letters(self, queue: str, limit: int = 100) -> Sequence[DeadLetter]:
        """The messages of `queue` that were dead-lettered, oldest first (for operators)."""

    async def close(self) -> None: ...


@dataclass(frozen=True)
class DeadLetter:
    message: Message
    reason: str


class EventBus(Protocol):
    async def publish(self, message: Message) -> None:
        """Publish to `message.routing_key`; returns once the bus has durably taken it."""

    async def publish_many(self, messages: Sequence[Message]) -> None:
        """Publish in order; returns once the bus has durably taken all of them."""

    async def subscribe(
        self,
        subscriber: str,
        binding_keys: Sequence[str],
        handler: MessageHandler,
        stop: asyncio.Event,
    ) -> None:
        """Deliver every event matching `binding_keys` (topic patterns such as `sms.*`)
        to `handler`, at least once, until `stop` is set. `subscriber` names a durable
        subscription: a restarted subscriber resumes where it left off."""

    async def close(self) -> None: ...
