"""The lending workflow's wiring: loan applications on the platform side, and the poller
service (`ledgerflow worker lending`) that talks to the bank partner.

The two sides share no database state: the relay publishes `lending.ApplicationSubmitted`
on the event bus, the poller turns each into due work of its own, polls the partner and
sends each result back as a command on `ledgerflow.commands.lending`, which the ingester
records on the application (a repeat is a no-op). RabbitMQ carries both directions when
`AMQP_URL` is set, PostgreSQL otherwise.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from datetime import timedelta

from eventsourcing.application import Application
from pydantic import ValidationError

from adapters.bank_partner import HttpBankPartner
from adapters.eventstore import GroupCommitter
from adapters.follower import Follower
from adapters.lending_poller import work_intake
from adapters.messaging.factory import build_messaging
from adapters.relay import ToMessage
from adapters.work import WorkEngine, WorkStore
from adapters.work.health import HealthStore
from domain.access import Actor
from domain.lending.commands import POLLER_RESULT
from domain.lending.errors import ApplicationAlreadyFinal, ApplicationNotFound
from domain.messaging import (
    CommandHandler,
    Message,
    PoisonMessage,
    command_queue_name,
)
from domain.work import RetrySettings
from ledgerflow.ports import LendingPorts
from ledgerflow.workflow import Workflow, describe_validation_error
from processes.lending.application import LendingApplication, LendingService
from processes.lending.integration import (
    ToAssess,
    lending_integration_message,
    to_assess_binding_keys,
)
from processes.lending.poller import ApplicationPolling
from projections.lending import PARKED, LendingQueries, LendingView

log = logging.getLogger(__name__)

POLLER_SUBSCRIPTION = "lending-poller"


class LendingWorkflow(Workflow):
    name = "lending"
    simulators = {"bank-partner": "LEDGERFLOW_BANK_PARTNER_URL"}
    parked = (PARKED,)
    command_queues = (command_queue_name("lending"),)
    subscribers = (POLLER_SUBSCRIPTION,)

    application: LendingApplication
    committer: GroupCommitter
    service: LendingService
    queries: LendingQueries

    async def open(self) -> None:
        self.application = await self.core.open_application(LendingApplication)
        self.committer = GroupCommitter(self.application)
        self.service = LendingService(self.application, self.committer.save, self.core.clock)
        self.queries = LendingQueries(self.core.pool)

    async def close(self) -> None:
        await self.committer.close()
        self.application.close()

    def projections(self) -> Sequence[Follower]:
        return [self.core.follower(self.application, LendingView())]

    def integration_messages(self) -> Sequence[tuple[Application, ToMessage]]:
        return [(self.application, lending_integration_message)]

    def command_handlers(self) -> Mapping[str, CommandHandler]:
        return {self.command_queues[0]: poller_result_handler(self.service)}

    async def run_worker(self, stop: asyncio.Event) -> None:
        """The poller service. It uses the bus, the queue, its work rows and the partner;
        never this workflow's event store."""
        core, settings = self.core, self.core.settings
        interval = timedelta(seconds=settings.lending_poll_interval_seconds)
        queue, bus = build_messaging(core.database_url, settings.amqp_url)
        try:
            async with core.http_client("bank-partner") as client:
                ports = self.ports.lending or LendingPorts(
                    partner=HttpBankPartner(client, settings.bank_partner_url)
                )
                backoff = core.retry(budget=False)
                policy = ApplicationPolling(
                    ports.partner,
                    queue,
                    core.clock,
                    interval=interval,
                    deadline=timedelta(seconds=settings.lending_deadline_seconds),
                    # Polled until the deadline, errors retried no slower than the interval.
                    retry=RetrySettings(
                        budget=None,
                        base=min(backoff.base, interval),
                        cap=min(backoff.cap, interval),
                    ),
                )
                engine = WorkEngine(
                    WorkStore(core.pool),
                    [policy],
                    None,  # the poller has no event store: its results leave as commands
                    core.clock,
                    conninfo=core.database_url,
                    concurrency=settings.worker_concurrency,
                    lease_seconds=settings.work_lease_seconds,
                    health=HealthStore(core.pool, core.breaker()),
                )
                intake = work_intake(core.pool, policy, ToAssess.model_validate_json)
                await asyncio.gather(
                    bus.subscribe(POLLER_SUBSCRIPTION, to_assess_binding_keys(), intake, stop),
                    engine.run(stop),
                )
        finally:
            await queue.close()
            await bus.close()


def poller_result_handler(service: LendingService) -> CommandHandler:
    """The poller's results from the queue, each recorded once, as the command of the
    sender its headers name (the poller: `lending-poller`, a system actor)."""

    async def handle(message: Message, actor: Actor) -> None:
        try:
            result = POLLER_RESULT.validate_json(message.body)
        except ValidationError as error:
            raise PoisonMessage(
                f"invalid poller result: {describe_validation_error(error)}"
            ) from error
        try:
            recorded = await service.record(result, actor)
        except ApplicationNotFound as error:
            raise PoisonMessage(str(error)) from error
        except ApplicationAlreadyFinal as error:
            # The application ended otherwise meanwhile: the earlier fact stands.
            log.warning(
                "poller result not applicable",
                extra={"application_id": str(result.application_id), "reason": str(error)},
            )
            return
        log.info(
            "poller result",
            extra={
                "application_id": str(result.application_id),
                "command": result.type,
                "recorded": recorded,
                "message_id": message.message_id,
            },
        )

    return handle
