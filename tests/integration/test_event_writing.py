"""Writing events: one statement per append, the library's guarantees kept."""

from __future__ import annotations

import asyncio
import threading
import uuid
from datetime import UTC, datetime

import psycopg
import pytest
from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from adapters.eventstore import GroupCommitter, OneTripApplicationRecorder, open_application
from domain.access import Actor
from domain.sms.aggregate import Sms
from processes.sms.application import SmsApplication

# Who the tests' commands are recorded as, where it does not matter.
ACTOR = Actor.system("tests")

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def _sms(n: int) -> Sms:
    return Sms(
        message_id=f"w-{n}-{uuid.uuid4().hex[:8]}",
        phone_number="+254712345678",
        text=f"text {n}",
        correlation_id=None,
        requested_at=T0,
        actor=ACTOR,
    )


def _sent_and_stale(app: SmsApplication, n: int) -> tuple[Sms, Sms]:
    """An SMS saved and sent, and a stale copy of it that records its own sending: saving
    the copy conflicts on the version the first sending took."""
    stored = _sms(n)
    app.save(stored)
    stale: Sms = app.repository.get(stored.id)
    stored.record_sent(1, f"SM{n}", T0, actor=ACTOR)
    app.save(stored)
    stale.record_sent(1, "SM-stale", T0, actor=ACTOR)
    return stored, stale


def test_a_save_answers_its_notification_ids_and_is_readable(fresh_database_url: str) -> None:
    app = open_application(SmsApplication, fresh_database_url)
    try:
        assert isinstance(app.recorder, OneTripApplicationRecorder)
        first, second = _sms(1), _sms(2)
        second.record_sent(1, "SM2", T0, actor=ACTOR)

        recordings = app.save(first, second)

        ids = [recording.notification.id for recording in recordings]
        assert ids == list(range(ids[0], ids[0] + 3))
        notifications = app.recorder.select_notifications(start=ids[0], limit=10)
        assert [n.id for n in notifications] == ids
        assert app.repository.get(second.id).status == second.status
    finally:
        app.close()


def test_a_conflict_writes_nothing_and_frees_the_connection_and_the_lock(
    fresh_database_url: str,
) -> None:
    app = open_application(SmsApplication, fresh_database_url)
    other = open_application(SmsApplication, fresh_database_url)
    try:
        _, stale = _sent_and_stale(app, 1)
        bystander = _sms(2)

        with pytest.raises(IntegrityError):
            app.save(bystander, stale)  # one transaction: the bystander is not written

        with pytest.raises(AggregateNotFoundError):
            app.repository.get(bystander.id)
        # The table lock went with the failed transaction: another writer gets it at once.
        with psycopg.connect(fresh_database_url, autocommit=True) as conn:
            conn.execute("SET lock_timeout = '1s'")
            with conn.transaction():
                conn.execute("LOCK TABLE sms_events IN EXCLUSIVE MODE")
        other.save(_sms(3))
        after = _sms(4)
        app.save(after)  # and the pool's connection is usable again
        assert app.repository.get(after.id).version == after.version
    finally:
        other.close()
        app.close()


def test_concurrent_writers_each_get_a_contiguous_run_of_ids(fresh_database_url: str) -> None:
    """The table lock is taken before the INSERT draws its ids and held to COMMIT, so a
    transaction's ids are contiguous and commit order equals notification order."""
    app = open_application(SmsApplication, fresh_database_url, pool_size=4)
    runs: list[list[int]] = []
    lock = threading.Lock()

    def write(thread: int) -> None:
        for batch in range(10):
            recordings = app.save(*(_sms(thread * 1000 + batch * 10 + n) for n in range(5)))
            with lock:
                runs.append([r.notification.id for r in recordings])

    try:
        threads = [threading.Thread(target=write, args=(t,)) for t in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(runs) == 40
        for run in runs:
            assert run == list(range(run[0], run[0] + 5))
        stored = [n.id for n in app.recorder.select_notifications(start=1, limit=1000)]
        assert sorted(stored) == sorted(i for run in runs for i in run)
    finally:
        app.close()


def test_group_commit_saves_concurrent_callers_together_and_fails_only_a_conflicting_one(
    fresh_database_url: str,
) -> None:
    app = open_application(SmsApplication, fresh_database_url)
    try:
        stored, stale = _sent_and_stale(app, 0)
        head = app.recorder.max_notification_id() or 0
        fresh = [_sms(n) for n in range(1, 6)]

        async def save_concurrently() -> list[BaseException | None]:
            committer = GroupCommitter(app, writers=1)
            try:
                return await asyncio.gather(
                    *(committer.save(sms) for sms in [*fresh[:3], stale, *fresh[3:]]),
                    return_exceptions=True,
                )
            finally:
                await committer.close()

        answers = asyncio.run(save_concurrently())

        assert [type(a) for a in answers] == [type(None)] * 3 + [IntegrityError] + [type(None)] * 2
        for sms in fresh:
            assert app.repository.get(sms.id).version == sms.version
        assert app.repository.get(stored.id).provider_message_id == "SM0"
        stored_ids = [n.id for n in app.recorder.select_notifications(start=head + 1, limit=10)]
        assert len(stored_ids) == len(fresh)  # nothing of the conflicting caller's
    finally:
        app.close()
