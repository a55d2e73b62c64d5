"""The SMS process manager: every requested SMS is handed to the provider until it is
sent, refused (4xx) or parked after the last attempt.

The idempotency key is the SMS's id, identical for every attempt, so a provider that
honours keys sends it once even when we retry after a lost answer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

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
    Succeeded,
    WorkItem,
    WorkRequest,
)
from processes.outbound import outcome_of, work_id
from processes.sms.application import SmsApplication

log = logging.getLogger(__name__)

SEND_SMS = "sms.send"


class SmsDispatch:
    kind = SEND_SMS
    plans_from = (
        Sms.SmsRequested,
        Sms.SmsRetryRequested,
        Sms.SmsSent,
        Sms.SmsRejected,
        Sms.SmsParked,
    )

    def __init__(self, application: SmsApplication, provider: SmsProvider) -> None:
        self.application = application
        self.provider = provider

    def plan(self, event: Any) -> Sequence[WorkRequest | CancelWork]:
        if isinstance(event, Sms.SmsRequested):
            return [
                self._send(
                    event,
                    round_=1,
                    first_attempt=1,
                    due_at=event.requested_at,
                    phone_number=event.phone_number,
                    text=event.text,
                )
            ]
        if isinstance(event, Sms.SmsRetryRequested):
            # The number and text are read again from the aggregate when the call is made.
            return [
                self._send(
                    event,
                    round_=event.round,
                    first_attempt=event.next_attempt,
                    due_at=event.at,
                    phone_number=None,
                    text=None,
                )
            ]
        if isinstance(event, Sms.SmsSent | Sms.SmsRejected | Sms.SmsParked):
            return [CancelWork(aggregate_id=event.originator_id, kind=SEND_SMS)]
        return []

    def _send(
        self,
        event: Any,
        *,
        round_: int,
        first_attempt: int,
        due_at: datetime,
        phone_number: str | None,
        text: str | None,
    ) -> WorkRequest:
        payload = {"idempotency_key": str(event.originator_id)}
        if phone_number is not None and text is not None:
            payload |= {"phone_number": phone_number, "text": text}
        return WorkRequest(
            id=work_id(event.originator_id, SEND_SMS, round_),
            kind=SEND_SMS,
            aggregate_id=event.originator_id,
            due_at=due_at,
            first_attempt=first_attempt,
            payload=payload,
        )

    async def attempt(self, item: WorkItem) -> Outcome:
        payload = item.payload
        if "phone_number" not in payload:
            stored = await asyncio.to_thread(self.application.get_sms, item.aggregate_id)
            payload = {**payload, "phone_number": stored.phone_number, "text": stored.text}
        sms = OutboundSms(
            phone_number=payload["phone_number"],
            text=payload["text"],
            idempotency_key=payload["idempotency_key"],
        )
        # A lost answer is retried with the same key: a rare duplicate beats a loss.
        return await outcome_of(
            self.provider.send(sms),
            lambda provider_message_id: Succeeded({"provider_message_id": provider_message_id}),
            log=log,
            failure="sms attempt failed",
            log_context={
                "sms_id": str(item.aggregate_id),
                "attempt": item.attempt,
                "to": mask_phone_number(sms.phone_number),
            },
        )

    def record(self, item: WorkItem, decision: Decision, at: datetime) -> Sequence[Sms]:
        sms = self.application.get_sms(item.aggregate_id)
        match decision:
            case Completed(outcome=Succeeded(result=result)):
                sms.record_sent(item.attempt, str(result["provider_message_id"]), at)
            case Completed(outcome=PermanentFailure(error=error)):
                sms.record_rejection(item.attempt, error, at)
            case RetryScheduled(error=error, retry_at=retry_at):
                sms.record_transient_failure(item.attempt, error, at, retry_at)
            case Parked(error=error):
                sms.park(item.attempt, error, at)
        return [sms]
