"""The platform's long-running processes in `ledgerflow_processes`, for operators.

- each process (the API, each worker) registers its row, by name and host, when it
  starts (`ProcessHeartbeat.register`) and then heartbeats `last_seen_at`: one UPDATE
  every few seconds on the process's pool, off every hot path;
- a supervisor (`ledgerflow up`) counts a child's restarts and records how it last
  exited (`record_exit`): the child cannot, it is dead, and its next start leaves the
  count alone;
- `processes` reads them back; a process not seen for `STALE_AFTER_HEARTBEATS`
  heartbeats is stale (hung, killed, or its host gone).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import class_row
from psycopg_pool import AsyncConnectionPool

from domain.clock import Clock

log = logging.getLogger(__name__)

STALE_AFTER_HEARTBEATS = 3


def is_stale(last_seen_at: datetime | None, now: datetime, heartbeat: timedelta) -> bool:
    """Not seen for more than `STALE_AFTER_HEARTBEATS` heartbeats (or never seen: a
    child that died before it registered)."""
    return last_seen_at is None or now - last_seen_at > heartbeat * STALE_AFTER_HEARTBEATS


@dataclass(frozen=True)
class ProcessIdentity:
    name: str  # its role, e.g. `api`, `worker-sms`; unique per host
    host: str
    pid: int


@dataclass(frozen=True)
class ProcessRecord:
    name: str
    host: str
    pid: int | None
    started_at: datetime | None  # its current run's start
    last_seen_at: datetime | None  # its last heartbeat
    restarts: int  # counted by its supervisor
    last_exit_code: int | None  # how it last exited: a code, or
    last_exit_signal: str | None  # the signal that killed it (e.g. SIGKILL)
    last_exit_at: datetime | None

    def stale(self, now: datetime, heartbeat: timedelta) -> bool:
        return is_stale(self.last_seen_at, now, heartbeat)


@dataclass(frozen=True)
class ProcessHeartbeat:
    pool: AsyncConnectionPool[Any]
    clock: Clock
    identity: ProcessIdentity
    interval: timedelta

    async def register(self) -> None:
        """This run of the process: its pid and start; the restarts and the last exit
        are its supervisor's to write."""
        now = self.clock.now()
        async with self.pool.connection() as conn:
            await conn.execute(
                "INSERT INTO ledgerflow_processes (name, host, pid, started_at, last_seen_at)"
                " VALUES (%s, %s, %s, %s, %s)"
                " ON CONFLICT (name, host) DO UPDATE SET pid = excluded.pid,"
                " started_at = excluded.started_at, last_seen_at = excluded.last_seen_at",
                (self.identity.name, self.identity.host, self.identity.pid, now, now),
            )

    async def beat(self) -> None:
        async with self.pool.connection() as conn:
            await conn.execute(
                "UPDATE ledgerflow_processes SET last_seen_at = %s"
                " WHERE name = %s AND host = %s AND pid = %s",
                (self.clock.now(), self.identity.name, self.identity.host, self.identity.pid),
            )

    async def run(self, stop: asyncio.Event) -> None:
        """Heartbeat until `stop`; a failed beat is logged and the next one tried (a
        database blip must not stop the process, it only shows as stale)."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.interval.total_seconds())
            if stop.is_set():
                return
            try:
                await self.beat()
            except Exception as error:
                log.warning("heartbeat failed", extra={"error": repr(error)})


def record_exit(database_url: str, name: str, host: str, returncode: int, at: datetime) -> None:
    """A supervised child exited and is restarted: one more restart, and how it exited
    (a negative `returncode` is the signal that killed it, as `subprocess` reports)."""
    code, killed_by = (None, _signal_name(-returncode)) if returncode < 0 else (returncode, None)
    with psycopg.connect(database_url, autocommit=True, connect_timeout=5) as conn:
        conn.execute(
            "INSERT INTO ledgerflow_processes"
            " (name, host, restarts, last_exit_code, last_exit_signal, last_exit_at)"
            " VALUES (%s, %s, 1, %s, %s, %s)"
            " ON CONFLICT (name, host) DO UPDATE SET"
            " restarts = ledgerflow_processes.restarts + 1,"
            " last_exit_code = excluded.last_exit_code,"
            " last_exit_signal = excluded.last_exit_signal,"
            " last_exit_at = excluded.last_exit_at",
            (name, host, code, killed_by, at),
        )


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


async def processes(pool: AsyncConnectionPool[Any]) -> list[ProcessRecord]:
    """Every process registered against this database, by name then host."""
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT to_regclass('ledgerflow_processes') IS NOT NULL")
        exists = await cur.fetchone()
        if not (exists and exists[0]):
            return []
        rows = conn.cursor(row_factory=class_row(ProcessRecord))
        await rows.execute(
            "SELECT name, host, pid, started_at, last_seen_at, restarts, last_exit_code,"
            " last_exit_signal, last_exit_at FROM ledgerflow_processes ORDER BY name, host"
        )
        return await rows.fetchall()
