"""The SMS process manager with a hand-written fake of the provider and the library's
in-memory event store: what each event plans, how each answer is classified, what
`record` writes for each decision."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain.access import Actor
from domain.outbound import OutcomeUnknown, ProviderRejected, ProviderUnavailable
from domain.sms.aggregate import Sms, SmsStatus
from domain.sms.ports import OutboundSms
from domain.work import (
    CancelWork,
    Completed,
    Parked,
    PermanentFailure,
    RetryScheduled,
    RetrySettings,
    Succeeded,
    TransientFailure,
    WorkRequest,
)
from processes.outbound import work_id
from processes.sms.application import SmsApplication
from processes.sms.dispatch import SEND_SMS, SendPayload, SmsAccepted, SmsDispatch
from tests.unit.work_items import ScriptedAnswers, leased

# Who the tests' commands are recorded as, where it does not matter.
ACTOR = Actor.system("tests")

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
RETRY = RetrySettings(budget=timedelta(minutes=2))


class FakeProvider:
    def __init__(self, *answers: str | Exception) -> None:
        self.answers = ScriptedAnswers(answers, default="SM-1")
        self.sent: list[OutboundSms] = []

    async def send(self, sms: OutboundSms) -> str:
        self.sent.append(sms)
        return self.answers.next()


@pytest.fixture()
def app() -> SmsApplication:
    return SmsApplication()


def requested(app: SmsApplication) -> Sms:
    sms = Sms(
        message_id="m-1",
        phone_number="+254712345678",
        text="Your code is 1234",
        correlation_id=None,
        requested_at=T0,
        actor=ACTOR,
    )
    app.save(sms)
    return sms


item = leased


def planned(policy: SmsDispatch, event: Any) -> WorkRequest[SendPayload]:
    [request] = policy.plan(event)
    assert isinstance(request, WorkRequest)
    return request


def test_a_request_plans_one_send_carrying_the_number_and_text(app: SmsApplication) -> None:
    sms = requested(app)
    [event] = app.events.get(sms.id)
    policy = SmsDispatch(app, FakeProvider(), RETRY)
    request = planned(policy, event)
    assert request == WorkRequest(
        id=work_id(sms.id, SEND_SMS, 1),
        kind=SEND_SMS,
        aggregate_id=sms.id,
        due_at=T0,
        payload=SendPayload(str(sms.id), "+254712345678", "Your code is 1234"),
    )
    assert planned(policy, event) == request  # a repeat plans the same work


def test_an_ending_cancels_the_send_and_an_operators_retry_plans_a_new_round(
    app: SmsApplication,
) -> None:
    sms = requested(app)
    policy = SmsDispatch(app, FakeProvider(), RETRY)
    sms.park(3, "503", T0, actor=ACTOR)
    sms.retry(T0 + timedelta(hours=1), actor=ACTOR)
    parked, retried = sms.collect_events()
    assert policy.plan(parked) == [CancelWork(aggregate_id=sms.id, kind=SEND_SMS)]
    request = planned(policy, retried)
    assert request.id == work_id(sms.id, SEND_SMS, 2)
    assert request.first_attempt == 4  # attempt numbers go on counting
    assert request.payload == SendPayload(str(sms.id))  # number and text read at the call
    assert policy.plan(object()) == []


def test_a_retry_reads_the_number_and_text_from_the_sms(app: SmsApplication) -> None:
    sms = requested(app)
    provider = FakeProvider()
    policy = SmsDispatch(app, provider, RETRY)
    request = WorkRequest(
        id=work_id(sms.id, SEND_SMS, 2),
        kind=SEND_SMS,
        aggregate_id=sms.id,
        due_at=T0,
        payload=SendPayload(str(sms.id)),
    )
    asyncio.run(policy.attempt(item(request)))
    assert provider.sent == [OutboundSms("+254712345678", "Your code is 1234", str(sms.id))]


def test_a_sent_sms_is_recorded_with_the_providers_id(app: SmsApplication) -> None:
    sms = requested(app)
    [event] = app.events.get(sms.id)
    provider = FakeProvider("SM-42")
    policy = SmsDispatch(app, provider, RETRY)
    request = planned(policy, event)
    outcome = asyncio.run(policy.attempt(item(request)))
    assert outcome == Succeeded(SmsAccepted("SM-42"))
    assert provider.sent[0].idempotency_key == str(sms.id)
    [sent] = policy.record(item(request), Completed(outcome), T0)
    assert (sent.status, sent.provider_message_id) == (SmsStatus.SENT, "SM-42")


@pytest.mark.parametrize("error", [ProviderUnavailable("503"), OutcomeUnknown("timeout")])
def test_unavailable_or_unknown_is_transient_and_recorded_with_its_retry(
    app: SmsApplication, error: Exception
) -> None:
    sms = requested(app)
    policy = SmsDispatch(app, FakeProvider(error), RETRY)
    request = planned(policy, next(iter(app.events.get(sms.id))))
    outcome = asyncio.run(policy.attempt(item(request)))
    assert isinstance(outcome, TransientFailure) and outcome.cause is None
    retry_at = T0 + timedelta(seconds=2)
    [failed] = policy.record(item(request), RetryScheduled(outcome.error, retry_at), T0)
    assert (failed.status, failed.next_attempt_at) == (SmsStatus.SENDING, retry_at)
    assert failed.last_error == outcome.error


def test_a_refusal_is_permanent_and_rejects_the_sms(app: SmsApplication) -> None:
    sms = requested(app)
    policy = SmsDispatch(app, FakeProvider(ProviderRejected("400 invalid number")), RETRY)
    request = planned(policy, next(iter(app.events.get(sms.id))))
    outcome = asyncio.run(policy.attempt(item(request)))
    assert outcome == PermanentFailure("400 invalid number")
    [rejected] = policy.record(item(request), Completed(outcome), T0)
    assert rejected.status is SmsStatus.FAILED


def test_a_parked_sms_records_its_last_attempt(app: SmsApplication) -> None:
    sms = requested(app)
    policy = SmsDispatch(app, FakeProvider(), RETRY)
    request = planned(policy, next(iter(app.events.get(sms.id))))
    [parked] = policy.record(item(request, attempt=7), Parked("503 from the provider"), T0)
    assert parked.status is SmsStatus.PARKED and parked.attempts == 7
