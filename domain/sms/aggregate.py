"""The `Sms` aggregate: one text a client asked us to send, and every attempt to send it.

Lifecycle: requested -> (sending ->)* sent | failed | parked; an operator can send a
parked SMS back to requested. `sending` means at least one attempt failed transiently
and another is scheduled. Every attempt's outcome is an event, so the audit trail shows
each call to the provider; attempt numbers only grow.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.access import Actor, Owner
from domain.actors import RecordsActor, fill_before_actors
from domain.sms.errors import SmsAlreadyFinal, SmsNotRetryable

SMS_NAMESPACE = UUID("6f1c0a52-52c4-4f0e-9d0e-0c8b7d3f5a11")


class SmsStatus(StrEnum):
    REQUESTED = "requested"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    PARKED = "parked"


IN_PROGRESS = frozenset({SmsStatus.REQUESTED, SmsStatus.SENDING})


def sms_id_for(message_id: str, client: str | None = None) -> UUID:
    """The SMS's id follows from the client and its message id, so a repeat lands on it
    while another client's same message id makes another SMS: each client has a namespace
    of its own. A sender that names no client (the platform itself) uses the common one."""
    namespace = SMS_NAMESPACE if client is None else uuid5(SMS_NAMESPACE, client)
    return uuid5(namespace, message_id)


def request_fingerprint(phone_number: str, text: str, correlation_id: str | None) -> str:
    """Identifies the request body: the same message id with another body is a conflict."""
    canonical = json.dumps([phone_number, text, correlation_id], ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


class Sms(Aggregate):
    # The events, declared so readers (and type checkers) see every fact an SMS records.
    class SmsRequested(RecordsActor, Aggregate.Created):
        message_id: str
        phone_number: str
        text: str
        correlation_id: str | None
        requested_at: datetime
        client: str | None  # who asked (a token's subject): it alone reads the SMS
        actor: Actor

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            # Stored before events named their actor and their owner: nobody recorded,
            # and no client's (operators' and auditors' only).
            fill_before_actors(state)
            state["client"] = None

    class SmsSendAttemptFailed(RecordsActor, Aggregate.Event):
        attempt: int
        error: str
        at: datetime
        next_attempt_at: datetime
        actor: Actor

    class SmsSent(RecordsActor, Aggregate.Event):
        attempt: int
        provider_message_id: str
        at: datetime
        message_id: str
        correlation_id: str | None
        actor: Actor

    class SmsRejected(RecordsActor, Aggregate.Event):
        attempt: int
        error: str
        at: datetime
        actor: Actor

    class SmsParked(RecordsActor, Aggregate.Event):
        attempt: int
        error: str
        at: datetime
        actor: Actor

    class SmsRetryRequested(RecordsActor, Aggregate.Event):
        round: int
        next_attempt: int
        at: datetime
        actor: Actor

    @staticmethod
    def create_id(message_id: str, client: str | None = None, **_: object) -> UUID:
        return sms_id_for(message_id, client)

    @event(SmsRequested)
    def __init__(
        self,
        message_id: str,
        phone_number: str,
        text: str,
        correlation_id: str | None,
        requested_at: datetime,
        actor: Actor,
        client: str | None = None,
    ) -> None:
        self.message_id = message_id
        self.phone_number = phone_number
        self.text = text
        self.correlation_id = correlation_id
        self.requested_at = requested_at
        self.client = client
        self.status = SmsStatus.REQUESTED
        self.attempts = 0
        self.round = 1
        self.provider_message_id: str | None = None
        self.last_error: str | None = None
        self.next_attempt_at: datetime | None = None
        self.finished_at: datetime | None = None

    @property
    def owner(self) -> Owner:
        return Owner(client=self.client)

    @property
    def fingerprint(self) -> str:
        return request_fingerprint(self.phone_number, self.text, self.correlation_id)

    @property
    def idempotency_key(self) -> str:
        """Names the effect (this SMS), identical for every attempt and every round."""
        return str(self.id)

    # Commands -------------------------------------------------------------------------

    def record_sent(
        self, attempt: int, provider_message_id: str, at: datetime, *, actor: Actor
    ) -> None:
        self.check_in_progress()
        self._sent(
            attempt=attempt,
            provider_message_id=provider_message_id,
            at=at,
            message_id=self.message_id,
            correlation_id=self.correlation_id,
            actor=actor,
        )

    def record_transient_failure(
        self, attempt: int, error: str, at: datetime, next_attempt_at: datetime, *, actor: Actor
    ) -> None:
        self.check_in_progress()
        self._attempt_failed(
            attempt=attempt, error=error, at=at, next_attempt_at=next_attempt_at, actor=actor
        )

    def record_rejection(self, attempt: int, error: str, at: datetime, *, actor: Actor) -> None:
        self.check_in_progress()
        self._rejected(attempt=attempt, error=error, at=at, actor=actor)

    def park(self, attempt: int, error: str, at: datetime, *, actor: Actor) -> None:
        self.check_in_progress()
        self._parked(attempt=attempt, error=error, at=at, actor=actor)

    def retry(self, at: datetime, *, actor: Actor) -> None:
        if self.status is not SmsStatus.PARKED:
            raise SmsNotRetryable(self.status.value)
        self._retry_requested(
            round=self.round + 1, next_attempt=self.attempts + 1, at=at, actor=actor
        )

    # Guards ---------------------------------------------------------------------------

    def check_in_progress(self) -> None:
        if self.status not in IN_PROGRESS:
            raise SmsAlreadyFinal(self.status.value)

    # Events (mutation only; validation happened above) --------------------------------

    @event(SmsSent)
    def _sent(
        self,
        attempt: int,
        provider_message_id: str,
        at: datetime,
        message_id: str,
        correlation_id: str | None,
        actor: Actor,
    ) -> None:
        # message_id and correlation_id ride along for the integration event.
        self.attempts = max(self.attempts, attempt)
        self.provider_message_id = provider_message_id
        self.status = SmsStatus.SENT
        self.last_error = None
        self.next_attempt_at = None
        self.finished_at = at

    @event(SmsSendAttemptFailed)
    def _attempt_failed(
        self, attempt: int, error: str, at: datetime, next_attempt_at: datetime, actor: Actor
    ) -> None:
        self.attempts = max(self.attempts, attempt)
        self.status = SmsStatus.SENDING
        self.last_error = error
        self.next_attempt_at = next_attempt_at

    @event(SmsRejected)
    def _rejected(self, attempt: int, error: str, at: datetime, actor: Actor) -> None:
        self.attempts = max(self.attempts, attempt)
        self.status = SmsStatus.FAILED
        self.last_error = error
        self.next_attempt_at = None
        self.finished_at = at

    @event(SmsParked)
    def _parked(self, attempt: int, error: str, at: datetime, actor: Actor) -> None:
        self.attempts = max(self.attempts, attempt)
        self.status = SmsStatus.PARKED
        self.last_error = error
        self.next_attempt_at = None
        self.finished_at = at

    @event(SmsRetryRequested)
    def _retry_requested(self, round: int, next_attempt: int, at: datetime, actor: Actor) -> None:
        self.round = round
        self.status = SmsStatus.REQUESTED
        self.next_attempt_at = None
        self.finished_at = None
