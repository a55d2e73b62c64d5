"""The exchange's execution report stream, consumed into the event store.

`ExecutionReportIngester` reads the simulator's WebSocket (`/v1/executions?after=N`),
records reports in batches through a callback (the orders service: many reports per
group-committed save), and stores in PostgreSQL the highest sequence number below which
every report is recorded. After a dropped connection it resumes from what it has
received; after a restart, from the stored position. Reports are therefore delivered at
least once; the `Order` aggregate drops repeats by execution id, and reports arriving
out of order are fine (each fill stands alone; the position only moves over a gap once
it is filled).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import websockets
from psycopg_pool import AsyncConnectionPool
from websockets.asyncio.client import connect

from domain.orders.ports import ExecutionReport

log = logging.getLogger(__name__)

RecordReports = Callable[[Sequence[ExecutionReport]], Awaitable[Any]]


class StreamPositions:
    """Where each inbound stream is recorded up to (a row per stream)."""

    def __init__(self, pool: AsyncConnectionPool[Any]) -> None:
        self.pool = pool

    async def load(self, stream: str) -> int:
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT position FROM ledgerflow_stream_positions WHERE stream = %s", (stream,)
            )
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def save(self, stream: str, position: int) -> None:
        async with self.pool.connection() as conn:
            await conn.execute(
                "INSERT INTO ledgerflow_stream_positions (stream, position) VALUES (%s, %s)"
                " ON CONFLICT (stream) DO UPDATE SET position = greatest("
                "ledgerflow_stream_positions.position, EXCLUDED.position), updated_at = now()",
                (stream, position),
            )


class Watermark:
    """The highest n such that every sequence number up to n has been seen."""

    def __init__(self, position: int) -> None:
        self.position = position
        self._above: set[int] = set()

    def seen(self, sequence: int) -> bool:
        return sequence <= self.position or sequence in self._above

    def add(self, sequences: Iterable[int]) -> None:
        for sequence in sequences:
            if sequence > self.position:
                self._above.add(sequence)
        while self.position + 1 in self._above:
            self.position += 1
            self._above.remove(self.position)


def parse_frame(data: str | bytes) -> list[ExecutionReport]:
    """The reports of one frame; a malformed report is logged and skipped."""
    reports = []
    for raw in json.loads(data).get("reports", []):
        try:
            reports.append(
                ExecutionReport(
                    sequence=int(raw["sequence"]),
                    execution_id=str(raw["execution_id"]),
                    order_id=UUID(raw["order_id"]),
                    quantity=int(raw["quantity"]),
                    price=Decimal(str(raw["price"])),
                    executed_at=datetime.fromisoformat(raw["executed_at"]),
                )
            )
        except (KeyError, TypeError, ValueError, ArithmeticError) as error:
            log.warning("malformed execution report skipped", extra={"error": str(error)})
    return reports


class ExecutionReportIngester:
    def __init__(
        self,
        exchange_url: str,
        record: RecordReports,
        positions: StreamPositions,
        *,
        stream: str = "exchange.executions",
        max_batch: int = 2000,
        linger_seconds: float = 0.02,
        reconnect_base_seconds: float = 0.1,
        reconnect_cap_seconds: float = 5.0,
    ) -> None:
        base = exchange_url.rstrip("/")
        self.url = "ws" + base.removeprefix("http") + "/v1/executions"
        self.record = record
        self.positions = positions
        self.stream = stream
        self.max_batch = max_batch
        self.linger_seconds = linger_seconds
        self.reconnect_base_seconds = reconnect_base_seconds
        self.reconnect_cap_seconds = reconnect_cap_seconds
        self.recorded_total = 0
        self.connections = 0

    async def run(self, stop: asyncio.Event) -> None:
        recorded = Watermark(await self.positions.load(self.stream))
        received = Watermark(recorded.position)
        queue: asyncio.Queue[ExecutionReport] = asyncio.Queue()
        reader = asyncio.create_task(self._read(stop, queue, received), name="executions-read")
        try:
            while not stop.is_set():
                batch = await self._next_batch(queue, stop)
                if batch and await self._record(batch, stop):
                    recorded.add(report.sequence for report in batch)
                    await self.positions.save(self.stream, recorded.position)
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader

    async def _next_batch(
        self, queue: asyncio.Queue[ExecutionReport], stop: asyncio.Event
    ) -> list[ExecutionReport]:
        try:
            first = await asyncio.wait_for(queue.get(), timeout=0.5)
        except TimeoutError:
            return []
        batch = [first]
        if queue.qsize() < self.max_batch:  # let a burst gather, briefly
            await asyncio.sleep(self.linger_seconds)
        while len(batch) < self.max_batch and not queue.empty():
            batch.append(queue.get_nowait())
        return batch

    async def _record(self, batch: list[ExecutionReport], stop: asyncio.Event) -> bool:
        """Record the batch, retrying until it is recorded or the ingester stops."""
        delay = self.reconnect_base_seconds
        while True:
            try:
                await self.record(batch)
            except Exception as error:
                log.warning(
                    "execution reports not recorded; retrying",
                    extra={"reports": len(batch), "error": str(error)},
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=delay)
                if stop.is_set():
                    return False
                delay = min(self.reconnect_cap_seconds, delay * 2)
                continue
            self.recorded_total += len(batch)
            return True

    async def _read(
        self, stop: asyncio.Event, queue: asyncio.Queue[ExecutionReport], received: Watermark
    ) -> None:
        delay = self.reconnect_base_seconds
        while not stop.is_set():
            url = f"{self.url}?after={received.position}"
            try:
                async with connect(url, max_size=2**24, open_timeout=5) as socket:
                    self.connections += 1
                    delay = self.reconnect_base_seconds
                    async for message in socket:
                        fresh = [r for r in parse_frame(message) if not received.seen(r.sequence)]
                        received.add(r.sequence for r in fresh)
                        for report in fresh:
                            queue.put_nowait(report)
            except (OSError, TimeoutError, websockets.WebSocketException) as error:
                log.info(
                    "execution stream disconnected; resuming",
                    extra={"after": received.position, "error": str(error)},
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=delay)
            delay = min(self.reconnect_cap_seconds, delay * 2)
