"""The SMS process manager: every requested SMS is handed to the provider until it is
sent, refused (4xx) or parked once its retry budget is spent.

The idempotency key is the SMS's id, identical for every attempt, so a provider that
honours keys sends it once even when we retry after a lost answer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from domain.actors import worker
from domain.privacy import mask_phone_number
from domain.sms.aggregate import Sms
from domain.sms.ports import OutboundSms, SmsProvider
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
    WorkItem,
    WorkRequest,
)
from processes.outbound import outcome_of, work_id
from processes.sms.application import SmsApplication

log = logging.getLogger(__name__)

SEND_SMS = "sms.send"
# Who records each attempt's outcome.
WORKER = worker("sms")


@dataclass(frozen=True)
class SendPayload:
    """What an attempt sends. An operator's retry carries no number and text: they are
    read again from the SMS when the call is made."""

    idempotency_key: str
    phone_number: str | None = None
    text: str | None = None


@dataclass(frozen=True)
class SmsAccepted:
    """The provider took the SMS: its id for it."""

    provider_message_id: str


class SmsDispatch:
    kind = SEND_SMS
    payload_type = SendPayload
    plans_from = (
        Sms.SmsRequested,
        Sms.SmsRetryRequested,
        Sms.SmsSent,
        Sms.SmsRejected,
        Sms.SmsParked,
    )

    def __init__(
        self, application: SmsApplication, provider: SmsProvider, retry: RetrySettings
    ) -> None:
        self.application = application
        self.provider = provider
        self.retry = retry

    def plan(self, event: object) -> Sequence[WorkRequest[SendPayload] | CancelWork]:
        if isinstance(event, Sms.SmsRequested):
            payload = SendPayload(str(event.originator_id), event.phone_number, event.text)
            return [self._send(event.originator_id, 1, 1, event.requested_at, payload)]
        if isinstance(event, Sms.SmsRetryRequested):
            payload = SendPayload(str(event.originator_id))
            return [
                self._send(event.originator_id, event.round, event.next_attempt, event.at, payload)
            ]
        if isinstance(event, Sms.SmsSent | Sms.SmsRejected | Sms.SmsParked):
            return [CancelWork(aggregate_id=event.originator_id, kind=SEND_SMS)]
        return []

    @staticmethod
    def _send(
        sms_id: UUID, round_: int, first_attempt: int, due_at: datetime, payload: SendPayload
    ) -> WorkRequest[SendPayload]:
        return WorkRequest(
            id=work_id(sms_id, SEND_SMS, round_),
            kind=SEND_SMS,
            aggregate_id=sms_id,
            due_at=due_at,
            first_attempt=first_attempt,
            payload=payload,
        )

    async def attempt(self, item: WorkItem[SendPayload]) -> Outcome[SmsAccepted]:
        payload = item.payload
        phone_number, text = payload.phone_number, payload.text
        if phone_number is None or text is None:
            stored = await asyncio.to_thread(self.application.get_sms, item.aggregate_id)
            phone_number, text = stored.phone_number, stored.text
        sms = OutboundSms(
            phone_number=phone_number, text=text, idempotency_key=payload.idempotency_key
        )
        # A lost answer is retried with the same key: a rare duplicate beats a loss.
        return await outcome_of(
            self.provider.send(sms),
            lambda provider_message_id: Succeeded(SmsAccepted(provider_message_id)),
            log=log,
            failure="sms attempt failed",
            log_context={
                "sms_id": str(item.aggregate_id),
                "attempt": item.attempt,
                "to": mask_phone_number(sms.phone_number),
            },
        )

    def record(
        self, item: WorkItem[SendPayload], decision: Decision[SmsAccepted], at: datetime
    ) -> Sequence[Sms]:
        sms = self.application.get_sms(item.aggregate_id)
        match decision:
            case Completed(outcome=Succeeded(result=accepted)):
                sms.record_sent(item.attempt, accepted.provider_message_id, at, actor=WORKER)
            case Completed(outcome=PermanentFailure(error=error)):
                sms.record_rejection(item.attempt, error, at, actor=WORKER)
            case RetryScheduled(error=error, retry_at=retry_at):
                sms.record_transient_failure(item.attempt, error, at, retry_at, actor=WORKER)
            case Parked(error=error):
                sms.park(item.attempt, error, at, actor=WORKER)
        return [sms]
