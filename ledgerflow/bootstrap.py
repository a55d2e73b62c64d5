"""The composition root: builds the platform's parts from settings, fakes welcome.

A process opens only the workflows it serves (`only=`), so connections stay few, and
refuses to open on a database whose tables are not at its code's revision
(`adapters.migrations.SchemaMismatch`: `ledgerflow db migrate` brings them there).
Tests pass their own `clock`, or a workflow's ports (`ports=Ports(sms=SmsPorts(provider=
fake))`: hand-written fakes); everything else is the real thing, built from settings.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import AsyncIterator, Callable, Collection, Mapping
from datetime import timedelta
from typing import Any, TypeVar

from psycopg_pool import AsyncConnectionPool

from adapters.clock import SharedOffsetClock
from adapters.follower import Follower
from adapters.migrations import check_schema
from adapters.postgres import PoolCheck
from adapters.processes import ProcessHeartbeat, ProcessIdentity
from domain.clock import Clock, SystemClock
from ledgerflow.ports import Ports
from ledgerflow.settings import Settings
from ledgerflow.workflow import Core, Workflow
from ledgerflow.workflows import WORKFLOWS

W = TypeVar("W", bound=Workflow)


class Platform:
    def __init__(
        self, core: Core, workflows: Mapping[str, Workflow], closers: list[Callable[[], Any]]
    ) -> None:
        self.core = core
        self.workflows = dict(workflows)
        self._closers = closers

    @property
    def settings(self) -> Settings:
        return self.core.settings

    @property
    def database_url(self) -> str:
        return self.core.database_url

    @property
    def pool(self) -> AsyncConnectionPool[Any]:
        return self.core.pool

    @property
    def clock(self) -> Clock:
        return self.core.clock

    def get(self, workflow_class: type[W]) -> W:
        workflow = self.workflows.get(workflow_class.name)
        if not isinstance(workflow, workflow_class):
            raise LookupError(f"the {workflow_class.name} workflow is not open in this process")
        return workflow

    def projections(self) -> list[Follower]:
        """Every read model of the open workflows."""
        return [follower for w in self.workflows.values() for follower in w.projections()]

    async def close(self) -> None:
        for workflow in self.workflows.values():
            await workflow.close()
        for close in reversed(self._closers):
            await close()
        await self.core.pool.close()


async def open_platform(
    settings: Settings,
    *,
    clock: Clock | None = None,
    only: Collection[str] | None = None,
    ports: Ports | None = None,
) -> Platform:
    if not settings.database_url:
        raise RuntimeError("DATABASE_URL is not set (ledgerflow up provides one)")
    url = settings.database_url
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
        url,
        min_size=1,
        max_size=settings.side_pool_size,
        max_idle=30,  # give connections from a burst back soon: many processes share a server
        open=False,
        kwargs={"autocommit": True},
        # An idle connection the server closed (a restart, a failover) is replaced before
        # it is handed out, rather than failing the request that draws it.
        check=PoolCheck(),
    )
    await pool.open(wait=True, timeout=15)
    try:
        async with pool.connection() as conn:
            await check_schema(conn)
    except BaseException:
        await pool.close()
        raise
    closers: list[Callable[[], Any]] = []
    if clock is None:
        clock = await _platform_clock(settings, pool, closers)
    core = Core(settings=settings, database_url=url, pool=pool, clock=clock)
    workflows: dict[str, Workflow] = {}
    try:
        for workflow_class in WORKFLOWS:
            if only is not None and workflow_class.name not in only:
                continue
            workflow = workflow_class(core, ports or Ports())
            await workflow.open()
            workflows[workflow.name] = workflow
        platform = Platform(core, workflows, closers)
        for follower in platform.projections():
            await follower.setup()
        if settings.process_name:  # open: it is up
            await _heartbeat(settings, settings.process_name, pool, clock, closers)
    except BaseException:
        for workflow in workflows.values():
            await workflow.close()
        await pool.close()
        raise
    return platform


async def _platform_clock(
    settings: Settings, pool: AsyncConnectionPool[Any], closers: list[Callable[[], Any]]
) -> Clock:
    if not settings.test_mode:
        return SystemClock()
    shared = SharedOffsetClock(pool)
    await shared.refresh()
    stop = asyncio.Event()
    task = asyncio.create_task(shared.refresh_forever(stop))

    async def stop_clock() -> None:
        stop.set()
        await task

    closers.append(stop_clock)
    return shared


async def _heartbeat(
    settings: Settings,
    name: str,
    pool: AsyncConnectionPool[Any],
    clock: Clock,
    closers: list[Callable[[], Any]],
) -> None:
    """Register this process in `ledgerflow_processes` and heartbeat until it closes."""
    heartbeat = ProcessHeartbeat(
        pool,
        clock,
        ProcessIdentity(name, socket.gethostname(), os.getpid()),
        timedelta(seconds=settings.process_heartbeat_seconds),
    )
    await heartbeat.register()
    stop = asyncio.Event()
    task = asyncio.create_task(heartbeat.run(stop))

    async def stop_heartbeat() -> None:
        stop.set()
        await task

    closers.append(stop_heartbeat)


@contextlib.asynccontextmanager
async def platform_session(
    settings: Settings,
    *,
    clock: Clock | None = None,
    only: Collection[str] | None = None,
    ports: Ports | None = None,
) -> AsyncIterator[Platform]:
    platform = await open_platform(settings, clock=clock, only=only, ports=ports)
    try:
        yield platform
    finally:
        await platform.close()
