"""The composition root: builds the platform's parts from settings, fakes welcome.

Tests pass their own `clock` or `sms_provider` (hand-written fakes of the ports);
everything else is the real thing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
from psycopg_pool import AsyncConnectionPool

from adapters.clock import SharedOffsetClock
from adapters.eventstore import GroupCommitter, open_application
from adapters.follower import Follower
from adapters.http import build_async_client
from adapters.sms_provider import HttpSmsProvider
from adapters.work import WorkEngine, WorkScheduler, WorkStore
from domain.clock import Clock, SystemClock
from domain.sms_provider import SmsProvider
from domain.work import RetryPolicy
from ledgerflow.settings import Settings
from processes.sms.application import SmsApplication, SmsService
from processes.sms.dispatch import SmsDispatch
from projections.sms import SmsQueries, SmsView


@dataclass
class Platform:
    settings: Settings
    database_url: str
    pool: AsyncConnectionPool[Any]
    clock: Clock
    sms_application: SmsApplication
    sms_committer: GroupCommitter
    sms: SmsService
    sms_queries: SmsQueries
    _closers: list[Any] = field(default_factory=list)

    def projections(self) -> list[Follower]:
        """Every read model of the platform, by name."""
        return [Follower(self.sms_application, SmsView(), self.pool)]

    async def close(self) -> None:
        for close in reversed(self._closers):
            await close()
        await self.sms_committer.close()
        await self.pool.close()
        self.sms_application.close()


async def open_platform(settings: Settings, *, clock: Clock | None = None) -> Platform:
    if not settings.database_url:
        raise RuntimeError("DATABASE_URL is not set (ledgerflow up provides one)")
    url = settings.database_url
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
        url,
        min_size=1,
        max_size=settings.side_pool_size,
        open=False,
        kwargs={"autocommit": True},
    )
    await pool.open(wait=True, timeout=15)
    closers: list[Any] = []
    if clock is None:
        if settings.test_mode:
            shared = SharedOffsetClock(pool)
            await shared.setup()
            stop = asyncio.Event()
            task = asyncio.create_task(shared.refresh_forever(stop))

            async def stop_clock() -> None:
                stop.set()
                await task

            closers.append(stop_clock)
            clock = shared
        else:
            clock = SystemClock()
    sms_application = await asyncio.to_thread(
        open_application,
        SmsApplication,
        url,
        pool_size=settings.pool_size,
        max_overflow=settings.pool_max_overflow,
    )
    committer = GroupCommitter(sms_application)
    platform = Platform(
        settings=settings,
        database_url=url,
        pool=pool,
        clock=clock,
        sms_application=sms_application,
        sms_committer=committer,
        sms=SmsService(sms_application, committer.save, clock),
        sms_queries=SmsQueries(pool),
        _closers=closers,
    )
    for follower in platform.projections():
        await follower.setup()
    return platform


@contextlib.asynccontextmanager
async def platform_session(settings: Settings, **overrides: Any) -> AsyncIterator[Platform]:
    platform = await open_platform(settings, **overrides)
    try:
        yield platform
    finally:
        await platform.close()


def http_client(settings: Settings) -> httpx.AsyncClient:
    return build_async_client(
        timeout_seconds=settings.outbound_timeout_seconds,
        max_connections=settings.worker_concurrency,
    )


def sms_work(platform: Platform, provider: SmsProvider) -> tuple[Follower, WorkEngine]:
    """The SMS process manager (a follower planning work) and the engine doing it."""
    settings = platform.settings
    dispatch = SmsDispatch(platform.sms_application, provider)
    scheduler = Follower(
        platform.sms_application,
        WorkScheduler(dispatch, max_attempts=settings.max_attempts),
        platform.pool,
    )
    engine = WorkEngine(
        WorkStore(platform.pool),
        [dispatch],
        platform.sms_committer,
        platform.clock,
        conninfo=platform.database_url,
        concurrency=settings.worker_concurrency,
        lease_seconds=settings.work_lease_seconds,
        retry=RetryPolicy(settings.retry_base_seconds, settings.retry_cap_seconds),
    )
    return scheduler, engine


def default_sms_provider(settings: Settings, client: httpx.AsyncClient) -> SmsProvider:
    return HttpSmsProvider(client, settings.sms_provider_url)
