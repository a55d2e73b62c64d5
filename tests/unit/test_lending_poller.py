"""The poller's policy with hand-written fakes of its ports (partner, queue, clock)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from domain.access import Actor
from domain.clock import ManualClock
from domain.lending.ports import ApplicationUnknownToPartner, Job, PartnerApplication
from domain.messaging import CommandHandler, DeadLetter, Message, actor_of_message
from domain.outbound import OutcomeUnknown, ProviderRejected, ProviderUnavailable
from domain.work import (
    Parked,
    Pending,
    PermanentFailure,
    RetrySettings,
    Succeeded,
    TransientFailure,
    WorkItem,
    WorkRequest,
)
from processes.lending.integration import ToAssess
from processes.lending.poller import (
    ASSESS,
    REPORT_EVERY,
    ApplicationPolling,
    AssessPayload,
    Decided,
    assessment_work_id,
)

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
INTERVAL = timedelta(seconds=2)
UNAVAILABLE = "bank partner answered 503 to the submission: Service Unavailable"


class FakePartner:
    def __init__(self) -> None:
        self.submitted: list[PartnerApplication] = []
        self.submit_errors: list[Exception] = []
        self.jobs: list[Job | Exception] = []
        self.polls = 0

    async def submit(self, application: PartnerApplication) -> None:
        self.submitted.append(application)
        if self.submit_errors:
            raise self.submit_errors.pop(0)

    async def job(self, application_id: UUID) -> Job:
        self.polls += 1
        answer = self.jobs.pop(0) if self.jobs else Job("job-1", application_id, "pending")
        if isinstance(answer, Exception):
            raise answer
        return answer


class FakeQueue:
    def __init__(self) -> None:
        self.sent: list[tuple[str, Message]] = []

    async def send(self, queue: str, message: Message) -> None:
        self.sent.append((queue, message))

    async def consume(self, queue: str, handler: CommandHandler, stop: asyncio.Event) -> None:
        raise NotImplementedError

    async def dead_letters(self, queue: str, limit: int = 100) -> Sequence[DeadLetter]:
        return []

    async def close(self) -> None:
        return None

    def bodies(self) -> list[dict[str, object]]:
        return [json.loads(message.body) for _, message in self.sent]


@pytest.fixture()
def partner() -> FakePartner:
    return FakePartner()


@pytest.fixture()
def queue() -> FakeQueue:
    return FakeQueue()


@pytest.fixture()
def policy(partner: FakePartner, queue: FakeQueue) -> ApplicationPolling:
    return ApplicationPolling(
        partner,
        queue,
        ManualClock(T0),
        interval=INTERVAL,
        deadline=timedelta(minutes=2),
        retry=RetrySettings(budget=None, base=INTERVAL / 4, cap=INTERVAL),
    )


def item(application_id: UUID, attempt: int = 1) -> WorkItem[AssessPayload]:
    return WorkItem(
        id=assessment_work_id(application_id, 1),
        kind=ASSESS,
        aggregate_id=application_id,
        attempt=attempt,
        payload=AssessPayload("Amina", "Okafor", 1),
        first_due_at=T0,
        deadline=T0 + timedelta(minutes=2),
    )


def test_each_submitted_application_becomes_one_deterministic_row(
    policy: ApplicationPolling,
) -> None:
    event = ToAssess(
        event="ApplicationSubmitted",
        application_id=uuid.uuid4(),
        first_name="Amina",
        last_name="Okafor",
        round=1,
        at=T0,
    )
    (request,) = policy.plan(event)
    assert isinstance(request, WorkRequest)
    (again,) = policy.plan(event)
    assert isinstance(again, WorkRequest)
    assert request.id == again.id == assessment_work_id(event.application_id, 1)
    assert request.deadline == T0 + timedelta(minutes=2)
    assert request.payload == AssessPayload("Amina", "Okafor", 1)
    assert policy.retry.budget is None  # transient errors never end the polling: the deadline does
    assert policy.plan(object()) == []


def test_submit_then_poll_at_the_interval_then_send_the_decision_once(
    policy: ApplicationPolling, partner: FakePartner, queue: FakeQueue
) -> None:
    application_id = uuid.uuid4()
    assert asyncio.run(policy.attempt(item(application_id))) == Pending(INTERVAL)
    assert [a.id for a in partner.submitted] == [application_id]
    assert asyncio.run(policy.attempt(item(application_id))) == Pending(INTERVAL)
    assert queue.sent == []  # nothing new: nothing sent
    partner.jobs.append(Job("job-9", application_id, "rejected"))
    outcome = asyncio.run(policy.attempt(item(application_id)))
    assert outcome == Succeeded(Decided("rejected", "job-9"))
    assert len(partner.submitted) == 1 and partner.polls == 2
    ((queue_name, message),) = queue.sent
    assert queue_name == "ledgerflow.commands.lending"
    assert message.message_id == f"{application_id}:decision"
    assert actor_of_message(message) == Actor.system("lending-poller")  # the result's actor
    assert queue.bodies()[0] == {
        "type": "RecordApplicationDecision",
        "application_id": str(application_id),
        "status": "rejected",
        "job_id": "job-9",
    }


def test_transient_errors_do_not_end_polling(
    policy: ApplicationPolling, partner: FakePartner
) -> None:
    application_id = uuid.uuid4()
    partner.submit_errors.append(OutcomeUnknown("dropped"))
    assert isinstance(asyncio.run(policy.attempt(item(application_id))), TransientFailure)
    # The retry after a lost answer submits again; the adapter reads "already used" as success.
    assert asyncio.run(policy.attempt(item(application_id, 2))) == Pending(INTERVAL)
    partner.jobs += [ProviderUnavailable("503"), OutcomeUnknown("reset")]
    assert isinstance(asyncio.run(policy.attempt(item(application_id, 2))), TransientFailure)
    assert isinstance(asyncio.run(policy.attempt(item(application_id, 3))), TransientFailure)
    assert asyncio.run(policy.attempt(item(application_id, 4))) == Pending(INTERVAL)


def test_a_partner_that_forgot_the_application_gets_it_again(
    policy: ApplicationPolling, partner: FakePartner
) -> None:
    application_id = uuid.uuid4()
    asyncio.run(policy.attempt(item(application_id)))
    partner.jobs.append(ApplicationUnknownToPartner("404"))
    assert isinstance(asyncio.run(policy.attempt(item(application_id))), TransientFailure)
    asyncio.run(policy.attempt(item(application_id)))
    assert len(partner.submitted) == 2


def test_a_refused_submission_is_sent_as_failed_and_not_retried(
    policy: ApplicationPolling, partner: FakePartner, queue: FakeQueue
) -> None:
    application_id = uuid.uuid4()
    partner.submit_errors.append(ProviderRejected("400: the request payload is not valid."))
    outcome = asyncio.run(policy.attempt(item(application_id)))
    assert isinstance(outcome, PermanentFailure)
    assert queue.bodies()[0]["type"] == "RecordSubmissionRefused"


def test_parking_at_the_deadline_flags_the_application(
    policy: ApplicationPolling, queue: FakeQueue
) -> None:
    application_id = uuid.uuid4()
    asyncio.run(policy.parked(item(application_id), Parked("deadline passed")))
    (body,) = queue.bodies()
    assert body["type"] == "FlagApplication" and "deadline passed" in str(body["reason"])
    assert queue.sent[0][1].message_id == f"{application_id}:flag:1"
    assert policy.record(item(application_id), Parked("x"), T0) == []


def failed_attempts(queue: FakeQueue) -> list[tuple[int, str]]:
    """The failed submissions the poller reported: (attempt, error)."""
    return [
        (int(str(body["attempt"])), str(body["error"]))
        for body in queue.bodies()
        if body["type"] == "RecordSubmissionAttemptFailed"
    ]


def test_failed_submissions_are_reported_boundedly_and_exactly_once_one_gets_through(
    policy: ApplicationPolling, partner: FakePartner, queue: FakeQueue
) -> None:
    application_id = uuid.uuid4()
    partner.submit_errors += [ProviderUnavailable(UNAVAILABLE)] * 24
    partner.submit_errors[12] = OutcomeUnknown("no answer after sending")  # a new kind
    for attempt in range(1, 25):
        outcome = asyncio.run(policy.attempt(item(application_id, attempt)))
        assert isinstance(outcome, TransientFailure)
    assert outcome.error == f"ProviderUnavailable: {UNAVAILABLE}"
    unavailable = f"ProviderUnavailable: {UNAVAILABLE}"
    # The first, a new kind of error, every tenth; not each of the 24.
    assert failed_attempts(queue) == [
        (1, unavailable),
        (REPORT_EVERY, unavailable),
        (13, "OutcomeUnknown: no answer after sending"),
        (2 * REPORT_EVERY, unavailable),
    ]
    assert all(body["round"] == 1 for body in queue.bodies())
    assert queue.sent[0][1].message_id == f"{application_id}:submission-failed:1:1"

    # The 25th gets through: the last failure is reported, so the count is exact.
    assert asyncio.run(policy.attempt(item(application_id, 25))) == Pending(INTERVAL)
    assert failed_attempts(queue)[-1] == (24, unavailable)
    partner.jobs.append(Job("job-3", application_id, "completed"))
    assert asyncio.run(policy.attempt(item(application_id, 25))) == Succeeded(
        Decided("completed", "job-3")
    )
    assert [body["type"] for body in queue.bodies()][-1] == "RecordApplicationDecision"
    assert len(failed_attempts(queue)) == 5
    assert len(partner.submitted) == 25 and partner.polls == 1


def test_a_flag_says_the_partner_never_accepted_the_submission_when_none_got_through(
    policy: ApplicationPolling, partner: FakePartner, queue: FakeQueue
) -> None:
    application_id = uuid.uuid4()
    partner.submit_errors += [ProviderUnavailable(UNAVAILABLE)] * 3
    for attempt in (1, 2, 3):
        asyncio.run(policy.attempt(item(application_id, attempt)))
    deadline = Parked("deadline 2026-11-01T09:02:00+00:00 passed")
    asyncio.run(policy.parked(item(application_id, 3), deadline))
    unavailable = f"ProviderUnavailable: {UNAVAILABLE}"
    assert failed_attempts(queue) == [(1, unavailable), (3, unavailable)]
    flag = queue.bodies()[-1]
    assert flag["type"] == "FlagApplication"
    assert flag["reason"] == (
        f"the bank partner never accepted the submission: {unavailable} (3 attempts)"
    )


def test_a_flag_says_no_decision_in_time_when_the_partner_had_the_application(
    policy: ApplicationPolling, partner: FakePartner, queue: FakeQueue
) -> None:
    application_id = uuid.uuid4()
    partner.submit_errors.append(ProviderUnavailable(UNAVAILABLE))
    asyncio.run(policy.attempt(item(application_id, 1)))
    assert asyncio.run(policy.attempt(item(application_id, 2))) == Pending(INTERVAL)
    assert asyncio.run(policy.attempt(item(application_id, 2))) == Pending(INTERVAL)  # polled
    deadline = Parked("deadline 2026-11-01T09:02:00+00:00 passed")
    asyncio.run(policy.parked(item(application_id, 2), deadline))
    assert [body["type"] for body in queue.bodies()] == [
        "RecordSubmissionAttemptFailed",
        "FlagApplication",
    ]
    assert queue.bodies()[-1]["reason"] == (
        "no decision from the bank partner in time: deadline 2026-11-01T09:02:00+00:00 passed"
    )


def test_a_refusal_after_failed_submissions_reports_the_last_failure_first(
    policy: ApplicationPolling, partner: FakePartner, queue: FakeQueue
) -> None:
    application_id = uuid.uuid4()
    partner.submit_errors += [ProviderUnavailable(UNAVAILABLE)] * 2
    partner.submit_errors.append(ProviderRejected("the request payload is not valid."))
    for attempt in (1, 2):
        asyncio.run(policy.attempt(item(application_id, attempt)))
    assert isinstance(asyncio.run(policy.attempt(item(application_id, 3))), PermanentFailure)
    assert [body["type"] for body in queue.bodies()] == [
        "RecordSubmissionAttemptFailed",
        "RecordSubmissionAttemptFailed",
        "RecordSubmissionRefused",
    ]
    assert [attempt for attempt, _ in failed_attempts(queue)] == [1, 2]
