"""Process managers that tell the member about a decision (and a failed payment):
one mail through the `Mailer` port, one `SendSms` command to the SMS workflow where a
phone number is on file. Each message's id is deterministic, so a retry is the same
message: the mailbox (or the reader) sees one mail, the SMS workflow one SMS.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeAlias

from pydantic import ValidationError

from domain.messaging import CommandQueue, Message, actor_headers, command_queue_name
from domain.privacy import mask_phone_number
from domain.reimbursements.aggregate import Channel, Purpose, Reimbursement
from domain.reimbursements.ports import Mailer, OutboundMail
from domain.reimbursements.reference import BankMember
from domain.sms.commands import SendSms
from domain.work import (
    CancelWork,
    Completed,
    Decision,
    Outcome,
    Parked,
    PermanentFailure,
    RetryScheduled,
    RetrySettings,
    Succeeded,
    TransientFailure,
    WorkItem,
    WorkRequest,
)
from processes.outbound import ANY_NOT_REFUSED, outcome_of, work_id
from processes.reimbursements.application import WORKER, ReimbursementsApplication
from processes.reimbursements.messages import mail_message_id, sms_message_id, wording

log = logging.getLogger(__name__)

SEND_MAIL = "reimbursements.mail"
SEND_SMS_COMMAND = "reimbursements.sms"


@dataclass(frozen=True)
class NotificationPayload:
    """Which message: its purpose and the payment round it is about (0: none)."""

    purpose: Purpose
    round: int


@dataclass(frozen=True)
class Notified:
    """The message went out (or onto the SMS workflow's queue) under this id."""

    message_id: str


@dataclass(frozen=True)
class NoPhoneOnFile:
    """No SMS to send: nothing was sent, nothing is recorded."""


NotificationResult: TypeAlias = Notified | NoPhoneOnFile


def _purposes(
    event: object, *, include_payment_failed: bool
) -> list[tuple[Purpose, int, datetime]]:
    """(purpose, round, due_at) of the messages an event asks for."""
    if isinstance(event, Reimbursement.ReimbursementApproved):
        return [(Purpose.APPROVED, event.payment_round, event.at)]
    if isinstance(event, Reimbursement.ReimbursementDenied):
        return [(Purpose.DENIED, 0, event.at)]
    # A failed payment is news for the member only when it is certain: after an unknown
    # outcome the money may have moved, and an operator settles it first.
    if (
        include_payment_failed
        and isinstance(event, Reimbursement.PaymentFailed)
        and event.definitive
    ):
        return [(Purpose.PAYMENT_FAILED, event.round, event.at)]
    return []


class _Notification:
    """What mail and SMS share: planning, loading, recording outcomes."""

    kind: str
    payload_type = NotificationPayload
    channel: Channel
    include_payment_failed: bool

    def __init__(self, application: ReimbursementsApplication, retry: RetrySettings) -> None:
        self.application = application
        self.retry = retry

    def message_id(self, item: WorkItem[NotificationPayload]) -> str:
        raise NotImplementedError

    def plan(self, event: object) -> Sequence[WorkRequest[NotificationPayload] | CancelWork]:
        if not isinstance(event, Reimbursement.Event):
            return []
        return [
            WorkRequest(
                id=work_id(event.originator_id, self.kind, purpose.value, round_),
                kind=self.kind,
                aggregate_id=event.originator_id,
                due_at=due_at,
                payload=NotificationPayload(purpose, round_),
            )
            for purpose, round_, due_at in _purposes(
                event, include_payment_failed=self.include_payment_failed
            )
        ]

    async def load(self, item: WorkItem[NotificationPayload]) -> tuple[Reimbursement, BankMember]:
        def load() -> tuple[Reimbursement, BankMember]:
            reimbursement = self.application.get_reimbursement(item.aggregate_id)
            return reimbursement, self.application.get_member(reimbursement.member_id)

        return await asyncio.to_thread(load)

    def record(
        self,
        item: WorkItem[NotificationPayload],
        decision: Decision[NotificationResult],
        at: datetime,
    ) -> Sequence[Reimbursement]:
        if isinstance(decision, Completed) and decision.outcome == Succeeded(NoPhoneOnFile()):
            return []  # nothing was sent, nothing to record
        reimbursement = self.application.get_reimbursement(item.aggregate_id)
        purpose, round_ = item.payload.purpose.value, item.payload.round
        message_id = self.message_id(item)
        error: str
        retry_at: datetime | None = None
        match decision:
            case Completed(outcome=Succeeded()):
                reimbursement.record_notification_sent(
                    self.channel.value, purpose, round_, message_id, item.attempt, at, actor=WORKER
                )
                return [reimbursement]
            case Completed(outcome=PermanentFailure(error=error)) | Parked(error=error):
                pass
            case RetryScheduled(error=error, retry_at=retry_at):
                pass
            case _:
                return []
        reimbursement.record_notification_failed(
            self.channel.value,
            purpose,
            round_,
            message_id,
            item.attempt,
            error,
            at,
            retry_at,
            actor=WORKER,
        )
        return [reimbursement]


class MailNotification(_Notification):
    kind = SEND_MAIL
    channel = Channel.EMAIL
    include_payment_failed = True

    def __init__(
        self,
        application: ReimbursementsApplication,
        mailer: Mailer,
        sender: str,
        retry: RetrySettings,
    ) -> None:
        super().__init__(application, retry)
        self.mailer = mailer
        self.sender = sender

    def message_id(self, item: WorkItem[NotificationPayload]) -> str:
        return mail_message_id(item.aggregate_id, item.payload.purpose, item.payload.round)

    async def attempt(self, item: WorkItem[NotificationPayload]) -> Outcome[NotificationResult]:
        reimbursement, member = await self.load(item)
        words = wording(reimbursement, member, item.payload.purpose)
        mail = OutboundMail(
            message_id=self.message_id(item),
            sender=self.sender,
            to=member.email,
            subject=words.subject,
            text=words.text,
        )
        # The same Message-ID on the next attempt: a delivered copy is the same mail.
        return await outcome_of(
            self.mailer.send(mail),
            lambda _: Succeeded(Notified(mail.message_id)),
            retryable=ANY_NOT_REFUSED,
            log=log,
            failure="reimbursement mail attempt failed",
            log_context={"reimbursement_id": str(item.aggregate_id), "attempt": item.attempt},
        )


class SmsNotification(_Notification):
    """Texts the decision through the SMS workflow's own command queue: no second SMS
    path. The queue acknowledges durably; the SMS workflow owns the sending."""

    kind = SEND_SMS_COMMAND
    channel = Channel.SMS
    include_payment_failed = False

    def __init__(
        self, application: ReimbursementsApplication, queue: CommandQueue, retry: RetrySettings
    ) -> None:
        super().__init__(application, retry)
        self.queue = queue

    def message_id(self, item: WorkItem[NotificationPayload]) -> str:
        return sms_message_id(item.aggregate_id, item.payload.purpose, item.payload.round)

    async def attempt(self, item: WorkItem[NotificationPayload]) -> Outcome[NotificationResult]:
        reimbursement, member = await self.load(item)
        if not member.phone:
            return Succeeded(NoPhoneOnFile())
        message_id = self.message_id(item)
        try:
            command = SendSms(
                message_id=message_id,
                phone_number=member.phone,
                text=wording(reimbursement, member, item.payload.purpose).sms,
                correlation_id=str(reimbursement.id),
            )
        except ValidationError as error:
            # The rules only: pydantic's own text would carry the full number.
            rules = "; ".join(str(item["msg"]) for item in error.errors())
            return PermanentFailure(f"cannot text {mask_phone_number(member.phone)}: {rules}")
        try:
            await self.queue.send(
                command_queue_name("sms"),
                Message(
                    body=command.model_dump_json().encode(),
                    message_id=message_id,
                    correlation_id=str(reimbursement.id),
                    # The SMS is this worker's command: its requested event names it.
                    headers=actor_headers(WORKER),
                ),
            )
        except Exception as error:  # the queue's own errors vary by adapter: all transient
            return TransientFailure(f"command queue: {type(error).__name__}: {error}")
        return Succeeded(Notified(message_id))
