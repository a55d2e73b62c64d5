"""Followers: read an application's event log in order and apply it in batches.

Projections, process managers and the event relay are all followers. Each batch of
events is applied in ONE transaction together with the follower's new position, so an
event is applied exactly once and a crash resumes where the last commit left off. The
library's own runner commits once per event; batching is what makes a rebuild fast.

Only one process runs a given follower at a time (a PostgreSQL advisory lock held by
its LISTEN connection); a second one waits as a hot standby.

An event the follower cannot apply (any error but the platform's own: a lost
connection, a serialization failure, a deadlock, a lock timeout) stops its aggregate
only: the follower finds it in the batch (`adapters.set_aside.isolation`), sets the
aggregate aside with the error, applies the rest, and records the aggregate's later
events as waiting behind it, until an operator has the item retried or skipped
(`adapters.set_aside`). The follower carries out those requests itself, at the start of
a catch-up: it is the only writer of what it maintains.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import zlib
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator, Sequence
from typing import Any, Protocol, TypeVar, runtime_checkable
from uuid import UUID

import psycopg
from eventsourcing.application import Application
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import Notification
from psycopg import AsyncConnection, AsyncCursor
from psycopg.sql import SQL, Identifier
from psycopg_pool import AsyncConnectionPool

from adapters.eventstore import select_notifications_by_id
from adapters.set_aside.errors import TRANSIENT, describe, is_transient
from adapters.set_aside.isolation import LogEntry, isolate
from adapters.set_aside.ledger import (
    CHANNEL as SET_ASIDE_CHANNEL,
)
from adapters.set_aside.ledger import (
    RETRY,
    SKIP,
    FollowerLedger,
    FollowerState,
    Outcome,
    Request,
    Resolution,
)
from domain.clock import Clock, SystemClock

log = logging.getLogger(__name__)

Event = DomainEventProtocol[Any]
T = TypeVar("T")


class EventProcessor(Protocol):
    """What a follower applies: a projection, a process manager's planner, the relay."""

    name: str

    async def reset(self, conn: AsyncConnection[Any]) -> None:
        """Forget everything written, before a rebuild from the first event."""

    async def apply(self, cur: AsyncCursor[Any], events: Sequence[Event]) -> None:
        """Apply events in log order, inside the follower's transaction."""


@runtime_checkable
class ReadsTopics(Protocol):
    """A processor that applies only events of these topics (empty: every event)."""

    topics: tuple[str, ...]


@runtime_checkable
class WeighsEvents(Protocol):
    """A processor whose events differ widely in cost: a selection that plans a thousand
    work rows weighs a thousand, an ordinary event one. The follower commits a batch in
    parts of at most `batch_size` weight, so what the first part wrote is visible (work
    can start) while the rest is still being applied."""

    def weight(self, event: Event) -> int: ...


Progress = Callable[[int, int], None]
"""Called after each batch with (position reached, last position in the log)."""


class FollowerConflict(RuntimeError):
    """Another runner moved this follower's position: this one must stop."""


class Follower:
    def __init__(
        self,
        application: Application,
        processor: EventProcessor,
        pool: AsyncConnectionPool[Any],
        *,
        batch_size: int = 500,
        idle_poll_seconds: float = 1.0,
        clock: Clock | None = None,
    ) -> None:
        self.application = application
        self.processor = processor
        self.pool = pool
        self.batch_size = batch_size
        self.idle_poll_seconds = idle_poll_seconds
        self.clock: Clock = clock or SystemClock()
        self.upstream = application.name
        self.ledger = FollowerLedger(processor.name, self.upstream)
        self._recorder: Any = application.recorder
        self._topics = processor.topics if isinstance(processor, ReadsTopics) else ()
        self._blocked: set[UUID] = set()  # aggregates set aside, as of this catch-up

    @property
    def name(self) -> str:
        return self.processor.name

    async def setup(self) -> None:
        """Register the follower's position (at the start of the log when it is new)."""
        async with self.pool.connection() as conn:
            await conn.execute(
                "INSERT INTO ledgerflow_positions (follower, upstream) VALUES (%s, %s)"
                " ON CONFLICT DO NOTHING",
                (self.name, self.upstream),
            )

    async def position(self) -> int:
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT position FROM ledgerflow_positions WHERE follower = %s AND upstream = %s",
                (self.name, self.upstream),
            )
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def head(self) -> int:
        return int(await asyncio.to_thread(self._recorder.max_notification_id) or 0)

    async def catch_up(self, progress: Progress | None = None) -> int:
        """Carry out operators' requests, then apply every event recorded so far; answer
        how many events were applied (set-aside and waiting ones are not)."""
        state = await self._state()
        if state.requests_waiting:
            await self._carry_out_requests()
            state = await self._state()
        position = state.position
        self._blocked = set(state.blocked)
        head = await self.head() if progress else 0
        applied = 0
        # The next part is read and decoded in a thread while this one is applied: the
        # decoding (Python) and the writing (mostly PostgreSQL's) overlap. Each part is
        # still applied as soon as it is decoded, so the first part of a heavy batch is
        # visible without waiting for the rest to be decoded and weighed.
        async with contextlib.aclosing(_read_ahead(self._stream(position))) as parts:
            async for entries, reached in parts:
                applied += await self._apply(entries, position, reached)
                position = reached
                if progress:
                    progress(position, max(head, position))
        return applied

    async def _state(self) -> FollowerState:
        async with self.pool.connection() as conn:
            return await self.ledger.state(conn)

    async def _apply(self, entries: Sequence[LogEntry], position: int, reached: int) -> int:
        """Apply entries and move the position from `position` to `reached`, atomically;
        answer how many were applied. Entries of aggregates set aside wait; when the
        batch fails, it is applied again in parts, to set aside only what fails."""
        waiting: list[LogEntry] = []
        candidates: list[LogEntry] = []
        for entry in entries:
            (waiting if entry.aggregate_id in self._blocked else candidates).append(entry)
        failed: Exception | None = None
        if all(entry.error is None for entry in candidates):
            try:
                async with self._transaction(applying=bool(candidates)) as (_, cur):
                    if candidates:
                        await self._apply_whole(cur, candidates)
                    await self.ledger.wait(cur, waiting)
                    await self._move(cur, position, reached)
                return len(candidates)
            except _Unapplied as unapplied:
                failed = unapplied.error
        async with self._transaction(applying=True) as (conn, cur):
            isolated = await isolate(
                candidates, functools.partial(self._attempt, conn, cur), failed_with=failed
            )
            await self.ledger.set_aside(cur, isolated.failed, self.clock.now())
            await self.ledger.wait(cur, [*waiting, *isolated.waiting])
            await self._move(cur, position, reached)
        for failure in isolated.failed:
            self._blocked.add(failure.entry.aggregate_id)
            log.warning(
                "event set aside",
                extra={
                    "follower": self.name,
                    "upstream": self.upstream,
                    "notification_id": failure.entry.notification_id,
                    "aggregate_id": str(failure.entry.aggregate_id),
                    "version": failure.entry.version,
                    "error": describe(failure.error).type,
                },
            )
        return len(isolated.applied)

    @contextlib.asynccontextmanager
    async def _transaction(
        self, *, applying: bool
    ) -> AsyncIterator[tuple[AsyncConnection[Any], AsyncCursor[Any]]]:
        async with self.pool.connection() as conn, conn.transaction():
            cur = conn.cursor()
            if applying:
                # Read models start empty and grow fast. A generic plan cached while a
                # table was small (hash join on a sequential scan) stays until the next
                # ANALYZE: a billing run's attempt updates scanned their whole table,
                # 114 us a row instead of 10. Plan each statement for the table as it is.
                await cur.execute("SET LOCAL plan_cache_mode = force_custom_plan")
            yield conn, cur

    async def _apply_whole(self, cur: AsyncCursor[Any], entries: Sequence[LogEntry]) -> None:
        try:
            await self.processor.apply(cur, [entry.event for entry in entries])
        except Exception as error:
            if is_transient(error):
                raise
            raise _Unapplied(error) from error

    async def _attempt(
        self, conn: AsyncConnection[Any], cur: AsyncCursor[Any], entries: Sequence[LogEntry]
    ) -> None:
        """Apply a part of a batch in a savepoint: undone alone when it fails."""
        async with conn.transaction():
            await self.processor.apply(cur, [entry.event for entry in entries])

    async def _move(self, cur: AsyncCursor[Any], position: int, reached: int) -> None:
        await cur.execute(
            "UPDATE ledgerflow_positions SET position = %s, updated_at = now()"
            " WHERE follower = %s AND upstream = %s AND position = %s",
            (reached, self.name, self.upstream, position),
        )
        if cur.rowcount != 1:
            raise FollowerConflict(f"{self.name}: position moved by another runner")

    async def _carry_out_requests(self) -> None:
        async with self.pool.connection() as conn:
            requests = await self.ledger.requests(conn)
        for request in requests:
            await self._carry_out(request)

    async def _carry_out(self, request: Request) -> None:
        """An operator's request, in one transaction: a retry applies the set-aside event
        and those waiting behind it, in order, as far as they go; a skip closes the item."""
        async with self._transaction(applying=request.action == RETRY) as (conn, cur):
            item = await self.ledger.lock_item(cur, request.item_id)
            now = self.clock.now()
            if item.resolved:  # closed meanwhile, by a rebuild
                await self.ledger.done(cur, request, now, Outcome.SUPERSEDED)
                return
            if request.action == SKIP:
                await self.ledger.resolve(
                    cur, item, Resolution.SKIPPED, request.actor, now, request.reason
                )
                await self.ledger.done(cur, request, now, Outcome.SKIPPED)
                return
            entries = await asyncio.to_thread(self._read_entries, item.notification_ids)
            isolated = await isolate(entries, functools.partial(self._attempt, conn, cur))
            applied = len(isolated.applied)
            if not isolated.failed:
                await self.ledger.resolve(cur, item, Resolution.RETRIED, request.actor, now)
                await self.ledger.done(cur, request, now, Outcome.APPLIED, applied=applied)
                return
            failure = isolated.failed[0]  # one aggregate: nothing is tried after it
            error = str(describe(failure.error))
            await self.ledger.failed_again(cur, item, failure, now)
            await self.ledger.done(cur, request, now, Outcome.FAILED, applied=applied, error=error)

    def _read_entries(self, notification_ids: Sequence[int]) -> list[LogEntry]:
        found = select_notifications_by_id(self.application, notification_ids)
        return [self._entry(notification) for notification in found]

    def _stream(self, position: int) -> Iterator[tuple[list[LogEntry], int]]:
        """Every part of every batch after `position`, until a read finds nothing new."""
        while True:
            reached = position
            for part in self._parts(position):
                reached = part[1]
                yield part
            if reached == position:
                return
            position = reached

    def _parts(self, position: int) -> Iterator[tuple[list[LogEntry], int]]:
        """The next batch after `position` (read when the first part is asked for; none:
        nothing new) as (entries, position reached) parts of at most `batch_size` weight
        (one part unless the processor weighs its events), each decoded when it is asked
        for; the last part reaches the batch's end, which may lie past its last event
        (skipped topics)."""
        notifications, last_id = self._read_batch(position)
        if last_id is None:
            return
        if not isinstance(self.processor, WeighsEvents):
            yield [self._entry(notification) for notification in notifications], last_id
            return
        part: list[LogEntry] = []
        weight, previous_id = 0, last_id
        for notification in notifications:
            entry = self._entry(notification)
            entry_weight = _weight(self.processor, entry)
            if part and weight + entry_weight > self.batch_size:
                yield part, previous_id
                part, weight = [], 0
            part.append(entry)
            weight += entry_weight
            previous_id = notification.id
        yield part, last_id

    def _entry(self, notification: Notification) -> LogEntry:
        """The notification decoded; an event that cannot be decoded is set aside like
        one that cannot be applied (its aggregate is the stored row's)."""
        try:
            event = self.application.mapper.to_domain_event(notification)
        except Exception as error:
            return _log_entry(notification, None, error)
        return _log_entry(notification, event, None)

    def _read_batch(self, position: int) -> tuple[Sequence[Notification], int | None]:
        """The next batch's notifications (undecoded) and the position the batch reaches
        (None: nothing new)."""
        if self._topics:
            return self._read_topics(position)
        notifications = self._recorder.select_notifications(
            start=position + 1, limit=self.batch_size
        )
        if not notifications:
            return [], None
        return notifications, notifications[-1].id

    def _read_topics(self, position: int) -> tuple[Sequence[Notification], int | None]:
        # Up to the head read first: the store appends under a table lock, so every id
        # below a committed one is committed too, and a batch with no event of interest
        # still moves the position past the events it skipped.
        head = int(self._recorder.max_notification_id() or 0)
        if head <= position:
            return [], None
        notifications = self._recorder.select_notifications(
            start=position + 1, limit=self.batch_size, stop=head, topics=list(self._topics)
        )
        reached = notifications[-1].id if len(notifications) == self.batch_size else head
        return notifications, reached

    async def rebuild(self, progress: Progress | None = None, *, actor: str = "rebuild") -> int:
        """Forget the read model and apply the whole log again. Items set aside before
        are closed (`actor` rebuilt them): what still fails is set aside anew."""
        await self.setup()
        async with self.pool.connection() as conn, conn.transaction():
            await self.processor.reset(conn)
            await self.ledger.close_for_rebuild(conn, actor, self.clock.now())
            await conn.execute(
                "UPDATE ledgerflow_positions SET position = 0, updated_at = now()"
                " WHERE follower = %s AND upstream = %s",
                (self.name, self.upstream),
            )
        return await self.catch_up(progress)

    @property
    def channel(self) -> str:
        return str(self._recorder.channel_name)


async def _read_ahead(items: Iterator[T]) -> AsyncGenerator[T, None]:
    """`items`, each next one made in a thread while the caller works on the one before."""
    upcoming = asyncio.ensure_future(asyncio.to_thread(next, items, None))
    try:
        while (item := await upcoming) is not None:
            upcoming = asyncio.ensure_future(asyncio.to_thread(next, items, None))
            yield item
    finally:
        # A thread cannot be cancelled: let the read in flight finish (its result, or
        # its error, goes with the caller's own).
        with contextlib.suppress(Exception):
            await asyncio.shield(upcoming)


class _Unapplied(Exception):
    """The processor failed on a batch applied whole (the error is the event's)."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


def _log_entry(
    notification: Notification, event: Event | None, error: Exception | None
) -> LogEntry:
    aggregate_id = notification.originator_id
    return LogEntry(
        notification.id,
        aggregate_id if isinstance(aggregate_id, UUID) else UUID(aggregate_id),
        notification.originator_version,
        notification.topic,
        event,
        error,
    )


def _weight(processor: WeighsEvents, entry: LogEntry) -> int:
    if entry.error is not None:
        return 1
    try:
        return processor.weight(entry.event)
    except Exception:  # the event fails again when applied, and is set aside there
        return 1


async def run_followers(
    followers: Sequence[Follower],
    stop: asyncio.Event,
    conninfo: str,
    *,
    group: str,
    min_interval: float = 0.0,
) -> None:
    """Run followers until `stop`, sharing ONE connection for leadership and LISTEN.

    The process that holds the group's advisory lock leads; others wait as standbys.
    A NOTIFY on a channel wakes the followers of that channel; an idle poll catches
    every follower up. One connection per group, not per follower, keeps a process
    with many read models within PostgreSQL's connection limit.

    Under a steady stream of commits the group catches up at most every `min_interval`
    seconds: a NOTIFY that comes sooner waits out the rest of it, so each transaction
    applies a batch instead of the handful of events one commit brings (fewer
    statements and commits per event, on both sides). A lone event after a quiet spell
    is applied at once.

    An operator's request about a set-aside item (NOTIFY on `SET_ASIDE_CHANNEL`) wakes
    every follower of the group. A follower failing in a way nothing set aside (a fault
    of its own bookkeeping) is logged and tried again at the next wake-up: the others
    go on.
    """
    if not followers:
        return
    for follower in followers:
        await follower.setup()
    lock_key = zlib.crc32(f"followers:{group}".encode())
    idle = min(follower.idle_poll_seconds for follower in followers)
    while not stop.is_set():
        try:
            async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
                if not await _lead(conn, lock_key, stop):
                    return
                by_channel: dict[str, list[Follower]] = {SET_ASIDE_CHANNEL: list(followers)}
                for follower in followers:
                    by_channel.setdefault(follower.channel, []).append(follower)
                for channel in by_channel:
                    await conn.execute(SQL("LISTEN {}").format(Identifier(channel)))
                log.info("followers leading", extra={"group": group, "followers": len(followers)})
                woken: Sequence[Follower] = followers
                loop = asyncio.get_running_loop()
                while not stop.is_set():
                    for follower in woken:
                        await _catch_up(follower, group)
                    caught_up_at = loop.time()
                    channels = await _notified_or_stopped(conn, stop, idle)
                    early = caught_up_at + min_interval - loop.time()
                    if channels and early > 0:
                        await _sleep_or_stop(stop, early)
                        channels |= await _notified_or_stopped(conn, stop, 0)
                    woken = (
                        list(
                            dict.fromkeys(
                                f for channel in channels for f in by_channel.get(channel, [])
                            )
                        )
                        if channels
                        else followers
                    )
        except TRANSIENT as error:
            log.warning(
                "followers lost their connection or a service",
                extra={"group": group, "error": str(error)},
            )
            await _sleep_or_stop(stop, 1.0)


async def _catch_up(follower: Follower, group: str) -> None:
    try:
        await follower.catch_up()
    except FollowerConflict:
        raise
    except TRANSIENT:
        raise
    except Exception:
        log.exception(
            "follower failed; tried again at the next wake-up",
            extra={"group": group, "follower": follower.name},
        )


async def _lead(conn: AsyncConnection[Any], lock_key: int, stop: asyncio.Event) -> bool:
    """Take the group's lock (held as long as `conn` lives); False if stopped first."""
    while not stop.is_set():
        cur = await conn.execute("SELECT pg_try_advisory_lock(%s)", (lock_key,))
        row = await cur.fetchone()
        if row and row[0]:
            return True
        await _sleep_or_stop(stop, 1.0)  # a standby: another process leads
    return False


async def _notified_or_stopped(
    conn: AsyncConnection[Any], stop: asyncio.Event, seconds: float
) -> set[str]:
    """Wait for NOTIFYs, `stop`, or `seconds`, whichever comes first; answer the channels
    that were notified (empty: the idle poll, or stopping)."""
    channels: set[str] = set()

    async def notified() -> None:
        async for notify in conn.notifies(timeout=seconds, stop_after=1):
            channels.add(notify.channel)
        # Drain what else arrived meanwhile, without waiting.
        async for notify in conn.notifies(timeout=0):
            channels.add(notify.channel)

    waiter = asyncio.ensure_future(notified())
    stopper = asyncio.ensure_future(stop.wait())
    await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
    for task in (waiter, stopper):
        task.cancel()
    await asyncio.gather(waiter, stopper, return_exceptions=True)
    return channels


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
