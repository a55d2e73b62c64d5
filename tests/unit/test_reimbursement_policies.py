"""The reimbursements process managers with hand-written fakes of their ports: what
each event plans, how an attempt's result is classified, what is recorded."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest

from domain.access import Actor
from domain.messaging import (
    CommandHandler,
    DeadLetter,
    Message,
    actor_of_message,
    command_queue_name,
)
from domain.outbound import OutcomeUnknown, ProviderRejected
from domain.reimbursements.aggregate import Purpose, Reimbursement
from domain.reimbursements.ports import OutboundMail, PaymentOrder, RailPayment, RailStatus
from domain.reimbursements.reference import Bank, BankAccount, BankAdministrator, BankMember
from domain.sms.commands import SendSms
from domain.work import (
    Completed,
    Parked,
    Pending,
    PermanentFailure,
    RetryScheduled,
    RetrySettings,
    Succeeded,
    TransientFailure,
    WorkRequest,
)
from processes.reimbursements.application import ReimbursementsApplication
from processes.reimbursements.notify import (
    MailNotification,
    NotificationPayload,
    Notified,
    SmsNotification,
)
from processes.reimbursements.payment import PaymentCheck, PaymentStart, StartPayload
from tests.unit.work_items import leased

# Who the tests' commands are recorded as, where it does not matter.
ACTOR = Actor.system("tests")

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
RETRY = RetrySettings(budget=timedelta(minutes=2))
POLLS = RetrySettings(budget=None)


class FakeMailer:
    def __init__(self, error: Exception | None = None) -> None:
        self.sent: list[OutboundMail] = []
        self.error = error

    async def send(self, mail: OutboundMail) -> None:
        self.sent.append(mail)
        if self.error:
            raise self.error


class FakeQueue:
    def __init__(self) -> None:
        self.sent: list[tuple[str, Message]] = []

    async def send(self, queue: str, message: Message) -> None:
        self.sent.append((queue, message))

    async def consume(self, queue: str, handler: CommandHandler, stop: Any) -> None:
        raise NotImplementedError

    async def dead_letters(self, queue: str, limit: int = 100) -> Sequence[DeadLetter]:
        return []

    async def close(self) -> None:
        pass


class FakeRail:
    def __init__(self, *answers: RailPayment | Exception) -> None:
        self.answers = list(answers)
        self.orders: list[PaymentOrder] = []

    async def _next(self) -> RailPayment:
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def create(self, order: PaymentOrder) -> RailPayment:
        self.orders.append(order)
        return await self._next()

    async def status(self, payment_id: str) -> RailPayment:
        return await self._next()


@pytest.fixture()
def app() -> ReimbursementsApplication:
    return ReimbursementsApplication()


def seeded(app: ReimbursementsApplication, phone: str | None) -> Reimbursement:
    suffix = uuid4().hex[:6]
    bank = Bank(uid=f"b{suffix}", name="Bank", location="Here", actor=ACTOR)
    admin = BankAdministrator(
        uid=f"a{suffix}", first_name="A", last_name="B", bank_id=bank.id, actor=ACTOR
    )
    member = BankMember(
        uid=f"m{suffix}",
        first_name="Ida",
        last_name="Storm",
        email="ida@example.com",
        phone=phone,
        actor=ACTOR,
    )
    account = BankAccount(
        uid=f"c{suffix}", bank_id=bank.id, bank_member_id=member.id, actor=ACTOR, currency="EUR"
    )
    r = Reimbursement(
        bank_account_id=account.id,
        bank_id=bank.id,
        member_id=member.id,
        amount=Decimal("40.00"),
        currency="EUR",
        description="Hotel",
        submitted_at=T0,
        actor=ACTOR,
    )
    app.save(bank, admin, member, account, r)
    return r


item = leased


def only(requests: Sequence[Any]) -> WorkRequest[Any]:
    assert len(requests) == 1 and isinstance(requests[0], WorkRequest)
    return requests[0]


async def test_a_denial_plans_one_mail_with_the_reason_and_no_payment(
    app: ReimbursementsApplication,
) -> None:
    r = seeded(app, phone=None)
    r.deny(uuid4(), r.bank_id, "No receipt", T0, actor=ACTOR)
    app.save(r)
    denied = app.events.get(r.id, gt=1)
    event = next(iter(denied))
    mailer = FakeMailer()
    policy = MailNotification(app, mailer, "from@example.com", RETRY)
    request = only(policy.plan(event))
    assert request.id == only(policy.plan(event)).id  # a repeat plans the same work
    assert PaymentStart(app, FakeRail(), RETRY).plan(event) == []
    outcome = await policy.attempt(item(request))
    assert outcome == Succeeded(Notified(f"<reimbursement-{r.id}-denied@ledgerflow>"))
    assert "No receipt" in mailer.sent[0].text and mailer.sent[0].to == "ida@example.com"
    await policy.attempt(item(request, attempt=2))
    assert mailer.sent[0].message_id == mailer.sent[1].message_id  # a retry: the same mail
    recorded = policy.record(item(request), Completed(outcome), T0)
    assert [type(e).__name__ for e in recorded[0].collect_events()] == ["NotificationSent"]


async def test_mail_failures_are_classified(app: ReimbursementsApplication) -> None:
    r = seeded(app, phone=None)
    r.approve(uuid4(), r.bank_id, T0, actor=ACTOR)
    app.save(r)
    event = next(iter(app.events.get(r.id, gt=1)))
    lost = MailNotification(app, FakeMailer(OutcomeUnknown("dropped")), "f@example.com", RETRY)
    request = only(lost.plan(event))
    assert isinstance(await lost.attempt(item(request)), TransientFailure)
    refused = MailNotification(app, FakeMailer(ProviderRejected("550")), "f@example.com", RETRY)
    assert isinstance(await refused.attempt(item(request)), PermanentFailure)
    retry = RetryScheduled("dropped", T0 + timedelta(seconds=1))
    failed = lost.record(item(request), retry, T0)[0]
    assert failed.notifications == {"email:approved": "retrying"}


async def test_the_sms_is_a_send_sms_command_on_the_sms_queue(
    app: ReimbursementsApplication,
) -> None:
    r = seeded(app, phone="+4531234567")
    r.approve(uuid4(), r.bank_id, T0, actor=ACTOR)
    app.save(r)
    event = next(iter(app.events.get(r.id, gt=1)))
    queue = FakeQueue()
    policy = SmsNotification(app, queue, RETRY)
    request = only(policy.plan(event))
    await policy.attempt(item(request))
    await policy.attempt(item(request, attempt=2))
    (name, first), (_, second) = queue.sent
    assert name == command_queue_name("sms") == "ledgerflow.commands.sms"
    command = SendSms.model_validate_json(first.body)  # the same JSON as POST /sms
    assert command.message_id == f"reimbursement-{r.id}-approved" == first.message_id
    assert command.phone_number == "+4531234567" and command.correlation_id == str(r.id)
    assert json.loads(first.body) == json.loads(second.body)  # a retry: the same SMS
    # The SMS is the worker's command: the SMS workflow records it as such.
    assert actor_of_message(first) == Actor.system("worker-reimbursements")


async def test_no_phone_no_sms_and_nothing_recorded(app: ReimbursementsApplication) -> None:
    r = seeded(app, phone=None)
    r.approve(uuid4(), r.bank_id, T0, actor=ACTOR)
    app.save(r)
    event = next(iter(app.events.get(r.id, gt=1)))
    queue = FakeQueue()
    policy = SmsNotification(app, queue, RETRY)
    request = only(policy.plan(event))
    outcome = await policy.attempt(item(request))
    assert isinstance(outcome, Succeeded)
    assert queue.sent == [] and policy.record(item(request), Completed(outcome), T0) == []


async def test_payment_start_then_polls_until_final(app: ReimbursementsApplication) -> None:
    r = seeded(app, phone=None)
    r.approve(uuid4(), r.bank_id, T0, actor=ACTOR)
    app.save(r)
    approved = next(iter(app.events.get(r.id, gt=1)))
    rail = FakeRail(
        RailPayment("PAY1", RailStatus.PENDING),
        RailPayment("PAY1", RailStatus.PENDING),
        RailPayment("PAY1", RailStatus.SUCCESS),
    )
    start = PaymentStart(app, rail, RETRY)
    request = only(start.plan(approved))
    outcome = await start.attempt(item(request))
    assert isinstance(outcome, Succeeded)
    assert rail.orders[0].idempotency_key == str(r.payment_id)
    assert rail.orders[0].amount == Decimal("40.00")
    submitted_r = start.record(item(request), Completed(outcome), T0)[0]
    app.save(submitted_r)
    submitted = next(iter(app.events.get(r.id, gt=2)))
    assert isinstance(submitted, Reimbursement.PaymentSubmitted)

    check = PaymentCheck(
        app, rail, poll_interval=timedelta(seconds=2), deadline=timedelta(minutes=5), retry=POLLS
    )
    poll = only(check.plan(submitted))
    assert poll.due_at == T0 + timedelta(seconds=2) and poll.deadline == T0 + timedelta(minutes=5)
    assert await check.attempt(item(poll)) == Pending(check_again_in=timedelta(seconds=2))
    final = await check.attempt(item(poll))
    assert isinstance(final, Succeeded)
    paid = check.record(item(poll), Completed(final), T0)[0]
    assert paid.payment_status == "paid" and paid.rail_payment_id == "PAY1"
    # A poll whose call failed is no news: nothing recorded.
    assert check.record(item(poll), RetryScheduled("503", T0), T0) == []


async def test_a_parked_start_fails_the_payment_without_a_mail_and_a_retry_keeps_its_key(
    app: ReimbursementsApplication,
) -> None:
    """Parked after unknown outcomes, the payment may exist at the rail: the member is not
    told it failed, and an operator's retry asks the rail for that same payment."""
    r = seeded(app, phone=None)
    r.approve(uuid4(), r.bank_id, T0, actor=ACTOR)
    app.save(r)
    approved = next(iter(app.events.get(r.id, gt=1)))
    start = PaymentStart(app, FakeRail(), RETRY)
    request = only(start.plan(approved))
    failed = start.record(item(request, attempt=3), Parked("read timeout"), T0)[0]
    assert failed.payment_status == "failed" and "gave up" in (failed.payment_error or "")
    [failed_event] = failed.collect_events()
    assert isinstance(failed_event, Reimbursement.PaymentFailed) and not failed_event.definitive
    mail = MailNotification(app, FakeMailer(), "f@example.com", RETRY)
    assert mail.plan(failed_event) == []
    app.save(failed_event)
    retried = app.get_reimbursement(r.id)
    retried.retry_payment(T0, actor=ACTOR)
    [retry_event] = retried.collect_events()
    again = only(start.plan(retry_event))
    assert again.payload == StartPayload(round=2, payment_id=r.payment_id)
    assert again.id != request.id  # a new round of work, for the same payment


async def test_a_payment_the_rail_failed_tells_the_member_and_a_retry_is_a_new_payment(
    app: ReimbursementsApplication,
) -> None:
    r = seeded(app, phone=None)
    r.approve(uuid4(), r.bank_id, T0, actor=ACTOR)
    app.save(r)
    approved = next(iter(app.events.get(r.id, gt=1)))
    rail = FakeRail(RailPayment("PAY1", RailStatus.FAILURE, "account closed"))
    start = PaymentStart(app, rail, RETRY)
    request = only(start.plan(approved))
    outcome = await start.attempt(item(request))
    failed = start.record(item(request), Completed(outcome), T0)[0]
    failed_event = failed.collect_events()[-1]
    assert isinstance(failed_event, Reimbursement.PaymentFailed) and failed_event.definitive
    mail = MailNotification(app, FakeMailer(), "f@example.com", RETRY)
    assert only(mail.plan(failed_event)).payload == NotificationPayload(Purpose.PAYMENT_FAILED, 1)
    failed.retry_payment(T0, actor=ACTOR)
    retry_event = failed.collect_events()[-1]
    assert only(start.plan(retry_event)).payload.payment_id != r.payment_id


async def test_a_number_the_sms_workflow_would_refuse_is_a_permanent_failure_without_pii(
    app: ReimbursementsApplication,
) -> None:
    r = seeded(app, phone="+99912345678")  # no such country code
    r.approve(uuid4(), r.bank_id, T0, actor=ACTOR)
    app.save(r)
    event = next(iter(app.events.get(r.id, gt=1)))
    queue = FakeQueue()
    policy = SmsNotification(app, queue, RETRY)
    outcome = await policy.attempt(item(only(policy.plan(event))))
    assert isinstance(outcome, PermanentFailure) and queue.sent == []
    assert "+99912345678" not in outcome.error and "+999" in outcome.error
