"""The work engine's metrics: each attempt's outbound call by kind, outcome and latency,
and the work parked for an operator by kind (Prometheus, the process's default registry).

Recorded where `BoundPolicy.attempt` learns the outcome and the engine's decision, so
every kind of every workflow is measured the same way at no cost to the policies.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable
from typing import TypeVar

from prometheus_client import Counter, Histogram

from domain.work import Obsolete, Parked, Pending, PermanentFailure, Succeeded, TransientFailure

OutcomeT = TypeVar("OutcomeT")

# The `outcome` label of an attempt, by the type of what the policy answered.
OUTCOME_LABELS: dict[type, str] = {
    Succeeded: "succeeded",
    PermanentFailure: "failed_permanently",
    TransientFailure: "failed_transiently",
    Pending: "pending",
    Obsolete: "obsolete",
}
CRASHED = "crashed"  # the attempt raised: nothing decided, the lease expires

OUTBOUND_CALLS = Histogram(
    "ledgerflow_outbound_call_duration_seconds",
    "One attempt of due work (a third party's call and its classification), by kind and"
    " outcome: succeeded, failed_permanently, failed_transiently, pending, obsolete, crashed",
    ["kind", "outcome"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
WORK_PARKED = Counter(
    "ledgerflow_work_parked",
    "Work the engine parked for an operator (retry budget spent, or deadline passed), by kind",
    ["kind"],
)


async def measured_call(kind: str, attempt: Awaitable[OutcomeT]) -> OutcomeT:
    """`attempt` awaited, its latency observed under its outcome."""
    started = time.perf_counter()
    try:
        outcome = await attempt
    except Exception:
        _calls(kind, CRASHED).observe(time.perf_counter() - started)
        raise
    label = OUTCOME_LABELS.get(type(outcome), type(outcome).__name__)
    _calls(kind, label).observe(time.perf_counter() - started)
    return outcome


@functools.cache
def _calls(kind: str, outcome: str) -> Histogram:
    """The series of one kind and outcome, looked up once: the client's lookup by labels
    takes a lock and validates them on every call."""
    return OUTBOUND_CALLS.labels(kind, outcome)


def count_decision(kind: str, decision: object) -> None:
    if isinstance(decision, Parked):
        WORK_PARKED.labels(kind).inc()
