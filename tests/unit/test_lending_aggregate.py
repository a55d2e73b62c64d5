"""The `LoanApplication` aggregate: its lifecycle rules, and a state machine over every path."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import uuid4

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from adapters.eventstore import open_application
from domain.access import Actor
from domain.lending.aggregate import FINAL, ApplicationStatus, LoanApplication
from domain.lending.errors import ApplicationAlreadyFinal, ApplicationNotFlagged
from processes.lending.application import LendingApplication

# Who the tests' commands are recorded as, where it does not matter.
ACTOR = Actor.system("tests")

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def new_application() -> LoanApplication:
    return LoanApplication(
        first_name="Amina",
        last_name="Okafor",
        amount=Decimal("15000.00"),
        currency="EUR",
        term_months=36,
        email="amina@example.com",
        submitted_at=T0,
        actor=ACTOR,
    )


def test_a_decision_is_recorded_once_and_a_repeat_is_a_no_op() -> None:
    application = new_application()
    assert application.status is ApplicationStatus.PENDING
    assert application.record_decision("completed", "job-1", T0, actor=ACTOR) is True
    assert application.record_decision("completed", "job-1", T0, actor=ACTOR) is False
    events = application.collect_events()
    assert [type(e).__name__ for e in events] == ["ApplicationSubmitted", "ApplicationDecided"]
    with pytest.raises(ApplicationAlreadyFinal):
        application.record_decision("rejected", "job-1", T0, actor=ACTOR)


def test_a_flag_after_the_decision_is_a_no_op_and_a_late_decision_still_counts() -> None:
    decided = new_application()
    decided.record_decision("rejected", "job-1", T0, actor=ACTOR)
    assert decided.flag("late", T0, actor=ACTOR) is False
    flagged = new_application()
    assert flagged.flag("no decision in time", T0, actor=ACTOR) is True
    assert flagged.status is ApplicationStatus.NEEDS_ATTENTION
    assert flagged.record_decision("completed", "job-2", T0, actor=ACTOR) is True
    assert flagged.status is ApplicationStatus.COMPLETED and flagged.note is None


def test_only_a_flagged_application_is_polled_again() -> None:
    application = new_application()
    with pytest.raises(ApplicationNotFlagged):
        application.resume_polling(T0, actor=ACTOR)
    application.flag("late", T0, actor=ACTOR)
    application.resume_polling(T0, actor=ACTOR)
    assert (application.status, application.round) == (ApplicationStatus.PENDING, 2)
    resumed = application.collect_events()[-1]
    assert isinstance(resumed, LoanApplication.PollingResumed)
    assert (resumed.first_name, resumed.last_name) == ("Amina", "Okafor")


def test_failed_submissions_are_counted_once_each_and_per_round() -> None:
    application = new_application()
    assert (application.attempts, application.last_error) == (0, None)
    assert application.record_submission_failure(1, 1, "503", T0, actor=ACTOR) is True
    assert application.record_submission_failure(1, 1, "503", T0, actor=ACTOR) is False  # a repeat
    assert application.record_submission_failure(1, 10, "reset", T0, actor=ACTOR) is True
    assert application.record_submission_failure(1, 4, "503", T0, actor=ACTOR) is False  # older
    assert (
        application.record_submission_failure(2, 11, "503", T0, actor=ACTOR) is False
    )  # not this round
    assert (application.attempts, application.last_error) == (10, "reset")
    events = application.collect_events()
    assert [type(e).__name__ for e in events].count("SubmissionAttemptFailed") == 2
    assert [
        (e.round, e.attempt, e.error)
        for e in events
        if isinstance(e, LoanApplication.SubmissionAttemptFailed)
    ] == [(1, 1, "503"), (1, 10, "reset")]
    # Reported after the flag (results may arrive in any order): still counted.
    application.flag(
        "the bank partner never accepted the submission: reset (11 attempts)", T0, actor=ACTOR
    )
    assert application.record_submission_failure(1, 11, "reset", T0, actor=ACTOR) is True
    application.resume_polling(T0, actor=ACTOR)  # a new round counts again
    assert (application.attempts, application.last_error, application.round) == (0, None, 2)
    assert application.record_submission_failure(1, 12, "503", T0, actor=ACTOR) is False
    assert application.record_submission_failure(2, 1, "503", T0, actor=ACTOR) is True
    application.record_decision("completed", "job-1", T0, actor=ACTOR)
    assert application.record_submission_failure(2, 2, "late", T0, actor=ACTOR) is False  # it ended
    assert (application.attempts, application.last_error) == (1, "503")


@pytest.fixture(params=["memory", "postgres"])
def lending_app(request: pytest.FixtureRequest) -> Iterator[LendingApplication]:
    """The same test body against the in-memory store and against PostgreSQL."""
    if request.param == "memory":
        app = LendingApplication()
    else:
        app = open_application(LendingApplication, request.getfixturevalue("database_url"))
    yield app
    app.close()


def test_the_aggregate_round_trips_through_an_event_store(lending_app: LendingApplication) -> None:
    application = new_application()
    application.record_submission_failure(1, 2, "ProviderUnavailable: 503", T0, actor=ACTOR)
    application.flag("late", T0 + timedelta(seconds=30), actor=ACTOR)
    application.record_decision("completed", "job-9", T0 + timedelta(seconds=31), actor=ACTOR)
    lending_app.save(application)
    copy = lending_app.get_application(application.id)
    assert (copy.status, copy.job_id, copy.amount, copy.submitted_at) == (
        ApplicationStatus.COMPLETED,
        "job-9",
        Decimal("15000.00"),
        T0,
    )
    assert (copy.attempts, copy.last_error) == (2, "ProviderUnavailable: 503")
    assert uuid4() != copy.id


class ApplicationLifecycle(RuleBasedStateMachine):
    """Any sequence of results, repeats and operator actions keeps the invariants."""

    def __init__(self) -> None:
        super().__init__()
        self.application = new_application()
        self.decisions = 0
        self.now = T0

    def _tick(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now

    @rule(status=st.sampled_from(["completed", "rejected"]))
    def decision(self, status: str) -> None:
        application = self.application
        before = (application.status, application.job_id, application.version)
        if application.status in FINAL:
            if application.status.value == status and application.job_id == "job-1":
                assert (
                    application.record_decision(status, "job-1", self._tick(), actor=ACTOR) is False
                )
            else:
                with pytest.raises(ApplicationAlreadyFinal):
                    application.record_decision(status, "job-1", self._tick(), actor=ACTOR)
            assert (application.status, application.job_id, application.version) == before
        else:
            assert application.record_decision(status, "job-1", self._tick(), actor=ACTOR) is True
            self.decisions += 1

    @rule()
    def refusal(self) -> None:
        application = self.application
        version = application.version
        if application.status is ApplicationStatus.FAILED:
            assert application.record_refusal("invalid", self._tick(), actor=ACTOR) is False
        elif application.status in FINAL:
            with pytest.raises(ApplicationAlreadyFinal):
                application.record_refusal("invalid", self._tick(), actor=ACTOR)
        else:
            assert application.record_refusal("invalid", self._tick(), actor=ACTOR) is True
            assert application.status is ApplicationStatus.FAILED
            return
        assert application.version == version

    @rule(attempt=st.integers(min_value=1, max_value=30), error=st.sampled_from(["503", "reset"]))
    def submission_failure(self, attempt: int, error: str) -> None:
        application = self.application
        before = (application.attempts, application.last_error, application.version)
        recorded = application.record_submission_failure(
            application.round, attempt, error, self._tick(), actor=ACTOR
        )
        counts = application.status not in FINAL and attempt > before[0]
        assert recorded is counts
        if not recorded:
            assert (application.attempts, application.last_error, application.version) == before
        else:
            assert (application.attempts, application.last_error) == (attempt, error)

    @rule()
    def flag(self) -> None:
        was_pending = self.application.status is ApplicationStatus.PENDING
        assert self.application.flag("no decision", self._tick(), actor=ACTOR) is was_pending

    @precondition(lambda self: self.application.status is not ApplicationStatus.NEEDS_ATTENTION)
    @rule()
    def resume_refused_unless_flagged(self) -> None:
        with pytest.raises(ApplicationNotFlagged):
            self.application.resume_polling(self._tick(), actor=ACTOR)

    @precondition(lambda self: self.application.status is ApplicationStatus.NEEDS_ATTENTION)
    @rule()
    def resume(self) -> None:
        self.application.resume_polling(self._tick(), actor=ACTOR)
        assert self.application.status is ApplicationStatus.PENDING

    @invariant()
    def decided_at_most_once(self) -> None:
        assert self.decisions <= 1
        decided = self.application.status in {
            ApplicationStatus.COMPLETED,
            ApplicationStatus.REJECTED,
        }
        assert (self.application.job_id is not None) == decided

    @invariant()
    def final_states_have_a_time(self) -> None:
        final = self.application.status in FINAL
        assert (self.application.decided_at is not None) == final

    @invariant()
    def replay_gives_the_same_state(self) -> None:
        copy = None
        for event in self.application.pending_events:
            copy = event.mutate(copy)
        assert copy is not None
        assert (
            copy.status,
            copy.job_id,
            copy.round,
            copy.attempts,
            copy.last_error,
            copy.version,
        ) == (
            self.application.status,
            self.application.job_id,
            self.application.round,
            self.application.attempts,
            self.application.last_error,
            self.application.version,
        )


TestApplicationLifecycle = ApplicationLifecycle.TestCase
TestApplicationLifecycle.settings = settings(max_examples=60, stateful_step_count=25, deadline=None)
