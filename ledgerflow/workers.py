"""The platform's long-running workers, one function each (`ledgerflow worker NAME`).

Each runs until `stop` is set, and can run in as many processes as wanted: followers
elect one leader among them, the work engine shares due work with `SKIP LOCKED`, and
queue consumers share the queue.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from pydantic import ValidationError

from adapters.follower import Follower
from adapters.messaging.factory import build_messaging
from adapters.relay import EventRelay
from domain.messaging import Message, PoisonMessage, command_queue_name
from domain.privacy import mask_phone_number
from domain.sms.commands import SendSms
from domain.sms.errors import MessageIdReused
from ledgerflow.bootstrap import (
    Platform,
    default_sms_provider,
    http_client,
    platform_session,
    sms_work,
)
from ledgerflow.settings import Settings
from processes.sms.integration import sms_integration_message

log = logging.getLogger(__name__)

Worker = Callable[[Settings, asyncio.Event], Awaitable[None]]


async def run_sms_worker(settings: Settings, stop: asyncio.Event) -> None:
    async with platform_session(settings) as platform, http_client(settings) as client:
        scheduler, engine = sms_work(platform, default_sms_provider(settings, client))
        await asyncio.gather(scheduler.run(stop, platform.database_url), engine.run(stop))


async def run_projections(settings: Settings, stop: asyncio.Event) -> None:
    async with platform_session(settings) as platform:
        await asyncio.gather(
            *(follower.run(stop, platform.database_url) for follower in platform.projections())
        )


async def run_relay(settings: Settings, stop: asyncio.Event) -> None:
    async with platform_session(settings) as platform:
        assert platform.database_url
        _, bus = build_messaging(platform.database_url, settings.amqp_url)
        try:
            relay = Follower(
                platform.sms_application,
                EventRelay("sms", sms_integration_message, bus),
                platform.pool,
                batch_size=100,
            )
            await relay.run(stop, platform.database_url)
        finally:
            await bus.close()


def send_sms_handler(platform: Platform) -> Callable[[Message], Awaitable[None]]:
    """`SendSms` from the queue: same validation and idempotency as `POST /sms`."""

    async def handle(message: Message) -> None:
        try:
            command = SendSms.model_validate_json(message.body)
        except ValidationError as error:
            raise PoisonMessage(f"invalid SendSms: {_describe(error)}") from error
        try:
            sms, created = await platform.sms.send(command)
        except MessageIdReused as error:
            raise PoisonMessage(str(error)) from error
        log.info(
            "sms accepted from queue",
            extra={
                "sms_id": str(sms.id),
                "new": created,
                "message_id": command.message_id,
                "to": mask_phone_number(command.phone_number),
                "correlation_id": message.correlation_id,
            },
        )

    return handle


def _describe(error: ValidationError) -> str:
    return "; ".join(
        ".".join(str(part) for part in item["loc"]) + f": {item['msg']}"
        if item["loc"]
        else item["msg"]
        for item in error.errors()
    )


async def run_ingester(settings: Settings, stop: asyncio.Event) -> None:
    async with platform_session(settings) as platform:
        assert platform.database_url
        queue, bus = build_messaging(platform.database_url, settings.amqp_url)
        try:
            await queue.consume(command_queue_name("sms"), send_sms_handler(platform), stop)
        finally:
            await queue.close()
            await bus.close()


WORKERS: dict[str, Worker] = {
    "sms": run_sms_worker,
    "projections": run_projections,
    "relay": run_relay,
    "ingester": run_ingester,
}
