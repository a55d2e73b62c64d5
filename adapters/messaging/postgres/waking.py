"""Waking on LISTEN/NOTIFY. Lost notifications only cost latency: callers also poll."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import psycopg

log = logging.getLogger(__name__)


async def wait_for(event: asyncio.Event, seconds: float) -> bool:
    """True if `event` was set within `seconds`."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), seconds)
    return event.is_set()


class Waker:
    """LISTENs on a dedicated connection and sets `event` for notifications of interest
    (on `channel`, with `payload` unless it is None).

    The connection is used by nothing else, so it never has to share psycopg's lock with a
    query.
    """

    def __init__(self, database_url: str, channel: str, payload: str | None) -> None:
        self._url = database_url
        self._channel = channel
        self._payload = payload
        self.event = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._done = asyncio.Event()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while not self._done.is_set():
            try:
                async with await psycopg.AsyncConnection.connect(
                    self._url, autocommit=True
                ) as conn:
                    await conn.execute(f"LISTEN {self._channel}")
                    self.event.set()  # catch up on anything sent before LISTEN
                    while not self._done.is_set():
                        async for notify in conn.notifies(timeout=0.5):
                            if self._payload is None or notify.payload == self._payload:
                                self.event.set()
            except psycopg.Error as error:
                log.warning("LISTEN %s failed, retrying: %s", self._channel, error)
                await wait_for(self._done, 1.0)

    async def stop(self) -> None:
        self._done.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, psycopg.Error):
                await self._task
