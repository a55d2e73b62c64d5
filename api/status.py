"""`GET /status`: how far each follower is behind its log, what it set aside, the work
waiting by kind, and the platform's processes (heartbeats, restarts). The set-aside
items' own routes (`api.set_aside`) live under it."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from adapters.processes import STALE_AFTER_HEARTBEATS, ProcessRecord
from adapters.set_aside.desk import ItemState
from api import attention, dead_letters, set_aside
from api.access import Operator, Reader
from api.deps import Services
from api.errors import responses
from api.operator_actions import PARKED_WORK
from api.operator_actions import retry_parked as retry_parked_work
from api.set_aside import ITEM_EXAMPLE, SetAsideItemPublic
from domain.health import BreakerState

router = APIRouter(tags=["operations"])
router.include_router(set_aside.router)
router.include_router(attention.router)
router.include_router(dead_letters.router)

LISTED_SET_ASIDE = 100

STATUS_EXAMPLE: JsonDict = {
    "at": "2026-12-01T00:00:30Z",
    "followers": [
        {
            "follower": "billing_view",
            "log": "billing",
            "position": 310102,
            "head": 310150,
            "behind": 48,
            "updated_at": "2026-12-01T00:00:29.950000Z",
            "set_aside": 0,
        }
    ],
    "set_aside": [ITEM_EXAMPLE],
    "work": [
        {
            "kind": "billing.charge",
            "due": 1200,
            "in_flight": 400,
            "scheduled": 35,
            "failing": 35,
            "oldest_due_at": "2026-12-01T00:00:02Z",
        }
    ],
    "third_parties": [
        {
            "party": "payment-provider",
            "state": "open",
            "consecutive_failures": 14,
            "changed_at": "2026-12-01T00:00:21Z",
            "retry_at": "2026-12-01T00:00:31Z",
            "last_error": "ProviderUnavailable: 503 Service Unavailable",
        }
    ],
    "processes": [
        {
            "name": "worker-billing",
            "host": "ledgerflow-1",
            "pid": 4242,
            "up_since": "2026-12-01T00:00:10Z",
            "last_seen": "2026-12-01T00:00:28Z",
            "stale": False,
            "restarts": 1,
            "last_exit_code": None,
            "last_exit_signal": "SIGKILL",
            "last_exit_at": "2026-12-01T00:00:08Z",
        }
    ],
}


class FollowerPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)  # read from a `FollowerLag` as it is

    follower: str = Field(description="A read model, a process manager's planner or a relay.")
    log: str = Field(description="The workflow whose event log it follows.")
    position: int = Field(description="The last event it applied (notification id).")
    head: int = Field(description="The last event recorded in that log.")
    behind: int = Field(description="Events recorded and not applied yet.")
    updated_at: datetime = Field(description="When it last committed its position.")
    set_aside: int = Field(description="Aggregates it set aside: their events wait.")


class WorkPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)  # read from a `WorkBacklog` as it is

    kind: str = Field(description="The process manager's kind of call, e.g. billing.charge.")
    due: int = Field(description="Up for an attempt now.")
    in_flight: int = Field(description="Being attempted by a worker (lease not expired).")
    scheduled: int = Field(description="Due later: a retry after backoff, a poll, dunning.")
    failing: int = Field(description="Of all of them, those whose last attempt failed.")
    oldest_due_at: datetime | None = Field(
        description="When the longest-waiting due call became due (null: none is due)."
    )


class ThirdPartyPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)  # read from a `Health` as it is

    party: str = Field(description="The third party, e.g. sms-provider.")
    state: BreakerState = Field(
        description="closed: calls go out; open: it fails most calls, its work waits;"
        " half_open: a few probe calls go out, the first that succeeds closes it."
    )
    consecutive_failures: int = Field(description="Calls that failed in a row.")
    changed_at: datetime | None = Field(description="When it last opened or closed.")
    retry_at: datetime | None = Field(
        description="While open or half-open: when the next round of probes may go out."
    )
    last_error: str | None = Field(description="Why the last failed call failed.")


class ProcessPublic(BaseModel):
    name: str = Field(description="Its role, e.g. api, worker-sms (unique on its host).")
    host: str
    pid: int | None = Field(description="Its current run's process id.")
    up_since: datetime | None = Field(description="When its current run started.")
    last_seen: datetime | None = Field(description="Its last heartbeat.")
    stale: bool = Field(
        description=f"Not seen for {STALE_AFTER_HEARTBEATS} heartbeats: hung, killed, or its"
        " host gone."
    )
    restarts: int = Field(description="Times its supervisor (`ledgerflow up`) restarted it.")
    last_exit_code: int | None = Field(description="The exit code of its last exit.")
    last_exit_signal: str | None = Field(
        description="The signal that ended its last run, e.g. SIGKILL."
    )
    last_exit_at: datetime | None = Field(description="When it last exited.")

    @classmethod
    def of(cls, record: ProcessRecord, now: datetime, heartbeat: timedelta) -> ProcessPublic:
        return cls(
            name=record.name,
            host=record.host,
            pid=record.pid,
            up_since=record.started_at,
            last_seen=record.last_seen_at,
            stale=record.stale(now, heartbeat),
            restarts=record.restarts,
            last_exit_code=record.last_exit_code,
            last_exit_signal=record.last_exit_signal,
            last_exit_at=record.last_exit_at,
        )


class StatusPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [STATUS_EXAMPLE]})

    at: datetime = Field(description="The platform's time of the answer.")
    followers: list[FollowerPublic]
    set_aside: list[SetAsideItemPublic] = Field(
        description=f"Open set-aside items, oldest first (the first {LISTED_SET_ASIDE}:"
        " `GET /status/set-aside` has them all)."
    )
    work: list[WorkPublic]
    third_parties: list[ThirdPartyPublic] = Field(
        description="Each third party's circuit breaker, shared by every worker."
    )
    processes: list[ProcessPublic] = Field(
        description="The platform's long-running processes: heartbeats and restarts."
    )


@router.get(
    "/status",
    response_model=StatusPublic,
    summary="Followers' lag, what they set aside, the work waiting, and the processes",
    description="Each follower (read model, process manager, relay) against the head of "
    "the log it follows (`behind`: events not applied yet) and the events it set aside, and "
    "the outbound calls waiting by kind: due, in flight, scheduled later, failing, and the "
    "oldest due; each third party's circuit breaker (closed, open, half_open); "
    "and each long-running process: since when it runs, its last heartbeat (stale "
    "when missed), its restarts and how it last exited.",
)
async def status(services: Services, caller: Reader) -> StatusPublic:
    now = services.clock.now()
    lags, backlog = await services.status.follower_lags(), await services.status.work_backlog(now)
    items = await services.set_aside.items(state=ItemState.OPEN, limit=LISTED_SET_ASIDE)
    return StatusPublic(
        at=now,
        followers=[FollowerPublic.model_validate(lag) for lag in lags],
        set_aside=[SetAsideItemPublic.of(item) for item in items],
        work=[WorkPublic.model_validate(kind) for kind in backlog],
        third_parties=[
            ThirdPartyPublic.model_validate(health)
            for health in await services.status.third_parties()
        ],
        processes=[
            ProcessPublic.of(record, now, services.status.heartbeat)
            for record in await services.status.processes()
        ],
    )


class RetriedParkedPublic(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,  # read from a `RetriedParked` as it is
        json_schema_extra={"examples": [{"kind": "sms.send", "retried": 1840, "skipped": 2}]},
    )

    kind: str = Field(description="The kind of work retried, e.g. sms.send.")
    retried: int = Field(description="Parked items sent back to be tried again.")
    skipped: int = Field(
        description="Items listed as parked that no longer were when their turn came"
        " (retried meanwhile): not retried twice."
    )


@router.post(
    "/status/work/{kind}/retry-parked",
    response_model=RetriedParkedPublic,
    responses=responses(404),
    summary="Retry every parked item of a kind of work (an operator action)",
    description="Every item of the kind that waits for an operator (its work gave up: an SMS "
    "parked, an application or an invoice that needs attention, a payment that failed) is "
    "sent back to be tried again through its workflow's own retry, each retry an event on "
    "its aggregate naming the caller: the same items and the same calls as "
    "`POST /status/attention/retry` filtered to them. Answers how many were retried. Kinds: "
    + ", ".join(f"`{kind}`" for kind in PARKED_WORK)
    + "; another answers 404 `unknown_parked_kind`.",
)
async def retry_parked(
    services: Services,
    caller: Operator,
    kind: str = Path(description="The kind of work, e.g. sms.send.", examples=["sms.send"]),
) -> RetriedParkedPublic:
    return RetriedParkedPublic.model_validate(await retry_parked_work(services, kind, caller.actor))
