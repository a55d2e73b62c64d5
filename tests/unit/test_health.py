"""A third party's breaker: what opens it, how probes go, what closes it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from domain.health import BreakerSettings, BreakerState, Health, observe, probing

T0 = datetime(2026, 12, 1, tzinfo=UTC)
SETTINGS = BreakerSettings(
    consecutive_failures=5,
    failure_ratio=0.6,
    minimum_calls=20,
    window=timedelta(seconds=10),
    open_for=timedelta(seconds=5),
)


def fold(outcomes: list[bool], health: Health | None = None, step: float = 0.01) -> Health:
    health = health or Health("sms-provider")
    for n, succeeded in enumerate(outcomes):
        health = observe(
            health, succeeded, None if succeeded else "503", T0 + n * _s(step), SETTINGS
        )
    return health


def _s(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)


def test_consecutive_failures_open_it_and_a_success_between_resets_the_count() -> None:
    assert fold([False] * 4).state is BreakerState.CLOSED
    assert fold([False] * 4 + [True] + [False] * 4).state is BreakerState.CLOSED
    opened = fold([False] * 5)
    assert opened.state is BreakerState.OPEN and opened.last_error == "503"
    assert opened.retry_at == T0 + 4 * _s(0.01) + SETTINGS.open_for
    assert not opened.admits() and not opened.probes_due(T0)


def test_a_failure_ratio_over_a_window_opens_it_once_enough_calls_were_made() -> None:
    # Two failures then a success, over and over: never five in a row, 2/3 failing.
    mostly_failing = [False, False, True] * 7
    assert fold(mostly_failing[:18]).state is BreakerState.CLOSED  # 18 calls: too few
    assert fold(mostly_failing[:20]).state is BreakerState.OPEN
    # A window's calls spread over more than its length start counting again.
    assert fold(mostly_failing, step=1.0).state is BreakerState.CLOSED


@given(st.lists(st.booleans(), max_size=200))
def test_it_stays_closed_while_most_calls_succeed(outcomes: list[bool]) -> None:
    # Whatever the order, at most one failure in five never opens it.
    spread = [succeeded or n % 5 != 0 for n, succeeded in enumerate(outcomes)]
    assert fold(spread).state is BreakerState.CLOSED


def test_probes_go_out_once_the_wait_is_over_and_the_first_success_closes_it() -> None:
    opened = fold([False] * 5)
    later = opened.retry_at
    assert later is not None and opened.probes_due(later)
    probing_now = probing(opened, later, SETTINGS)
    assert probing_now.state is BreakerState.HALF_OPEN
    assert not probing_now.probes_due(later)  # one round per wait
    assert probing_now.probes_due(later + SETTINGS.open_for)

    failed = observe(probing_now, False, "timeout", later + _s(1), SETTINGS)
    assert (
        failed.state is BreakerState.OPEN and failed.retry_at == later + _s(1) + SETTINGS.open_for
    )
    closed = observe(
        probing(failed, failed.retry_at, SETTINGS), True, None, later + _s(7), SETTINGS
    )
    assert closed.state is BreakerState.CLOSED and closed.consecutive_failures == 0
    assert closed.admits() and closed.changed_at == later + _s(7)
