"""The reimbursements workflow's wiring: members submit, administrators decide, and the
process managers mail, text (through the SMS workflow's command queue) and pay."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING

import httpx

from adapters.eventstore import GroupCommitter
from adapters.follower import Follower
from adapters.mailer import HttpMailer, SmtpMailer
from adapters.messaging.factory import build_messaging
from adapters.payment_rail import HttpPaymentRail
from domain.messaging import CommandQueue
from domain.reimbursements.errors import (
    NotAnAdministratorOfTheBank,
    NotFound,
    PaymentNotRetryable,
    ReimbursementNotPending,
)
from domain.reimbursements.ports import Mailer, PaymentRail
from domain.work import WorkPolicy
from ledgerflow.settings import Settings
from ledgerflow.workflow import Workflow
from processes.reimbursements.application import (
    ReimbursementsApplication,
    ReimbursementsService,
)
from processes.reimbursements.demo_banks import DEMO_BANKS, demo_banks
from processes.reimbursements.notify import MailNotification, SmsNotification
from processes.reimbursements.payment import PaymentCheck, PaymentStart
from projections.reimbursements import ReimbursementsQueries, ReimbursementsView

if TYPE_CHECKING:
    from fastapi import APIRouter


class ReimbursementsWorkflow(Workflow):
    """Options (tests): `mailer`, `rail`, `queue`: fakes of the ports."""

    name = "reimbursements"
    simulators = {
        "payment-rail": "LEDGERFLOW_PAYMENT_RAIL_URL",
        "mailbox": "LEDGERFLOW_MAILBOX_URL",
    }
    error_statuses = {
        NotFound: 404,
        NotAnAdministratorOfTheBank: 403,
        ReimbursementNotPending: 409,
        PaymentNotRetryable: 409,
    }
    seeds = {DEMO_BANKS: True}

    application: ReimbursementsApplication
    committer: GroupCommitter
    service: ReimbursementsService
    queries: ReimbursementsQueries

    @classmethod
    def routers(cls) -> Sequence[APIRouter]:
        from api.banks import router as banks
        from api.reimbursements import members
        from api.reimbursements import router as reimbursements

        return [reimbursements, members, banks]

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
        return await self.service.register(*demo_banks())

    async def run_worker(self, stop: asyncio.Event) -> None:
        settings = self.core.settings
        queue: CommandQueue | None = self.options.get("queue")
        owned = None
        if queue is None:
            queue, _ = owned = build_messaging(self.core.database_url, settings.amqp_url)
        try:
            async with (
                self.core.http_client("payment-rail") as client,
                self.core.http_client("mailbox") as mailbox,
            ):
                mailer: Mailer = self.options.get("mailer") or build_mailer(settings, mailbox)
                rail: PaymentRail = self.options.get("rail") or HttpPaymentRail(
                    client, settings.payment_rail_url
                )
                poll = timedelta(seconds=settings.reimbursements_payment_poll_seconds)
                policies: list[WorkPolicy] = [
                    MailNotification(self.application, mailer, settings.reimbursements_mail_from),
                    SmsNotification(self.application, queue),
                    PaymentStart(self.application, rail),
                    PaymentCheck(
                        self.application,
                        rail,
                        poll_interval=poll,
                        deadline=timedelta(
                            seconds=settings.reimbursements_payment_deadline_seconds
                        ),
                    ),
                ]
                await self.core.run_work(self.application, self.committer, policies, stop)
        finally:
            if owned is not None:
                for part in owned:
                    await part.close()


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
