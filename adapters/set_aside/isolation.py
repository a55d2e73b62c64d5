"""Finding the events of a batch that cannot be applied, without a transaction per event.

A follower applies a batch whole. Only when that fails is the batch split: each half is
tried on its own (in a savepoint), a failing half split again, down to the single events
that fail; so k bad events among n cost about 2k·log2(n) attempts, and a good batch costs
nothing more than before. An event that could not even be decoded fails where it stands.

Order per aggregate holds: the parts are tried in log order, and once an event of an
aggregate has failed, the aggregate is blocked: its later events are not tried but wait
behind it. Other aggregates' events are applied as usual.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple
from uuid import UUID

from adapters.set_aside.errors import is_transient


class LogEntry(NamedTuple):
    """One event of a follower's log as read: decoded (`event`), or not (`error`)."""

    notification_id: int
    aggregate_id: UUID
    version: int
    topic: str
    event: Any  # the domain event; None when it could not be decoded
    error: Exception | None = None


class Failure(NamedTuple):
    entry: LogEntry
    error: Exception


Attempt = Callable[[Sequence[LogEntry]], Awaitable[None]]
"""Applies decoded entries in order, all or none (a savepoint); raises when it cannot."""


@dataclass
class Isolation:
    """What became of a batch's entries, each in log order."""

    applied: list[LogEntry] = field(default_factory=list)
    failed: list[Failure] = field(default_factory=list)
    waiting: list[LogEntry] = field(default_factory=list)  # behind a failed aggregate


async def isolate(
    entries: Sequence[LogEntry],
    attempt: Attempt,
    *,
    blocked: Collection[UUID] = (),
    failed_with: Exception | None = None,
) -> Isolation:
    """Apply `entries` in parts, setting aside each one that fails. Entries of `blocked`
    aggregates (set aside before) wait. `failed_with`: the error `entries` failed with
    when applied whole (so they are split at once). A transient error is raised as it is
    (the caller's transaction is retried whole)."""
    outcome = Isolation()
    stopped = set(blocked)

    def free(part: Sequence[LogEntry]) -> list[LogEntry]:
        kept = []
        for entry in part:
            if entry.aggregate_id in stopped:
                outcome.waiting.append(entry)
            else:
                kept.append(entry)
        return kept

    def fail(entry: LogEntry, error: Exception) -> None:
        outcome.failed.append(Failure(entry, error))
        stopped.add(entry.aggregate_id)

    async def run(part: Sequence[LogEntry], failed: Exception | None = None) -> None:
        kept = free(part)
        if len(kept) != len(part):
            failed = None  # not the part that failed
        if any(entry.error is not None for entry in kept):
            await run_around_undecoded(kept)
            return
        if not kept:
            return
        if failed is None:
            try:
                await attempt(kept)
            except Exception as error:
                if is_transient(error):
                    raise
                failed = error
            else:
                outcome.applied.extend(kept)
                return
        if len(kept) == 1:
            fail(kept[0], failed)
            return
        middle = len(kept) // 2
        await run(kept[:middle])
        await run(kept[middle:])

    async def run_around_undecoded(part: Sequence[LogEntry]) -> None:
        decoded: list[LogEntry] = []
        for entry in part:
            if entry.error is None:
                decoded.append(entry)
                continue
            await run(decoded)
            decoded = []
            if free([entry]):
                fail(entry, entry.error)
        await run(decoded)

    await run(entries, failed_with)
    return outcome
