"""A third party's health: a circuit breaker shared by every worker process.

The states are pybreaker's: `closed` (calls go out), `open` (the party fails most calls:
its work waits, nothing is called) and `half_open` (a few probe calls go out; the first
that succeeds closes the breaker, one that fails opens it again). What opens it follows
Envoy's outlier detection: `consecutive_failures` failures in a row, or a failure ratio
of at least `failure_ratio` over a window of `window` with at least `minimum_calls`.

A call "fails" when the party did not answer usefully (unavailable, timed out, the answer
lost): a refusal (4xx) is an answer, so it counts as a success here. The state is a value
(`Health`) folded over observations by pure functions; adapters/work/health.py keeps it
in PostgreSQL, one row per party.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True)
class BreakerSettings:
    consecutive_failures: int = 10
    failure_ratio: float = 0.6
    minimum_calls: int = 20
    window: timedelta = timedelta(seconds=10)
    open_for: timedelta = timedelta(seconds=5)  # before the first probe, and between probes
    probes: int = 2  # probe calls let through each `open_for` while half-open


@dataclass(frozen=True)
class Health:
    """One party's breaker. `retry_at`: while open, when probes may go out next."""

    party: str
    state: BreakerState = BreakerState.CLOSED
    consecutive_failures: int = 0
    window_started_at: datetime | None = None
    window_calls: int = 0
    window_failures: int = 0
    changed_at: datetime | None = None
    retry_at: datetime | None = None
    last_error: str | None = None

    def admits(self) -> bool:
        """Whether calls go out freely (closed)."""
        return self.state is BreakerState.CLOSED

    def probes_due(self, now: datetime) -> bool:
        """Whether a round of probes may go out now (open or half-open, its wait over)."""
        return self.state is not BreakerState.CLOSED and (
            self.retry_at is None or now >= self.retry_at
        )


def observe(
    health: Health, succeeded: bool, error: str | None, now: datetime, settings: BreakerSettings
) -> Health:
    """The breaker after one call's outcome."""
    if succeeded:
        if health.state is not BreakerState.CLOSED:  # a probe got through: close
            return Health(health.party, changed_at=now, window_started_at=now)
        return _counted(health, failed=False, now=now, settings=settings)
    if health.state is not BreakerState.CLOSED:  # a probe failed (or a late call): stay open
        return replace(
            health,
            state=BreakerState.OPEN,
            consecutive_failures=health.consecutive_failures + 1,
            retry_at=max(health.retry_at or now, now + settings.open_for),
            last_error=error,
        )
    counted = _counted(health, failed=True, now=now, settings=settings)
    counted = replace(counted, last_error=error)
    if _trips(counted, settings):
        return replace(
            counted, state=BreakerState.OPEN, changed_at=now, retry_at=now + settings.open_for
        )
    return counted


def probing(health: Health, now: datetime, settings: BreakerSettings) -> Health:
    """The breaker once a round of probes was let through: half-open until their outcome,
    the next round not before `open_for` (a probe whose answer never comes is not waited
    for beyond that)."""
    return replace(
        health,
        state=BreakerState.HALF_OPEN,
        changed_at=now if health.state is not BreakerState.HALF_OPEN else health.changed_at,
        retry_at=now + settings.open_for,
    )


def _counted(health: Health, *, failed: bool, now: datetime, settings: BreakerSettings) -> Health:
    window_started_at, calls, failures = (
        health.window_started_at,
        health.window_calls,
        health.window_failures,
    )
    if window_started_at is None or now - window_started_at >= settings.window:
        window_started_at, calls, failures = now, 0, 0
    return replace(
        health,
        consecutive_failures=health.consecutive_failures + 1 if failed else 0,
        window_started_at=window_started_at,
        window_calls=calls + 1,
        window_failures=failures + int(failed),
    )


def _trips(health: Health, settings: BreakerSettings) -> bool:
    if health.consecutive_failures >= settings.consecutive_failures:
        return True
    return (
        health.window_calls >= settings.minimum_calls
        and health.window_failures >= settings.failure_ratio * health.window_calls
    )
