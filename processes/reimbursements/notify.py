"""Process managers that tell the member about a decision (and a failed payment):
one mail through the `Mailer` port, one `SendSms` command to the SMS workflow where a
phone number is on file. Each message's id is deterministic, so a retry is the same
message: the mailbox (or the reader) sees one mail, the SMS workflow one SMS.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from domain.messaging import CommandQueue, Message, command_queue_name
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
    Succeeded,
    TransientFailure,
    WorkItem,
    WorkRequest,
)
from processes.outbound import ANY_NOT_REFUSED, outcome_of, work_id
from processes.reimbursements.application import ReimbursementsApplication
from processes.reimbursements.messages import mail_message_id, sms_message_id, wording

log = logging.getLogger(__name__)

SEND_MAIL = "reimbursements.mail"
SEND_SMS_COMMAND = "reimbursements.sms"


def _purposes(event: Any, *, include_payment_failed: bool) -> list[tuple[str, int, datetime]]:
    """(purpose, round, due_at) of the messages an event asks for."""
    if isinstance(event, Reimbursement.ReimbursementApproved):
        return [(Purpose.APPROVED.value, event.payment_round, event.at)]
    if isinstance(event, Reimbursement.ReimbursementDenied):
        return [(Purpose.DENIED.value, 0, event.at)]
    # A failed payment is news for the member only when it is certain: after an unknown
    # outcome the money may have moved, and an operator settles it first.
    if (
        include_payment_failed
        and isinstance(event, Reimbursement.PaymentFailed)
        and event.definitive
    ):
        return [(Purpose.PAYMENT_FAILED.value, event.round, event.at)]
    return []


class _Notification:
    """What mail and SMS share: planning, loading, recording outcomes."""

    kind: str
    channel: Channel
    include_payment_failed: bool

    def __init__(self, application: ReimbursementsApplication) -> None:
        self.application = application

    def message_id(self, item: WorkItem) -> str:
        raise NotImplementedError

    def plan(self, event: Any) -> Sequence[WorkRequest | CancelWork]:
        return [
            WorkRequest(
                id=work_id(event.originator_id, self.kind, purpose, round_),
                kind=self.kind,
                aggregate_id=event.originator_id,
                due_at=due_at,
                payload={"purpose": purpose, "round": round_},
            )
            for purpose, round_, due_at in _purposes(
                event, include_payment_failed=self.include_payment_failed
            )
        ]

    async def load(self, item: WorkItem) -> tuple[Reimbursement, BankMember]:
        def load() -> tuple[Reimbursement, BankMember]:
            reimbursement = self.application.get_reimbursement(item.aggregate_id)
            return reimbursement, self.application.get_member(reimbursement.member_id)

        return await asyncio.to_thread(load)

    def record(self, item: WorkItem, decision: Decision, at: datetime) -> Sequence[Reimbursement]:
        if isinstance(decision, Completed) and decision.outcome == Succeeded({"skipped": True}):
            return []  # no phone on file: nothing was sent, nothing to record
        reimbursement = self.application.get_reimbursement(item.aggregate_id)
        purpose, round_ = str(item.payload["purpose"]), int(item.payload["round"])
        message_id = self.message_id(item)
        error: str
        retry_at: datetime | None = None
        match decision:
            case Completed(outcome=Succeeded()):
                reimbursement.record_notification_sent(
                    self.channel.value, purpose, round_, message_id, item.attempt, at
                )
                return [reimbursement]
            case Completed(outcome=PermanentFailure(error=error)) | Parked(error=error):
                pass
            case RetryScheduled(error=error, retry_at=retry_at):
                pass
            case _:
                return []
        reimbursement.record_notification_failed(
            self.channel.value, purpose, round_, message_id, item.attempt, error, at, retry_at
        )
        return [reimbursement]


class MailNotification(_Notification):
    kind = SEND_MAIL
    channel = Channel.EMAIL
    include_payment_failed = True

    def __init__(self, application: ReimbursementsApplication, mailer: Mailer, sender: str) -> None:
        super().__init__(application)
        self.mailer = mailer
        self.sender = sender

    def message_id(self, item: WorkItem) -> str:
        return mail_message_id(item.aggregate_id, item.payload["purpose"], item.payload["round"])

    async def attempt(self, item: WorkItem) -> Outcome:
        reimbursement, member = await self.load(item)
        words = wording(reimbursement, member, item.payload["purpose"])
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
            lambda _: Succeeded({"message_id": mail.message_id}),
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

    def __init__(self, application: ReimbursementsApplication, queue: CommandQueue) -> None:
        super().__init__(application)
        self.queue = queue

    def message_id(self, item: WorkItem) -> str:
        return sms_message_id(item.aggregate_id, item.payload["purpose"], item.payload["round"])

    async def attempt(self, item: WorkItem) -> Outcome:
        reimbursement, member = await self.load(item)
        if not member.phone:
            return Succeeded({"skipped": True})
        message_id = self.message_id(item)
        try:
            command = SendSms(
                message_id=message_id,
                phone_number=member.phone,
                text=wording(reimbursement, member, item.payload["purpose"]).sms,
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
                ),
            )
        except Exception as error:  # the queue's own errors vary by adapter: all transient
            return TransientFailure(f"command queue: {type(error).__name__}: {error}")
        return Succeeded({"message_id": message_id})
