"""The platform's state as Prometheus gauges, read from the database when scraped: each
follower's lag and set-aside aggregates, the work waiting by kind, what waits for an
operator in each workflow's read models, and each process's restarts and staleness.

One process serves them (the projections worker: see `ledgerflow.metrics`), so a scrape
asks the database once whatever the number of processes; a snapshot is kept for
`cache_seconds`, so several scrapers (or a scraper retrying) ask it once too. When the
database does not answer, `ledgerflow_status_up` is 0 and the other gauges are left out
rather than shown stale.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from psycopg_pool import AsyncConnectionPool

from adapters.processes import ProcessRecord, processes
from adapters.status import FollowerLag, WorkBacklog, follower_lags, work_backlog
from projections.parked import ParkedRows, ParkedSummary, parked_summaries

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PlatformStatus:
    at: datetime
    lags: Sequence[FollowerLag]
    backlog: Sequence[WorkBacklog]
    parked: Sequence[ParkedSummary]
    processes: Sequence[ProcessRecord] = ()
    heartbeat: timedelta = timedelta(seconds=5)  # the processes': stale after 3 missed


async def read_platform_status(
    pool: AsyncConnectionPool[Any],
    now: datetime,
    parked: Sequence[ParkedRows],
    heartbeat: timedelta = timedelta(seconds=5),
) -> PlatformStatus:
    return PlatformStatus(
        at=now,
        lags=await follower_lags(pool),
        backlog=await work_backlog(pool, now),
        parked=await parked_summaries(pool, parked),
        processes=await processes(pool),
        heartbeat=heartbeat,
    )


class PlatformStatusCollector(Collector):
    def __init__(
        self,
        read: Callable[[], PlatformStatus],
        cache_seconds: float = 5.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._read = read
        self._cache_seconds = cache_seconds
        self._monotonic = monotonic
        self._lock = threading.Lock()  # scrapes are served by several threads
        self._snapshot: PlatformStatus | None = None
        self._read_at = float("-inf")

    def describe(self) -> list[Metric]:
        return []  # registering must not query the database

    def collect(self) -> Iterator[Metric]:
        status = self._current()
        up = GaugeMetricFamily(
            "ledgerflow_status_up", "1 when the database answered the last status read"
        )
        up.add_metric([], 0 if status is None else 1)
        yield up
        if status is not None:
            yield from status_metrics(status)

    def _current(self) -> PlatformStatus | None:
        with self._lock:
            if self._monotonic() - self._read_at >= self._cache_seconds:
                try:
                    self._snapshot = self._read()
                except Exception as error:
                    log.warning("status read failed", extra={"error": repr(error)})
                    self._snapshot = None
                self._read_at = self._monotonic()
            return self._snapshot


def status_metrics(status: PlatformStatus) -> Iterator[Metric]:
    lag = GaugeMetricFamily(
        "ledgerflow_follower_lag_events",
        "Events recorded in the log a follower follows and not applied by it yet",
        labels=["follower", "log"],
    )
    set_aside = GaugeMetricFamily(
        "ledgerflow_follower_set_aside",
        "Aggregates a follower set aside (their events wait for an operator)",
        labels=["follower", "log"],
    )
    for follower in status.lags:
        lag.add_metric([follower.follower, follower.log], follower.behind)
        set_aside.add_metric([follower.follower, follower.log], follower.set_aside)
    backlog = GaugeMetricFamily(
        "ledgerflow_work_backlog",
        "Work waiting by kind: due (up for an attempt now), in_flight (leased by a worker),"
        " scheduled (due later: a retry after backoff, a poll)",
        labels=["kind", "state"],
    )
    failing = GaugeMetricFamily(
        "ledgerflow_work_failing",
        "Work waiting whose last attempt failed, by kind",
        labels=["kind"],
    )
    oldest = GaugeMetricFamily(
        "ledgerflow_work_oldest_due_age_seconds",
        "How long the longest-waiting due work of a kind has been due (0: none is due)",
        labels=["kind"],
    )
    for kind in status.backlog:
        backlog.add_metric([kind.kind, "due"], kind.due)
        backlog.add_metric([kind.kind, "in_flight"], kind.in_flight)
        backlog.add_metric([kind.kind, "scheduled"], kind.scheduled)
        failing.add_metric([kind.kind], kind.failing)
        waited = (status.at - kind.oldest_due_at).total_seconds() if kind.oldest_due_at else 0
        oldest.add_metric([kind.kind], max(0.0, waited))
    parked = GaugeMetricFamily(
        "ledgerflow_parked",
        "Items of a workflow's read model waiting for an operator: parked SMS, applications"
        " and invoices that need attention, reimbursements whose payment failed",
        labels=["workflow", "state"],
    )
    for summary in status.parked:
        parked.add_metric([summary.workflow, summary.state], summary.count)
    yield from (lag, set_aside, backlog, failing, oldest, parked, *process_metrics(status))


def process_metrics(status: PlatformStatus) -> Iterator[Metric]:
    # A gauge, not a counter: the count is the registry's, read back on each scrape.
    restarts = GaugeMetricFamily(
        "ledgerflow_process_restarts",
        "Times the supervisor (`ledgerflow up`) restarted a process after it exited",
        labels=["process", "host"],
    )
    stale = GaugeMetricFamily(
        "ledgerflow_process_stale",
        "1 when a process missed its last heartbeats (hung, killed, or its host gone)",
        labels=["process", "host"],
    )
    for record in status.processes:
        restarts.add_metric([record.name, record.host], record.restarts)
        stale.add_metric([record.name, record.host], int(record.stale(status.at, status.heartbeat)))
    yield from (restarts, stale)
