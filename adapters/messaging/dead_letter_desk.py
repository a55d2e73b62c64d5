"""The dead-letter desk: the port through which operators see the messages the messaging
dead-lettered and decide on each (replay it onto its queue after a fix, or discard it),
whichever backend keeps them. PostgreSQL keeps them in `ledgerflow_dead_letters`
(`adapters.messaging.postgres.dead_letters`), RabbitMQ in `<queue>.dead` queues
(`adapters.messaging.rabbitmq_dead_letters`); the composition root picks the desk where it
picks the messaging.

Every decision is recorded for good, with who made it (`DecisionLog`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from domain.access import Actor
from domain.errors import ConflictError, NotFoundError
from domain.messaging import dead_letter_queue_name

DEAD_SUFFIX = dead_letter_queue_name("")
COMMAND_QUEUES = "ledgerflow.commands."

Verdict = Literal["replay", "discard"]


class DeadLetterNotFound(NotFoundError):
    code = "dead_letter_not_found"

    def __init__(self, letter: str | int) -> None:
        super().__init__(f"no dead letter {letter}")


class DeadLetterNotReplayable(ConflictError):
    code = "dead_letter_not_replayable"

    def __init__(self, queue: str) -> None:
        super().__init__(f"{queue} is a bus subscriber's: its dead letters can only be discarded")


class DeadLettersUnavailable(Exception):
    """The backend keeping the dead letters cannot be reached (a broker that is down)."""


def replayable(queue: str) -> bool:
    """A command queue's dead letter goes back on its queue; a bus subscriber's has none to
    go back to (the bus delivers in order), so it can only be discarded."""
    return queue.removesuffix(DEAD_SUFFIX).startswith(COMMAND_QUEUES)


@dataclass(frozen=True)
class WaitingLetter:
    """A dead letter waiting for an operator."""

    key: str  # what the desk's decisions take: a row's id, or a message's id
    queue: str  # the dead-letter queue it is on, `<queue>.dead`
    message_id: str
    reason: str
    dead_at: datetime


@dataclass(frozen=True)
class Decision:
    """What an operator decided on a dead letter, as recorded."""

    id: int
    letter: str
    queue: str
    message_id: str
    decision: Verdict
    actor_role: str
    actor_subject: str
    decided_at: datetime
    note: str | None


@dataclass(frozen=True)
class DecisionPage:
    items: list[Decision]
    next_cursor: str | None


@dataclass(frozen=True)
class Decided:
    """A decision just taken: the letter's queue, and the queue it is back on (replay)."""

    letter: str
    queue: str
    message_id: str
    decision: Verdict

    @property
    def back_on(self) -> str:
        return self.queue.removesuffix(DEAD_SUFFIX)


class DeadLetterDesk(Protocol):
    async def letters(self, limit: int | None = 500) -> list[WaitingLetter]:
        """The dead letters waiting, at most `limit` of each queue (None: all);
        `DeadLettersUnavailable` when their backend cannot be reached."""
        ...

    async def replay(
        self, key: str, actor: Actor, now: datetime, note: str | None = None
    ) -> Decided:
        """Put the message back on its command queue, once, and record it."""
        ...

    async def discard(
        self, key: str, actor: Actor, now: datetime, note: str | None = None
    ) -> Decided:
        """Drop the message for good, and record it."""
        ...

    async def decisions(self, limit: int, cursor: str | None = None) -> DecisionPage:
        """The decisions recorded, newest first."""
        ...
