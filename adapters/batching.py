"""Batching for concurrent callers: many submit, one task writes whatever has queued up.

Each caller awaits its own item's result. This is how the write path and the work
engine turn hundreds of small writes per second into a few transactions.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar, cast

T = TypeVar("T")
R = TypeVar("R")

Flush = Callable[[list[T]], Awaitable[Sequence[R | BaseException]]]
"""Handles a batch; answers one result (None for a write) or error per item, in order."""


class AsyncBatcher(Generic[T, R]):
    def __init__(
        self, flush: Flush[T, R], *, max_batch: int = 500, writers: int = 1, name: str = "batcher"
    ) -> None:
        """`writers` > 1 keeps that many batches in flight: one is encoded while another
        waits for its commit. Use it only where batches are independent of each other."""
        self._flush = flush
        self._max_batch = max_batch
        self._writer_count = writers
        self._name = name
        self._queue: asyncio.Queue[tuple[T, asyncio.Future[R]]] = asyncio.Queue()
        self._writers: list[asyncio.Task[None]] = []

    async def submit(self, item: T) -> R:
        """Returns `item`'s result once its batch is done; raises the error it gave it."""
        if not self._writers or any(writer.done() for writer in self._writers):
            self._writers = [writer for writer in self._writers if not writer.done()] + [
                asyncio.create_task(self._write_forever(), name=f"{self._name}-{n}")
                for n in range(self._writer_count - sum(not w.done() for w in self._writers))
            ]
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        await self._queue.put((item, future))
        return await future

    async def close(self) -> None:
        for writer in self._writers:
            writer.cancel()
        await asyncio.gather(*self._writers, return_exceptions=True)
        self._writers = []

    async def _write_forever(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                outcomes: Sequence[R | BaseException] = await self._flush(
                    [item for item, _ in batch]
                )
            except Exception as error:
                outcomes = [error] * len(batch)
            for (_, future), outcome in zip(batch, outcomes, strict=True):
                if future.done():  # the caller went away (e.g. its request was cancelled)
                    continue
                if isinstance(outcome, BaseException):
                    future.set_exception(outcome)
                else:
                    future.set_result(cast(R, outcome))
