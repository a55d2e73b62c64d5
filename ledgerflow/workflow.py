"""How a workflow plugs into the platform: one `Workflow` subclass per workflow.

The platform's processes (API, workers, relay, ingester, projections, `up`) know only
this interface, so a new workflow adds its own module and one line in
`ledgerflow/workflows/__init__.py`, never a second copy of the engine, the relay or the
wiring. (Its routes' services are handed to the API by `ledgerflow/web.py`.)
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, ClassVar, TypeVar

import httpx
from eventsourcing.application import Application
from psycopg_pool import AsyncConnectionPool
from pydantic import ValidationError

from adapters.eventstore import GroupCommitter, open_application
from adapters.follower import EventProcessor, Follower, run_followers
from adapters.http import build_async_client
from adapters.relay import ToMessage
from adapters.work import AnyWorkPolicy, WorkEngine, WorkScheduler, WorkStore
from adapters.work.health import HealthStore
from domain.clock import Clock
from domain.health import BreakerSettings
from domain.messaging import CommandHandler
from domain.work import RetrySettings
from ledgerflow.ports import Ports
from ledgerflow.settings import Settings, ThirdParty
from projections.parked import ParkedRows

A = TypeVar("A", bound=Application)


@dataclass
class Core:
    """What every workflow of a process shares: settings, database, clock."""

    settings: Settings
    database_url: str
    pool: AsyncConnectionPool[Any]
    clock: Clock

    async def open_application(self, application_class: type[A]) -> A:
        return await asyncio.to_thread(
            open_application,
            application_class,
            self.database_url,
            pool_size=self.settings.pool_size,
            max_overflow=self.settings.pool_max_overflow,
        )

    def follower(
        self, application: Application, processor: EventProcessor, batch_size: int = 500
    ) -> Follower:
        return Follower(application, processor, self.pool, batch_size=batch_size, clock=self.clock)

    def http_client(self, party: ThirdParty, concurrency: int | None = None) -> httpx.AsyncClient:
        """The client of `party`, with at most `concurrency` calls in flight."""
        return build_async_client(
            self.settings.third_party(party),
            timeout_seconds=self.settings.outbound_timeout_seconds,
            max_connections=concurrency or self.settings.worker_concurrency,
        )

    def retry(self, *, budget: bool | float = True) -> RetrySettings:
        """The backoff of the settings, for at most their retry budget after the work first
        became due (or `budget` seconds); `budget=False`: for as long as it takes."""
        settings = self.settings
        seconds = settings.retry_budget_seconds if budget is True else budget
        return RetrySettings(
            budget=timedelta(seconds=seconds) if seconds is not False else None,
            base=timedelta(seconds=settings.retry_base_seconds),
            cap=timedelta(seconds=settings.retry_cap_seconds),
        )

    def breaker(self) -> BreakerSettings:
        settings = self.settings
        return BreakerSettings(
            consecutive_failures=settings.breaker_consecutive_failures,
            failure_ratio=settings.breaker_failure_ratio,
            minimum_calls=settings.breaker_minimum_calls,
            window=timedelta(seconds=settings.breaker_window_seconds),
            open_for=timedelta(seconds=settings.breaker_open_seconds),
            probes=settings.breaker_probes,
        )

    async def run_work(
        self,
        application: Application,
        committer: GroupCommitter,
        policies: Sequence[AnyWorkPolicy],
        stop: asyncio.Event,
        *,
        concurrency: int | None = None,
    ) -> None:
        """A workflow's process managers (one follower each, planning work) and the work
        engine making their calls (each retried by its own `retry`), until `stop`."""
        settings = self.settings
        schedulers = [self.follower(application, WorkScheduler(policy)) for policy in policies]
        engine = WorkEngine(
            WorkStore(self.pool),
            policies,
            committer,
            self.clock,
            conninfo=self.database_url,
            concurrency=concurrency or settings.worker_concurrency,
            lease_seconds=settings.work_lease_seconds,
            health=HealthStore(self.pool, self.breaker()),
        )
        await asyncio.gather(
            run_followers(
                schedulers,
                stop,
                self.database_url,
                group=f"work-scheduler:{application.name}",
                min_interval=settings.follower_min_interval_seconds,
            ),
            engine.run(stop),
        )


class Workflow:
    """One workflow's wiring. Subclasses set the class attributes and override what
    they use; `open()` builds their applications and services."""

    name: ClassVar[str]
    # Simulator name -> the environment variable that points the platform at it.
    simulators: ClassVar[Mapping[str, str]] = {}
    # Data sets `ledgerflow seed NAME` loads -> whether `ledgerflow up` loads it too.
    seeds: ClassVar[Mapping[str, bool]] = {}
    # The rows of its read models that wait for an operator (`ledgerflow status`, metrics,
    # the attention list and its retries: `api.operator_actions`).
    parked: ClassVar[Sequence[ParkedRows]] = ()
    # The command queues it consumes and the bus subscribers it runs: their dead letters
    # wait for operators (a RabbitMQ broker cannot be asked which queues it has).
    command_queues: ClassVar[Sequence[str]] = ()
    subscribers: ClassVar[Sequence[str]] = ()

    def __init__(self, core: Core, ports: Ports) -> None:
        self.core = core
        # Ports put in place of the real ones (a test's fakes); a workflow whose field
        # is None builds its own from the settings.
        self.ports = ports

    async def open(self) -> None:
        """Open applications and build services; called once per process."""

    async def close(self) -> None:
        """Release what `open` built."""

    def projections(self) -> Sequence[Follower]:
        """The workflow's read models (run by `ledgerflow worker projections`)."""
        return []

    def integration_messages(self) -> Sequence[tuple[Application, ToMessage]]:
        """What the relay publishes: per application, how its events become messages."""
        return []

    def command_handlers(self) -> Mapping[str, CommandHandler]:
        """Command queue name -> handler (run by `ledgerflow worker ingester`)."""
        return {}

    def ingesters(self, stop: asyncio.Event) -> Sequence[Awaitable[None]]:
        """Other inbound streams the ingester consumes (e.g. execution reports)."""
        return []

    async def seed(self, name: str) -> int:
        """Load the data set `name` (one of `seeds`); idempotent: a second load adds
        nothing. Answers how many aggregates it created."""
        raise NotImplementedError(f"the {self.name} workflow has no data set {name!r}")

    async def run_worker(self, stop: asyncio.Event) -> None:
        """`ledgerflow worker <name>`: the workflow's process managers and work engine."""
        raise NotImplementedError(f"the {self.name} workflow has no worker of its own")

    @classmethod
    def has_worker(cls) -> bool:
        return cls.run_worker is not Workflow.run_worker


def describe_validation_error(error: ValidationError) -> str:
    """One line naming each field and its rule, for a dead-letter reason."""
    return "; ".join(
        ".".join(str(part) for part in item["loc"]) + f": {item['msg']}"
        if item["loc"]
        else item["msg"]
        for item in error.errors()
    )
