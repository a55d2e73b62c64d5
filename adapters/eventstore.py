"""The event store: `eventsourcing` applications on PostgreSQL, and group commit.

`GroupCommitter` collects the aggregates that concurrent requests want saved and writes
them in one `Application.save(*aggregates)` transaction. The library locks the events
table for every insert, so one save per request serializes every writer; one save per
batch does not (about 5x the throughput of one save per request on this hardware).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from typing import Any, ClassVar, TypeVar, cast
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate, CanMutateAggregate
from eventsourcing.persistence import (
    IntegrityError,
    InterfaceError,
    Notification,
    OperationalError,
    StoredEvent,
)
from eventsourcing.postgres import (
    PostgresAggregateRecorder,
    PostgresApplicationRecorder,
    PostgresDatastore,
    PostgresFactory,
)
from eventsourcing.utils import retry
from psycopg.sql import SQL, Identifier

from adapters.batching import AsyncBatcher
from adapters.postgres import eventsourcing_env, schema_lock
from adapters.write_positions import note_recorded

A = TypeVar("A", bound=Application)
_Events = tuple[CanMutateAggregate, ...]


class OneTripApplicationRecorder(PostgresApplicationRecorder):
    """Appends a transaction's events with ONE statement, its own transaction.

    The library's insert sends BEGIN, the table lock and the INSERT, waits for the
    answer, then sends COMMIT: every writer holds the events table's EXCLUSIVE lock
    across a round trip to its own process. A busy or low-priority process (a worker
    under `nice`, its thread waiting for the GIL) then stalls every other writer of the
    table, the API included. Here a function takes the lock, notifies and inserts, and
    the statement commits on its own (autocommit): the server holds the lock only while
    it works. Same lock, same order: commit order still equals notification order.
    """

    def __init__(self, datastore: PostgresDatastore, events_table_name: str = "stored_events"):
        super().__init__(datastore, events_table_name=events_table_name)
        schema = Identifier(self.datastore.schema)
        function = Identifier(f"ledgerflow_append_{self.events_table_name}")
        self.sql_create_statements.append(
            SQL(
                "CREATE OR REPLACE FUNCTION {schema}.{function}("
                "ids uuid[], versions bigint[], topics text[], states bytea[]) "
                "RETURNS SETOF bigint LANGUAGE plpgsql AS $$ BEGIN "
                "SET LOCAL lock_timeout = '{lock_timeout}s'; "
                "LOCK TABLE {schema}.{table} IN EXCLUSIVE MODE; "
                "NOTIFY {channel}; "
                "RETURN QUERY INSERT INTO {schema}.{table} "
                "(originator_id, originator_version, topic, state) "
                "SELECT * FROM unnest(ids, versions, topics, states) "
                "RETURNING notification_id; "
                "END $$"
            ).format(
                schema=schema,
                function=function,
                lock_timeout=self.datastore.lock_timeout,
                table=Identifier(self.events_table_name),
                channel=Identifier(self.channel_name),
            )
        )
        # Binary parameters: psycopg dumps the four arrays in C (about a tenth of the
        # client's CPU per event of the text format) and the server need not parse them.
        self._append = SQL(
            "SELECT notification_id FROM {schema}.{function}"
            "(%b::uuid[], %b::bigint[], %b::text[], %b::bytea[]) AS appended(notification_id)"
        ).format(schema=schema, function=function)

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        if not stored_events:
            return None
        columns = (
            [event.originator_id for event in stored_events],
            [event.originator_version for event in stored_events],
            [event.topic for event in stored_events],
            [event.state for event in stored_events],
        )
        with self.datastore.get_connection() as conn, conn.cursor() as cursor:
            assert conn.autocommit  # the statement is its transaction
            cursor.execute(self._append, columns, prepare=True)
            return [row["notification_id"] for row in cursor.fetchall()]


class SharedPostgresFactory(PostgresFactory):
    """Every application of a process shares one datastore, hence one connection pool.

    Five workflows' applications in one process would otherwise hold five pools; with a
    dozen processes under `ledgerflow up` that alone nears PostgreSQL's 100 connections.
    The datastore is closed when the last application using it closes.
    """

    application_recorder_class = OneTripApplicationRecorder

    _shared: ClassVar[dict[tuple[str, ...], tuple[PostgresDatastore, int]]] = {}
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, env: Any) -> None:
        super().__init__(env)  # builds an unopened datastore: no connection yet
        key = tuple(
            str(self.env.get(name) or "")
            for name in (
                self.POSTGRES_DBNAME,
                self.POSTGRES_HOST,
                self.POSTGRES_PORT,
                self.POSTGRES_USER,
                self.POSTGRES_SCHEMA,
            )
        )
        self._key = key
        with self._lock:
            shared, users = self._shared.get(key, (self.datastore, 0))
            self._shared[key] = (shared, users + 1)
        self.datastore = shared

    def close(self) -> None:
        # Applications close explicitly and again when collected: count each one once.
        if getattr(self, "_released", False):
            return
        self._released = True
        with self._lock:
            shared, users = self._shared[self._key]
            if users > 1:
                self._shared[self._key] = (shared, users - 1)
                return
            del self._shared[self._key]
        shared.close()


def open_application(
    application_class: type[A], database_url: str, *, pool_size: int = 2, max_overflow: int = 4
) -> A:
    """An application on PostgreSQL; its tables are created when missing."""
    env = eventsourcing_env(database_url, pool_size=pool_size, max_overflow=max_overflow)
    with schema_lock(database_url):
        return application_class(env=env)


class GroupCommitter:
    """Saves aggregates for many concurrent callers in as few transactions as possible.

    Callers `await save(aggregate)`; the events queued meanwhile are saved in one
    transaction (off the event loop). When a batch fails on a version conflict, its
    groups are saved one by one so only the conflicting caller sees `IntegrityError`.
    Each save notes, for the request it serves (adapters/write_positions.py), the
    position its last event got in the application's log.
    """

    def __init__(self, application: Application, max_batch: int = 500, writers: int = 2) -> None:
        self._application = application
        # Two batches in flight: the next is encoded while the store commits the last.
        # Callers of one aggregate are never in two batches at once (each awaits its save).
        self._batcher: AsyncBatcher[_Events, int | None] = AsyncBatcher(
            self._save_batch, max_batch=max_batch, writers=writers, name="group-commit"
        )

    async def save(self, *aggregates: Aggregate) -> None:
        # Collect now: the events survive a failed batch and are saved again one by one.
        events = tuple(event for aggregate in aggregates for event in aggregate.collect_events())
        position = await self._batcher.submit(events)
        if position is not None:
            note_recorded(self._application.name, position)

    async def close(self) -> None:
        await self._batcher.close()

    async def _save_batch(self, batch: list[_Events]) -> list[BaseException | int | None]:
        try:
            ids = await asyncio.to_thread(self._append, [e for group in batch for e in group])
        except IntegrityError as conflict:
            if len(batch) == 1:
                return [conflict]
            return [await self._save_alone(group) for group in batch]
        positions: list[BaseException | int | None] = []
        end = 0
        for group in batch:
            end += len(group)
            positions.append(ids[end - 1] if group and len(ids) >= end else None)
        return positions

    async def _save_alone(self, events: _Events) -> BaseException | int | None:
        try:
            ids = await asyncio.to_thread(self._append, list(events))
        except Exception as error:
            return error
        return ids[-1] if ids else None

    def _append(self, events: list[CanMutateAggregate]) -> list[int]:
        """Store collected events; answer their notification ids. Given events rather
        than aggregates, `Application.save` takes no snapshot and fills no cache: it only
        checks each event against a runtime Protocol (a third of its CPU per event on
        Python 3.11) before handing them to the event store, as this does directly."""
        recordings = self._application.events.put(events)
        return [recording.notification.id for recording in recordings]


class AggregateReader:
    """Loads aggregates for many concurrent callers with one query per batch.

    A process manager with a hundred calls in flight would otherwise make a hundred
    `repository.get` round trips, each checking a connection out of the pool. Every
    caller gets an aggregate of its own (two callers of one id get two copies), so
    what one does to it does not touch the other's.
    """

    def __init__(self, application: Application, max_batch: int = 500) -> None:
        self._application = application
        self._batcher: AsyncBatcher[UUID, Aggregate] = AsyncBatcher(
            self._load_batch, max_batch=max_batch, name="aggregate-reader"
        )

    async def get(self, aggregate_id: UUID) -> Aggregate:
        """The aggregate at its latest version; `AggregateNotFoundError` when none."""
        return await self._batcher.submit(aggregate_id)

    async def close(self) -> None:
        await self._batcher.close()

    async def _load_batch(self, ids: list[UUID]) -> list[Aggregate | BaseException]:
        return await asyncio.to_thread(load_aggregates, self._application, ids)


@retry((InterfaceError, OperationalError), max_attempts=3, wait=0.2)
def load_aggregates(
    application: Application, ids: Sequence[UUID]
) -> list[Aggregate | BaseException]:
    """`ids`' aggregates (or `AggregateNotFoundError`), in order, from one query."""
    recorder = application.recorder
    if not isinstance(recorder, PostgresAggregateRecorder):  # open_application's store
        raise TypeError(f"{application.name} does not store its events in PostgreSQL")
    statement = SQL(
        "SELECT originator_id, originator_version, topic, state FROM {schema}.{table}"
        " WHERE originator_id = ANY(%b) ORDER BY originator_id, originator_version"
    ).format(
        schema=Identifier(recorder.datastore.schema),
        table=Identifier(recorder.events_table_name),
    )
    stored: dict[UUID, list[StoredEvent]] = {}
    # The ids go in binary (dumped in C); the rows come back as text, which psycopg
    # loads faster than binary uuids.
    with recorder.datastore.get_connection() as conn, conn.cursor() as cursor:
        cursor.execute(statement, (list(set(ids)),), prepare=True)
        for row in cursor.fetchall():
            stored.setdefault(row["originator_id"], []).append(
                StoredEvent(
                    originator_id=row["originator_id"],
                    originator_version=row["originator_version"],
                    topic=row["topic"],
                    state=bytes(row["state"]),
                )
            )
    to_domain_event = application.mapper.to_domain_event
    results: list[Aggregate | BaseException] = []
    for aggregate_id in ids:
        events = stored.get(aggregate_id)
        if not events:
            results.append(AggregateNotFoundError(f"Aggregate {aggregate_id!r} not found."))
            continue
        # The library's `project_aggregate` asserts each event against a runtime-checkable
        # Protocol, which costs more on Python 3.11 than the mutation itself.
        aggregate: Any = None
        for event in events:
            aggregate = cast(CanMutateAggregate, to_domain_event(event)).mutate(aggregate)
        results.append(cast(Aggregate, aggregate))
    return results


@retry((InterfaceError, OperationalError), max_attempts=3, wait=0.2)
def select_notifications_by_id(
    application: Application, notification_ids: Sequence[int]
) -> list[Notification]:
    """The events of `application`'s log with these notification ids, in log order (a
    follower's set-aside events, read again to retry them)."""
    recorder = application.recorder
    if not isinstance(recorder, PostgresApplicationRecorder):  # open_application's store
        raise TypeError(f"{application.name} does not store its events in PostgreSQL")
    statement = SQL(
        "SELECT notification_id, originator_id, originator_version, topic, state"
        " FROM {schema}.{table} WHERE notification_id = ANY(%s) ORDER BY notification_id"
    ).format(
        schema=Identifier(recorder.datastore.schema),
        table=Identifier(recorder.events_table_name),
    )
    with recorder.datastore.get_connection() as conn, conn.cursor() as cursor:
        cursor.execute(statement, (list(notification_ids),))
        return [
            Notification(
                id=row["notification_id"],
                originator_id=row["originator_id"],
                originator_version=row["originator_version"],
                topic=row["topic"],
                state=bytes(row["state"]),
            )
            for row in cursor.fetchall()
        ]


@retry((InterfaceError, OperationalError), max_attempts=3, wait=0.2)
def notification_id_of(application: Application, originator_id: UUID, version: int) -> int | None:
    """Where an aggregate's event of `version` is in `application`'s log (None: no such
    event): the position a replayed answer names (api/idempotency.py)."""
    recorder = application.recorder
    if not isinstance(recorder, PostgresApplicationRecorder):
        return None  # not the platform's store (a test's in-memory one): no position
    statement = SQL(
        "SELECT notification_id FROM {schema}.{table}"
        " WHERE originator_id = %s AND originator_version = %s"
    ).format(
        schema=Identifier(recorder.datastore.schema),
        table=Identifier(recorder.events_table_name),
    )
    with recorder.datastore.get_connection() as conn, conn.cursor() as cursor:
        cursor.execute(statement, (originator_id, version))
        row = cursor.fetchone()
    return int(row["notification_id"]) if row else None
