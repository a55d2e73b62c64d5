"""The `Sms` aggregate: its lifecycle rules, and a state machine over every path."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest
from eventsourcing.application import Application
from eventsourcing.persistence import IntegrityError
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from adapters.eventstore import open_application
from domain.access import Actor
from domain.sms.aggregate import Sms, SmsStatus, request_fingerprint, sms_id_for
from domain.sms.errors import SmsAlreadyFinal, SmsNotRetryable
from domain.work import OutcomeNotApplicable
from processes.sms.application import SmsApplication

# Who the tests' commands are recorded as, where it does not matter.
ACTOR = Actor.system("tests")

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def new_sms(message_id: str = "m-1") -> Sms:
    return Sms(
        message_id=message_id,
        phone_number="+254712345678",
        text="hello",
        correlation_id="c-1",
        requested_at=T0,
        actor=ACTOR,
    )


def test_the_id_follows_from_the_clients_message_id() -> None:
    assert new_sms("m-1").id == sms_id_for("m-1") == new_sms("m-1").id
    assert new_sms("m-2").id != new_sms("m-1").id


def test_the_fingerprint_tells_bodies_apart() -> None:
    sms = new_sms()
    assert sms.fingerprint == request_fingerprint("+254712345678", "hello", "c-1")
    assert sms.fingerprint != request_fingerprint("+254712345678", "hello!", "c-1")


def test_a_transient_failure_then_success_records_every_attempt() -> None:
    sms = new_sms()
    sms.record_transient_failure(1, "503", T0, T0 + timedelta(seconds=1), actor=ACTOR)
    assert sms.status is SmsStatus.SENDING
    sms.record_sent(2, "SM1", T0 + timedelta(seconds=1), actor=ACTOR)
    events = sms.collect_events()
    assert [type(e).__name__ for e in events] == ["SmsRequested", "SmsSendAttemptFailed", "SmsSent"]
    assert sms.status is SmsStatus.SENT and sms.attempts == 2 and sms.provider_message_id == "SM1"


def test_nothing_is_recorded_after_the_end() -> None:
    sms = new_sms()
    sms.record_sent(1, "SM1", T0, actor=ACTOR)
    with pytest.raises(SmsAlreadyFinal) as raised:
        sms.record_sent(2, "SM2", T0, actor=ACTOR)
    assert isinstance(raised.value, OutcomeNotApplicable)  # the work engine drops the work
    with pytest.raises(SmsAlreadyFinal):
        sms.park(2, "x", T0, actor=ACTOR)


def test_only_a_parked_sms_can_be_retried() -> None:
    sms = new_sms()
    with pytest.raises(SmsNotRetryable):
        sms.retry(T0, actor=ACTOR)
    sms.park(8, "gave up", T0, actor=ACTOR)
    sms.retry(T0, actor=ACTOR)
    assert sms.status is SmsStatus.REQUESTED and sms.round == 2
    retried = sms.collect_events()[-1]
    assert isinstance(retried, Sms.SmsRetryRequested)
    assert retried.next_attempt == 9  # attempt numbers keep growing across rounds


@pytest.fixture(params=["memory", "postgres"])
def sms_app(request: pytest.FixtureRequest) -> Iterator[SmsApplication]:
    """The same test body against the in-memory store and against PostgreSQL."""
    if request.param == "memory":
        app = SmsApplication()
    else:
        app = open_application(SmsApplication, request.getfixturevalue("database_url"))
    yield app
    app.close()


def test_the_aggregate_round_trips_through_an_event_store(sms_app: SmsApplication) -> None:
    sms = new_sms(f"m-{uuid4()}")
    sms.record_transient_failure(1, "timeout", T0, T0 + timedelta(seconds=2), actor=ACTOR)
    sms.record_sent(2, "SM9", T0 + timedelta(seconds=2), actor=ACTOR)
    sms_app.save(sms)
    copy = sms_app.get_sms(sms.id)
    assert (copy.status, copy.attempts, copy.provider_message_id, copy.requested_at) == (
        SmsStatus.SENT,
        2,
        "SM9",
        T0,
    )
    again = new_sms(sms.message_id)
    with pytest.raises(IntegrityError):  # the same message id cannot be requested twice
        sms_app.save(again)


class SmsLifecycle(RuleBasedStateMachine):
    """Any sequence of outcomes and operator retries keeps the aggregate's invariants."""

    def __init__(self) -> None:
        super().__init__()
        self.sms = new_sms()
        self.attempt = 0
        self.sent_events = 0
        self.now = T0

    def _next(self) -> int:
        self.attempt += 1
        self.now += timedelta(seconds=1)
        return self.attempt

    @precondition(lambda self: self.sms.status in {SmsStatus.REQUESTED, SmsStatus.SENDING})
    @rule(error=st.sampled_from(["503", "timeout", "reset"]))
    def transient_failure(self, error: str) -> None:
        self.sms.record_transient_failure(self._next(), error, self.now, self.now, actor=ACTOR)
        assert self.sms.status is SmsStatus.SENDING

    @precondition(lambda self: self.sms.status in {SmsStatus.REQUESTED, SmsStatus.SENDING})
    @rule()
    def sent(self) -> None:
        self.sms.record_sent(self._next(), f"SM{self.attempt}", self.now, actor=ACTOR)
        self.sent_events += 1

    @precondition(lambda self: self.sms.status in {SmsStatus.REQUESTED, SmsStatus.SENDING})
    @rule()
    def rejected(self) -> None:
        self.sms.record_rejection(self._next(), "400 recipient rejected", self.now, actor=ACTOR)

    @precondition(lambda self: self.sms.status in {SmsStatus.REQUESTED, SmsStatus.SENDING})
    @rule()
    def parked(self) -> None:
        self.sms.park(self._next(), "max attempts", self.now, actor=ACTOR)

    @rule()
    def operator_retry(self) -> None:
        before = self.sms.status
        if before is SmsStatus.PARKED:
            self.sms.retry(self.now, actor=ACTOR)
            assert self.sms.status is SmsStatus.REQUESTED
        else:
            with pytest.raises(SmsNotRetryable):
                self.sms.retry(self.now, actor=ACTOR)
            assert self.sms.status is before

    @precondition(lambda self: self.sms.status in {SmsStatus.SENT, SmsStatus.FAILED})
    @rule()
    def late_outcome_is_refused(self) -> None:
        version = self.sms.version
        with pytest.raises(SmsAlreadyFinal):
            self.sms.record_sent(self.attempt + 1, "late", self.now, actor=ACTOR)
        assert self.sms.version == version

    @invariant()
    def attempts_never_exceed_those_made(self) -> None:
        assert self.sms.attempts == self.attempt

    @invariant()
    def sent_at_most_once(self) -> None:
        assert self.sent_events <= 1
        assert (self.sms.provider_message_id is not None) == (self.sms.status is SmsStatus.SENT)

    @invariant()
    def final_states_have_an_end_time(self) -> None:
        final = self.sms.status in {SmsStatus.SENT, SmsStatus.FAILED, SmsStatus.PARKED}
        assert (self.sms.finished_at is not None) == final

    @invariant()
    def replay_gives_the_same_state(self) -> None:
        app = Application[UUID]()
        events = list(self.sms.pending_events)
        if not events:
            return
        copy = None
        for event in events:
            copy = event.mutate(copy)
        assert copy is not None
        assert (copy.status, copy.attempts, copy.version) == (
            self.sms.status,
            self.sms.attempts,
            self.sms.version,
        )
        del app


TestSmsLifecycle = SmsLifecycle.TestCase
