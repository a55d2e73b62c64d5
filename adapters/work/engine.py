"""The work engine: leases due rows and makes their calls concurrently.

Each attempt runs as its own asyncio task (many in flight per process). Its decision is
recorded as an event on the aggregate (outcomes batched into one trip to a worker thread,
then group-committed), then its row is ended: deleted when complete, parked or dropped,
rescheduled with backoff otherwise. NOTIFYs from the scheduler wake idle workers.

Work for a third party is leased only while that party's breaker (adapters/work/health.py,
shared by every process) is closed; while it is open, a round of a few probes goes out
each time one is due, and the first probe that gets through closes it for everyone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import time
import uuid
from collections.abc import Awaitable, Sequence
from datetime import datetime, timedelta
from uuid import UUID

import psycopg
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from adapters.batching import AsyncBatcher
from adapters.eventstore import GroupCommitter
from adapters.set_aside.errors import TRANSIENT
from adapters.work.health import HealthStore, Observation
from adapters.work.policy import AnyWorkPolicy, Attempted, BoundPolicy
from adapters.work.schema import WORK_CHANNEL, LeasedWork
from adapters.work.store import WorkStore
from domain.clock import Clock
from domain.work import OutcomeNotApplicable, PollScheduled, RetryScheduled

log = logging.getLogger(__name__)

# Between two tries while the database does not answer: doubling up to the cap.
UNAVAILABLE_PAUSE_SECONDS = 0.1
UNAVAILABLE_PAUSE_CAP_SECONDS = 2.0


def worker_identity() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class WorkEngine:
    def __init__(
        self,
        store: WorkStore,
        policies: Sequence[AnyWorkPolicy],
        committer: GroupCommitter | None,
        clock: Clock,
        *,
        conninfo: str,
        concurrency: int = 100,
        lease_seconds: float = 30.0,
        idle_poll_seconds: float = 1.0,
        rng: random.Random | None = None,
        health: HealthStore | None = None,
        health_refresh_seconds: float = 0.2,
    ) -> None:
        self.store = store
        self.policies = {policy.kind: BoundPolicy(policy) for policy in policies}
        self.committer = committer
        self.clock = clock
        self.conninfo = conninfo
        self.concurrency = concurrency
        self.lease = timedelta(seconds=lease_seconds)
        self.idle_poll_seconds = idle_poll_seconds
        self.rng = rng or random.Random()
        self.owner = worker_identity()
        self.health = health
        self.health_refresh = health_refresh_seconds  # of the process's monotonic time
        self._parties: dict[str, list[str]] = {}  # third party -> its kinds
        for kind, bound in self.policies.items():
            if bound.third_party is not None:
                self._parties.setdefault(bound.third_party, []).append(kind)
        self._blocked: dict[str, datetime] = {}  # party -> when its next probes are due
        self._health_read_at: float | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._observing: set[asyncio.Task[None]] = set()  # health observations being written
        self._wake = asyncio.Event()
        self._outcomes: AsyncBatcher[Attempted, None] = AsyncBatcher(
            self._record_batch, max_batch=200, name="work-outcomes"
        )

    async def run(self, stop: asyncio.Event) -> None:
        listener = asyncio.create_task(self._listen(stop), name="work-listen")
        pause = UNAVAILABLE_PAUSE_SECONDS
        try:
            while not stop.is_set():
                try:
                    leased = await self._fill()
                    if not leased:
                        await self._wait_for_work(stop)
                    pause = UNAVAILABLE_PAUSE_SECONDS
                except TRANSIENT as error:
                    # The database went away (a restart, a failover): the process stays,
                    # its pool reconnects, the rows it leased wait for their lease to end.
                    log.warning(
                        "work engine: database unavailable, trying again",
                        extra={"error": type(error).__name__, "retry_in_seconds": pause},
                    )
                    await _sleep_or_stop(stop, pause)
                    pause = min(UNAVAILABLE_PAUSE_CAP_SECONDS, pause * 2)
        finally:
            listener.cancel()
            await asyncio.gather(listener, return_exceptions=True)
            if self._tasks:  # let calls in flight finish and be recorded
                await asyncio.wait(self._tasks, timeout=self.lease.total_seconds())
            await self._outcomes.close()
            await self.store.close()
            if self._observing:
                await asyncio.wait(self._observing, timeout=5.0)

    def _can_take_work(self) -> bool:
        """Lease when idle or when a tenth of the slots are free: at saturation one lease
        query per completion would cost more than the calls."""
        free = self.concurrency - len(self._tasks)
        return free > 0 and (not self._tasks or free >= max(1, self.concurrency // 10))

    async def _fill(self) -> int:
        if not self._can_take_work():
            return 0
        now = self.clock.now()
        free = self.concurrency - len(self._tasks)
        kinds, probes = await self._leasable(now)
        leased = []
        if kinds:
            leased = await self.store.lease(kinds, self.owner, now, self.lease, free)
        for party in probes:
            room = min(self.concurrency - len(self._tasks) - len(leased), self._probes)
            if room > 0:
                probed = await self.store.lease(
                    self._parties[party], self.owner, now, self.lease, room
                )
                if probed:
                    log.info("probing a third party", extra={"party": party, "calls": len(probed)})
                leased += probed
        for work in leased:
            task = asyncio.create_task(self._perform(work), name=f"work-{work.id}")
            self._tasks.add(task)
            task.add_done_callback(self._done)
        return len(leased)

    @property
    def _probes(self) -> int:
        return self.health.settings.probes if self.health else 0

    async def _leasable(self, now: datetime) -> tuple[list[str], list[str]]:
        """The kinds whose parties admit calls, and the parties this worker probes now."""
        if self.health is None or not self._parties:
            return list(self.policies), []
        read_at = self._health_read_at
        if read_at is None or time.monotonic() - read_at >= self.health_refresh:
            states = await self.health.read(self._parties)
            blocked = {
                party: health.retry_at or now
                for party, health in states.items()
                if not health.admits()
            }
            for party in set(self._blocked) - set(blocked):  # closed again: drain at once
                hastened = await self.store.hasten(self._parties[party], now)
                log.info("third party answers again", extra={"party": party, "due": hastened})
            self._blocked = blocked
            self._health_read_at = time.monotonic()
        due = [party for party, at in self._blocked.items() if now >= at]
        probes = [party for party in due if await self.health.claim_probes(party, now)]
        if due:  # claimed here or by another worker: its next round is due later
            self._health_read_at = None
        waiting = {kind for party in self._blocked for kind in self._parties[party]}
        return [kind for kind in self.policies if kind not in waiting], probes

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._wake.set()

    async def _wait_for_work(self, stop: asyncio.Event) -> None:
        timeout = self.idle_poll_seconds
        now = self.clock.now()
        blocked = {kind for party in self._blocked for kind in self._parties[party]}
        open_kinds = [kind for kind in self.policies if kind not in blocked]
        if self._can_take_work():  # nothing was due: sleep until the next due row
            next_due = await self.store.next_due_at(open_kinds) if open_kinds else None
            if next_due is not None:
                until = (next_due - now).total_seconds()
                timeout = max(0.0, min(timeout, until))
        for due in self._blocked.values():  # wake for the next round of probes
            timeout = max(0.0, min(timeout, (due - now).total_seconds() + 0.001))
        if self._blocked:  # and look often whether another worker's probe closed it
            timeout = min(timeout, self.health_refresh)
        if timeout <= 0:
            return
        self._wake.clear()
        stopper = asyncio.create_task(stop.wait())
        waker = asyncio.create_task(self._wake.wait())
        await asyncio.wait({stopper, waker}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
        waker.cancel()

    async def _listen(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                async with await psycopg.AsyncConnection.connect(
                    self.conninfo, autocommit=True
                ) as conn:
                    await conn.execute(f"LISTEN {WORK_CHANNEL}")
                    async for _ in conn.notifies():
                        self._wake.set()
            except (psycopg.OperationalError, OSError) as error:
                log.warning("work listener reconnecting", extra={"error": str(error)})
                await asyncio.sleep(1.0)

    async def _perform(self, work: LeasedWork) -> None:
        policy = self.policies[work.kind]
        try:
            attempted = await policy.attempt(work, self.clock, self.rng)
            await self._outcomes.submit(attempted)
        except Exception:
            # Nothing is lost: the lease expires and another attempt is made.
            log.exception(
                "work attempt crashed", extra={"work_id": str(work.id), "kind": work.kind}
            )

    def _observe(self, outcomes: list[Attempted], now: datetime) -> None:
        """What a batch of attempts tells of their parties' health, written in one
        transaction beside the batch's recording, not before it: a party's row is shared
        by every worker, and waiting for its lock would hold the batch's calls' slots."""
        if self.health is None:
            return
        observations = []
        for attempted in outcomes:
            party = self.policies[attempted.work.kind].third_party
            if party is not None and attempted.answered is not None:
                observations.append(Observation(party, attempted.answered, attempted.error, now))
        if observations:
            observed = asyncio.create_task(self._write_observations(self.health, observations))
            self._observing.add(observed)
            observed.add_done_callback(self._observing.discard)

    async def _write_observations(
        self, health: HealthStore, observations: list[Observation]
    ) -> None:
        try:
            await health.observe(observations)
        except Exception as error:  # health is advice: the outcome is recorded regardless
            parties = sorted({o.party for o in observations})
            log.warning("health not recorded", extra={"parties": parties, "error": repr(error)})
        for observation in observations:
            if not observation.succeeded:
                self._health_read_at = None  # look again before leasing more for it
            elif observation.party in self._blocked:  # a probe got through: it closed
                self._health_read_at = None
                self._wake.set()  # lease at once

    async def _record_batch(self, outcomes: list[Attempted]) -> list[BaseException | None]:
        """Applies a batch of outcomes to their aggregates in one trip to a thread, saves
        them (group commit), then ends their work rows (one transaction). An outcome whose
        aggregate moved meanwhile (a version conflict) is applied again to the fresh one."""
        now = self.clock.now()
        self._observe(outcomes, now)
        errors: list[BaseException | None] = [None] * len(outcomes)
        # Outcomes for one aggregate (a workflow with several process managers) are
        # recorded in rounds, so each sees the version the one before it wrote.
        for indexes in _rounds_by_aggregate(outcomes):
            answers = await self._record_round([outcomes[i] for i in indexes], now)
            for index, error in zip(indexes, answers, strict=True):
                errors[index] = error
        return errors

    async def _record_round(
        self, outcomes: list[Attempted], now: datetime
    ) -> list[BaseException | None]:
        errors = await self._apply_and_save(outcomes, now)
        conflicted = [
            o for o, e in zip(outcomes, errors, strict=True) if isinstance(e, IntegrityError)
        ]
        if conflicted:
            again = dict(
                zip(map(id, conflicted), await self._apply_and_save(conflicted, now), strict=True)
            )
            errors = [again.get(id(o), e) for o, e in zip(outcomes, errors, strict=True)]
        ends = [self._end(o) for o, e in zip(outcomes, errors, strict=True) if e is None]
        await asyncio.gather(*ends)
        return errors

    async def _apply_and_save(
        self, outcomes: list[Attempted], now: datetime
    ) -> list[BaseException | None]:
        applied = await asyncio.to_thread(_apply_outcomes, outcomes, now)
        saves = iter(
            await asyncio.gather(
                *(self._save(r) for r in applied if isinstance(r, list) and r),
                return_exceptions=True,
            )
        )
        errors: list[BaseException | None] = []
        for outcome, result in zip(outcomes, applied, strict=True):
            if isinstance(result, OutcomeNotApplicable):  # the aggregate moved on meanwhile
                log.info(
                    "outcome not recorded",
                    extra={"work_id": str(outcome.work.id), "reason": str(result)},
                )
                errors.append(None)
            elif isinstance(result, BaseException):
                errors.append(result)  # nothing recorded: the lease expires, it is tried again
            else:
                saved = next(saves) if result else None
                errors.append(saved if isinstance(saved, BaseException) else None)
        return errors

    async def _save(self, aggregates: list[Aggregate]) -> None:
        if self.committer is None:
            raise RuntimeError("this engine has no event store: its policies save nothing")
        await self.committer.save(*aggregates)

    def _end(self, outcome: Attempted) -> Awaitable[None]:
        decision = outcome.decision
        if isinstance(decision, RetryScheduled):
            return self.store.reschedule(
                outcome.work, self.owner, decision.retry_at, decision.error, decision.streak
            )
        if isinstance(decision, PollScheduled):
            return self.store.poll_later(outcome.work, self.owner, decision.poll_at)
        return self.store.finish(outcome.work, self.owner)


def _rounds_by_aggregate(outcomes: list[Attempted]) -> list[list[int]]:
    """Indexes of `outcomes` in rounds where each aggregate appears at most once."""
    rounds: list[list[int]] = []
    seen: dict[UUID, int] = {}
    for index, outcome in enumerate(outcomes):
        round_ = seen.get(outcome.work.aggregate_id, -1) + 1
        seen[outcome.work.aggregate_id] = round_
        if round_ == len(rounds):
            rounds.append([])
        rounds[round_].append(index)
    return rounds


def _apply_outcomes(
    outcomes: list[Attempted], now: datetime
) -> list[list[Aggregate] | BaseException]:
    """Runs in a worker thread: each policy loads its aggregate and records the decision."""
    results: list[list[Aggregate] | BaseException] = []
    for outcome in outcomes:
        if outcome.record is None:  # polled without news, or dropped: not an event
            results.append([])
            continue
        try:
            results.append(list(outcome.record(now)))
        except Exception as error:
            results.append(error)
    return results


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
