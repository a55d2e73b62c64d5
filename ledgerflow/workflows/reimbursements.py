"""The reimbursements workflow's wiring: members submit, administrators decide, and the
process managers mail, text (through the SMS workflow's command queue) and pay."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta

import httpx

from adapters.eventstore import GroupCommitter
from adapters.follower import Follower
from adapters.mailer import HttpMailer, SmtpMailer
from adapters.messaging.factory import build_messaging
from adapters.payment_rail import HttpPaymentRail
from adapters.work import AnyWorkPolicy
from domain.actors import SEED
from domain.reimbursements.ports import Mailer
from domain.work import RetrySettings
from ledgerflow.ports import ReimbursementsPorts
from ledgerflow.settings import Settings
from ledgerflow.workflow import Workflow
from processes.reimbursements.application import (
    ReimbursementsApplication,
    ReimbursementsService,
)
from processes.reimbursements.demo_banks import DEMO_BANKS, demo_banks
from processes.reimbursements.notify import MailNotification, SmsNotification
from processes.reimbursements.payment import PaymentCheck, PaymentStart
from projections.reimbursements import PARKED, ReimbursementsQueries, ReimbursementsView


class ReimbursementsWorkflow(Workflow):
    name = "reimbursements"
    simulators = {
        "payment-rail": "LEDGERFLOW_PAYMENT_RAIL_URL",
        "mailbox": "LEDGERFLOW_MAILBOX_URL",
    }
    seeds = {DEMO_BANKS: True}
    parked = (PARKED,)

    application: ReimbursementsApplication
    committer: GroupCommitter
    service: ReimbursementsService
    queries: ReimbursementsQueries

    async def open(self) -> None:
        self.application = await self.core.open_application(ReimbursementsApplication)
        self.committer = GroupCommitter(self.application)
        self.service = ReimbursementsService(self.application, self.committer.save, self.core.clock)
        self.queries = ReimbursementsQueries(self.core.pool)

    async def close(self) -> None:
        await self.committer.close()
        self.application.close()

    def projections(self) -> Sequence[Follower]:
        return [self.core.follower(self.application, ReimbursementsView())]

    async def seed(self, name: str) -> int:
        if name != DEMO_BANKS:
            return await super().seed(name)
        return await self.service.register(*demo_banks(SEED))

    async def run_worker(self, stop: asyncio.Event) -> None:
        if self.ports.reimbursements is not None:
            await self._work(self.ports.reimbursements, stop)
            return
        settings = self.core.settings
        queue, bus = build_messaging(self.core.database_url, settings.amqp_url)
        try:
            async with (
                self.core.http_client("payment-rail") as client,
                self.core.http_client("mailbox") as mailbox,
            ):
                ports = ReimbursementsPorts(
                    mailer=build_mailer(settings, mailbox),
                    rail=HttpPaymentRail(client, settings.payment_rail_url),
                    queue=queue,
                )
                await self._work(ports, stop)
        finally:
            await queue.close()
            await bus.close()

    async def _work(self, ports: ReimbursementsPorts, stop: asyncio.Event) -> None:
        settings, retry = self.core.settings, self.core.retry()
        app = self.application
        poll = timedelta(seconds=settings.reimbursements_payment_poll_seconds)
        deadline = timedelta(seconds=settings.reimbursements_payment_deadline_seconds)
        policies: list[AnyWorkPolicy] = [
            MailNotification(app, ports.mailer, settings.reimbursements_mail_from, retry),
            SmsNotification(app, ports.queue, retry),
            PaymentStart(app, ports.rail, retry),
            # Polled until its deadline; a failed status call is retried meanwhile.
            PaymentCheck(
                app,
                ports.rail,
                poll_interval=poll,
                deadline=deadline,
                retry=RetrySettings(None, retry.base, retry.cap),
            ),
        ]
        await self.core.run_work(app, self.committer, policies, stop)


def build_mailer(settings: Settings, client: httpx.AsyncClient) -> Mailer:
    if settings.reimbursements_mailer == "smtp":
        return SmtpMailer(
            settings.reimbursements_smtp_host,
            settings.reimbursements_smtp_port,
            timeout_seconds=settings.outbound_timeout_seconds,
            starttls=settings.reimbursements_smtp_starttls,
            username=settings.reimbursements_smtp_username,
            password=settings.reimbursements_smtp_password,
        )
    return HttpMailer(client, settings.mailbox_url)
