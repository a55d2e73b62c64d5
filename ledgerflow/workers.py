"""The platform's long-running workers (`ledgerflow worker NAME`).

- one per workflow (`sms`, `orders`, ...): its process managers and work engine;
- `projections`: every read model, and the platform's state as metrics (lag, backlog,
  parked items: `ledgerflow.metrics`); `relay`: every integration event to the bus;
- `ingester`: every command queue and inbound stream.

Each runs until `stop` is set, in as many processes as wanted: followers elect one
leader among them, the work engine shares due work with `SKIP LOCKED`, and queue
consumers share the queue.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable

from adapters.follower import run_followers
from adapters.messaging.factory import build_messaging
from adapters.relay import EventRelay
from ledgerflow.bootstrap import platform_session
from ledgerflow.metrics import platform_status_metrics
from ledgerflow.settings import Settings
from ledgerflow.workflows import WORKFLOWS

Worker = Callable[[Settings, asyncio.Event], Awaitable[None]]


async def run_workflow_worker(name: str, settings: Settings, stop: asyncio.Event) -> None:
    async with platform_session(settings, only={name}) as platform:
        await platform.workflows[name].run_worker(stop)


async def run_projections(settings: Settings, stop: asyncio.Event) -> None:
    async with platform_session(settings) as platform:
        with platform_status_metrics(platform):
            await run_followers(
                platform.projections(),
                stop,
                platform.database_url,
                group="projections",
                min_interval=settings.projection_min_interval_seconds,
            )


async def run_relay(settings: Settings, stop: asyncio.Event) -> None:
    async with platform_session(settings) as platform:
        _, bus = build_messaging(platform.database_url, settings.amqp_url)
        try:
            relays = [
                platform.core.follower(application, EventRelay(name, to_message, bus), 100)
                for name, workflow in platform.workflows.items()
                for application, to_message in workflow.integration_messages()
            ]
            await run_followers(
                relays,
                stop,
                platform.database_url,
                group="relay",
                min_interval=settings.follower_min_interval_seconds,
            )
        finally:
            await bus.close()


async def run_ingester(settings: Settings, stop: asyncio.Event) -> None:
    async with platform_session(settings) as platform:
        queue, bus = build_messaging(platform.database_url, settings.amqp_url)
        try:
            consumers = [
                queue.consume(queue_name, handler, stop)
                for workflow in platform.workflows.values()
                for queue_name, handler in workflow.command_handlers().items()
            ]
            streams = [
                stream
                for workflow in platform.workflows.values()
                for stream in workflow.ingesters(stop)
            ]
            await asyncio.gather(*consumers, *streams)
        finally:
            await queue.close()
            await bus.close()


def workers() -> dict[str, Worker]:
    named: dict[str, Worker] = {
        cls.name: functools.partial(run_workflow_worker, cls.name)
        for cls in WORKFLOWS
        if cls.has_worker()
    }
    return named | {
        "projections": run_projections,
        "relay": run_relay,
        "ingester": run_ingester,
    }
