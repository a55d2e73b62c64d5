"""`ledgerflow status`: what an operator looks at first, read from the database.

Each follower's lag and what it set aside (each item's id and error, for `ledgerflow
set-aside`), the work waiting by kind and, of each kind, the due call that has waited
longest (its aggregate, its work id, its last error), per workflow, what waits for an
operator in its read model with the latest one's id and reason, and the processes: since
when each runs, its last heartbeat (stale when missed), its restarts and last exit.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from rich.console import RenderableType

from adapters.processes import ProcessRecord, processes
from adapters.set_aside.desk import SetAsideDesk
from adapters.status import (
    DueWork,
    FollowerLag,
    WorkBacklog,
    follower_lags,
    oldest_due_work,
    work_backlog,
)
from ledgerflow.bootstrap import platform_session
from ledgerflow.cli_set_aside import set_aside_table
from ledgerflow.cli_tables import Rows
from ledgerflow.settings import Settings
from ledgerflow.workflows import WORKFLOWS
from projections.parked import ParkedSummary, parked_summaries


async def status_report(settings: Settings) -> list[RenderableType]:
    async with platform_session(settings, only=()) as platform:
        now = platform.clock.now()
        lags = await follower_lags(platform.pool)
        items = await SetAsideDesk(platform.pool).items()
        backlog = await work_backlog(platform.pool, now)
        oldest = await oldest_due_work(platform.pool, now, [kind.kind for kind in backlog])
        parked = await parked_summaries(
            platform.pool, [rows for workflow in WORKFLOWS for rows in workflow.parked]
        )
        running = await processes(platform.pool)
    heartbeat = timedelta(seconds=settings.process_heartbeat_seconds)
    waiting = [summary for summary in parked if summary.count]
    return [
        followers_table(lags) if lags else "no follower has run yet",
        set_aside_table(items) if items else "nothing set aside",
        work_table(backlog) if backlog else "no work waiting",
        *([oldest_due_table(oldest)] if oldest else []),
        parked_table(waiting) if waiting else "nothing waits for an operator",
        processes_table(running, now, heartbeat) if running else "no process has registered",
    ]


def processes_table(records: Sequence[ProcessRecord], now: datetime, heartbeat: timedelta) -> Rows:
    table = Rows(
        ("process", "host", "pid", "up since", "last seen", "restarts", "last exit"),
        title="processes",
    )
    for record in records:
        seen = _time(record.last_seen_at) if record.last_seen_at else "never"
        table.add(
            record.name,
            record.host,
            str(record.pid or ""),
            _time(record.started_at) if record.started_at else "",
            f"{seen} (stale)" if record.stale(now, heartbeat) else seen,
            str(record.restarts),
            _last_exit(record),
        )
    return table


def _last_exit(record: ProcessRecord) -> str:
    if record.last_exit_at is None:
        return ""
    how = record.last_exit_signal or f"code {record.last_exit_code}"
    return f"{how} at {_time(record.last_exit_at)}"


def followers_table(lags: Sequence[FollowerLag]) -> Rows:
    table = Rows(
        ("follower", "log", "position", "head", "behind", "updated at", "set aside"),
        title="followers",
    )
    for lag in lags:
        table.add(
            lag.follower,
            lag.log,
            str(lag.position),
            str(lag.head),
            str(lag.behind),
            _time(lag.updated_at),
            str(lag.set_aside),
        )
    return table


def work_table(backlog: Sequence[WorkBacklog]) -> Rows:
    table = Rows(
        ("work", "due", "in flight", "scheduled", "failing", "oldest due"), title="work waiting"
    )
    for kind in backlog:
        table.add(
            kind.kind,
            str(kind.due),
            str(kind.in_flight),
            str(kind.scheduled),
            str(kind.failing),
            _time(kind.oldest_due_at) if kind.oldest_due_at else "",
        )
    return table


def oldest_due_table(oldest: Sequence[DueWork]) -> Rows:
    table = Rows(
        ("kind", "aggregate", "work", "attempt", "due since", "last error"),
        title="of each kind, the due work waiting longest",
    )
    for work in oldest:
        table.add(
            work.kind,
            str(work.aggregate_id),
            str(work.id),
            str(work.attempt),
            _time(work.due_since),
            work.last_error or "",
        )
    return table


def parked_table(parked: Sequence[ParkedSummary]) -> Rows:
    table = Rows(
        ("workflow", "state", "count", "latest", "since", "reason"),
        title="waiting for an operator (the latest one and why)",
    )
    for summary in parked:
        table.add(
            summary.workflow,
            summary.state,
            str(summary.count),
            summary.latest_id or "",
            _time(summary.latest_at) if summary.latest_at else "",
            summary.latest_reason or "",
        )
    return table


def _time(at: datetime) -> str:
    return at.isoformat(timespec="seconds")
