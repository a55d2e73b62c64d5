"""The process registry's rules, in-process: a process is stale once it has missed its
heartbeats (read on the platform's clock), never-seen counts as stale, and the restarts
and staleness are among the platform's metrics."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from prometheus_client import CollectorRegistry

from adapters.processes import STALE_AFTER_HEARTBEATS, ProcessRecord, is_stale
from adapters.status_metrics import PlatformStatus, PlatformStatusCollector
from domain.clock import ManualClock
from tests.unit.test_metrics import samples, value

HEARTBEAT = timedelta(seconds=5)


def record(clock: ManualClock, **changes: object) -> ProcessRecord:
    now = clock.now()
    fields: dict[str, object] = {
        "name": "worker-sms",
        "host": "node-1",
        "pid": 4242,
        "started_at": now,
        "last_seen_at": now,
        "restarts": 0,
        "last_exit_code": None,
        "last_exit_signal": None,
        "last_exit_at": None,
    }
    return ProcessRecord(**(fields | changes))  # type: ignore[arg-type]


def test_a_process_turns_stale_once_it_missed_its_heartbeats() -> None:
    clock = ManualClock()
    seen = record(clock)
    assert not seen.stale(clock.now(), HEARTBEAT)
    clock.advance(HEARTBEAT * STALE_AFTER_HEARTBEATS)
    assert not seen.stale(clock.now(), HEARTBEAT)  # late, but within its missed beats
    clock.advance(timedelta(milliseconds=1))
    assert seen.stale(clock.now(), HEARTBEAT)
    # Its next heartbeat makes it fresh again.
    assert not record(clock).stale(clock.now(), HEARTBEAT)


def test_the_rule_follows_the_heartbeat_it_is_given() -> None:
    clock = ManualClock()
    seen = clock.now()
    clock.advance(timedelta(seconds=20))
    assert is_stale(seen, clock.now(), timedelta(seconds=5))
    assert not is_stale(seen, clock.now(), timedelta(seconds=10))


def test_a_process_never_seen_is_stale() -> None:
    """A child that died before it registered has only its supervisor's record."""
    clock = ManualClock()
    assert is_stale(None, clock.now(), HEARTBEAT)
    assert record(clock, last_seen_at=None, pid=None).stale(clock.now(), HEARTBEAT)


def test_restarts_and_staleness_are_metrics_by_process() -> None:
    clock = ManualClock()
    crashing = record(clock, restarts=3, last_exit_signal="SIGKILL", last_exit_at=clock.now())
    hung = record(clock, name="worker-billing")
    clock.advance(HEARTBEAT * STALE_AFTER_HEARTBEATS + timedelta(seconds=1))
    fresh = record(clock, name="api")
    state = PlatformStatus(
        at=clock.now(),
        lags=[],
        backlog=[],
        parked=[],
        processes=[fresh, hung, replace(crashing, last_seen_at=clock.now())],
        heartbeat=HEARTBEAT,
    )
    registry = CollectorRegistry()
    registry.register(PlatformStatusCollector(lambda: state))
    found = samples(registry)
    assert value(found, "ledgerflow_process_restarts", process="worker-sms", host="node-1") == 3
    assert value(found, "ledgerflow_process_restarts", process="api") == 0
    assert value(found, "ledgerflow_process_stale", process="worker-billing") == 1
    assert value(found, "ledgerflow_process_stale", process="worker-sms") == 0
    assert value(found, "ledgerflow_process_stale", process="api") == 0
