"""The SMS workflow's wiring: `SendSms` in (HTTP or queue), `SmsSent` out."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping, Sequence

from eventsourcing.application import Application
from pydantic import ValidationError

from adapters.eventstore import GroupCommitter
from adapters.follower import Follower
from adapters.relay import ToMessage
from adapters.sms_provider import HttpSmsProvider
from domain.access import Actor
from domain.messaging import (
    CommandHandler,
    Message,
    PoisonMessage,
    command_queue_name,
)
from domain.privacy import mask_phone_number
from domain.sms.commands import SendSms
from domain.sms.destinations import AllowedCountries
from domain.sms.errors import DestinationCountryNotAllowed, MessageIdReused
from domain.sms.ports import SmsProvider
from ledgerflow.ports import SmsPorts
from ledgerflow.workflow import Workflow, describe_validation_error
from processes.sms.application import SmsApplication, SmsService
from processes.sms.dispatch import SmsDispatch
from processes.sms.integration import sms_integration_message
from projections.sms import PARKED, SmsQueries, SmsView

log = logging.getLogger(__name__)


class SmsWorkflow(Workflow):
    name = "sms"
    simulators = {"sms-provider": "LEDGERFLOW_SMS_PROVIDER_URL"}
    parked = (PARKED,)
    command_queues = (command_queue_name("sms"),)

    application: SmsApplication
    committer: GroupCommitter
    service: SmsService
    queries: SmsQueries

    async def open(self) -> None:
        self.application = await self.core.open_application(SmsApplication)
        self.committer = GroupCommitter(self.application)
        self.service = SmsService(
            self.application,
            self.committer.save,
            self.core.clock,
            AllowedCountries.of(self.core.settings.abuse_limits.sms_allowed_countries),
        )
        self.queries = SmsQueries(self.core.pool)

    async def close(self) -> None:
        await self.committer.close()
        self.application.close()

    def projections(self) -> Sequence[Follower]:
        return [self.core.follower(self.application, SmsView())]

    def integration_messages(self) -> Sequence[tuple[Application, ToMessage]]:
        return [(self.application, sms_integration_message)]

    def command_handlers(self) -> Mapping[str, CommandHandler]:
        return {self.command_queues[0]: send_sms_handler(self.service)}

    async def run_worker(self, stop: asyncio.Event) -> None:
        async with self.provider() as provider:
            budget = self.core.settings.sms_retry_budget_seconds
            dispatch = SmsDispatch(self.application, provider, self.core.retry(budget=budget))
            await self.core.run_work(self.application, self.committer, [dispatch], stop)

    @contextlib.asynccontextmanager
    async def provider(self) -> AsyncIterator[SmsProvider]:
        """The provider the worker sends through: over HTTP with the SMS provider's client
        settings (`LEDGERFLOW_SMS_PROVIDER_*`), unless the ports bring their own."""
        async with self.core.http_client("sms-provider") as client:
            ports = self.ports.sms or SmsPorts(
                provider=HttpSmsProvider(client, self.core.settings.sms_provider_url)
            )
            yield ports.provider


def send_sms_handler(service: SmsService) -> CommandHandler:
    """`SendSms` from the queue: same validation, idempotency and destination rules as
    `POST /sms`, for the client its `client_id` header names, who becomes the SMS's actor
    (the queue dead-letters a message that names none: `deliver_command`)."""

    async def handle(message: Message, actor: Actor) -> None:
        try:
            command = SendSms.model_validate_json(message.body)
        except ValidationError as error:
            raise PoisonMessage(f"invalid SendSms: {describe_validation_error(error)}") from error
        try:
            sms, created = await service.send(command, actor)
        except MessageIdReused as error:
            raise PoisonMessage(str(error)) from error
        except DestinationCountryNotAllowed as error:
            raise PoisonMessage(f"{error.code}: {error}") from error
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
