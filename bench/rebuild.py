"""(c) Projection rebuild, events per second, against the library's `ProjectionRunner`.

A fresh database gets N SMS, each requested and sent (2N events), written with
`Application.save(*aggregates)` in batches of 500. Ours: `Follower(app, SmsView(),
pool).rebuild()` over the whole log. Baseline: `eventsourcing.projection.ProjectionRunner`
with an equivalent projection writing the same rows, one event per transaction with
its tracking record (as the library does), measured over a prefix of the log.
"""

from __future__ import annotations

import asyncio
import os
import time
from datetime import UTC, datetime
from typing import Any

from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from eventsourcing.projection import Projection, ProjectionRunner
from psycopg.sql import SQL
from psycopg_pool import AsyncConnectionPool

from adapters.eventstore import open_application
from adapters.follower import Follower
from adapters.postgres import eventsourcing_env
from bench import BENCH, Result, fresh_database
from domain.sms.aggregate import Sms
from processes.sms.application import SmsApplication
from projections.sms import SmsView

# `sms_view`'s columns, with its primary key and without its other indexes.
BASELINE_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS baseline_sms_view"
    " (LIKE sms_view INCLUDING DEFAULTS, PRIMARY KEY (id))"
)


class BaselineSmsView(PostgresTrackingRecorder):
    """The same rows as `sms_view`, written the library's way: one event, one commit."""

    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        self.sql_create_statements.append(SQL(BASELINE_SCHEMA))  # type: ignore[arg-type]

    def requested(self, event: Sms.SmsRequested, tracking: Tracking) -> None:
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(
                "INSERT INTO baseline_sms_view (id, message_id, phone_number, text,"
                " correlation_id, status, attempts, requested_at, updated_at, version)"
                " VALUES (%s, %s, %s, %s, %s, 'requested', 0, %s, %s, %s)"
                " ON CONFLICT (id) DO NOTHING",
                (
                    event.originator_id,
                    event.message_id,
                    event.phone_number,
                    event.text,
                    event.correlation_id,
                    event.requested_at,
                    event.timestamp,
                    event.originator_version,
                ),
            )
            self._insert_tracking(curs, tracking)

    def sent(self, event: Sms.SmsSent, tracking: Tracking) -> None:
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(
                "UPDATE baseline_sms_view SET status = 'sent', attempts = %s,"
                " provider_message_id = %s, last_error = NULL, next_attempt_at = NULL,"
                " finished_at = %s, updated_at = %s, version = %s WHERE id = %s",
                (
                    event.attempt,
                    event.provider_message_id,
                    event.at,
                    event.timestamp,
                    event.originator_version,
                    event.originator_id,
                ),
            )
            self._insert_tracking(curs, tracking)

    def other(self, tracking: Tracking) -> None:
        self.insert_tracking(tracking)


class BaselineSmsProjection(Projection[BaselineSmsView]):
    name = "baseline_sms"

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.view.other(tracking)

    @process_event.register
    def _(self, domain_event: Sms.SmsRequested, tracking: Tracking) -> None:
        self.view.requested(domain_event, tracking)

    @process_event.register
    def _(self, domain_event: Sms.SmsSent, tracking: Tracking) -> None:
        self.view.sent(domain_event, tracking)


def prepare(url: str, count: int, batch: int = 500) -> int:
    """Write `count` SMS, each requested then sent; answer the number of events."""
    app = open_application(SmsApplication, url)
    try:
        now = datetime.now(UTC)
        for start in range(0, count, batch):
            aggregates = []
            for i in range(start, min(start + batch, count)):
                sms = Sms(
                    message_id=f"rebuild-{i}",
                    phone_number="+254712345678",
                    text="hi",
                    correlation_id=None,
                    requested_at=now,
                    actor=BENCH,
                )
                sms.record_sent(attempt=1, provider_message_id=f"provider-{i}", at=now, actor=BENCH)
                aggregates.append(sms)
            app.save(*aggregates)
        return int(app.recorder.max_notification_id() or 0)
    finally:
        app.close()


async def ours(url: str) -> tuple[int, float]:
    """Events applied by `Follower.rebuild()` and the seconds it took."""
    app = open_application(SmsApplication, url)
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
        url, min_size=1, max_size=4, open=False, kwargs={"autocommit": True}
    )
    await pool.open(wait=True, timeout=15)
    try:
        follower = Follower(app, SmsView(), pool)
        await follower.setup()
        started = time.perf_counter()
        applied = await follower.rebuild()
        return applied, time.perf_counter() - started
    finally:
        await pool.close()
        app.close()


def baseline(url: str, prefix: int, max_seconds: float) -> tuple[int, float]:
    """Events the library's runner applied (over a prefix of the log) and the seconds."""
    env = eventsourcing_env(url, pool_size=2, max_overflow=4)
    with ProjectionRunner(
        application_class=SmsApplication,
        projection_class=BaselineSmsProjection,
        view_class=BaselineSmsView,
        env=env,
    ) as runner:
        started = time.perf_counter()
        start_position = runner.view.max_tracking_id("sms") or 0
        position = start_position
        while position - start_position < prefix:
            elapsed = time.perf_counter() - started
            if elapsed > max_seconds:
                break
            runner.run_forever(timeout=0.02)  # re-raises the runner's error, if any
            position = runner.view.max_tracking_id("sms") or 0
        elapsed = time.perf_counter() - started
        return position - start_position, elapsed


def run(
    server: str,
    *,
    count: int = 20_000,
    baseline_prefix: int = 2000,
    baseline_seconds: float = 10.0,
) -> Result:
    load_before = os.getloadavg()
    with fresh_database(server, "c") as url:
        started = time.perf_counter()
        events = prepare(url, count)
        prepare_s = time.perf_counter() - started
        base_events, base_s = baseline(url, baseline_prefix, baseline_seconds)
        applied, ours_s = asyncio.run(ours(url))
    if applied != events:
        raise RuntimeError(f"rebuild applied {applied} events of {events}")
    return Result(
        key="c",
        name="rebuild",
        unit="events/s",
        baseline=base_events / base_s,
        ours=applied / ours_s,
        baseline_label="eventsourcing ProjectionRunner",
        details={
            "sms": count,
            "events": events,
            "prepare_s": prepare_s,
            "baseline_events": base_events,
            "baseline_s": base_s,
            "ours_events": applied,
            "ours_s": ours_s,
            "loadavg_before": load_before,
            "loadavg_after": os.getloadavg(),
        },
    )
