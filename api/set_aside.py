"""`/status/set-aside`: events followers could not apply, and operators' decisions on them.

An item is one aggregate a follower (a read model, a planner, the relay) stopped at: the
event that failed, the error, and the aggregate's later events waiting behind it. After
a fix an operator has it retried (the event and those waiting are applied again, in
order; if it fails again the item stays, with the new error), or skipped with a reason
(its events are never applied by that follower). The follower carries the request out
itself, within a second or so: the answer is 202 with the request pending, and
`GET /status/set-aside/{item_id}` shows what came of it.

    GET  /status/set-aside                  open items (?state=closed|all, ?follower=)
    GET  /status/set-aside/{item_id}        one item, its waiting events, its requests
    POST /status/set-aside/{item_id}/retry  apply it again
    POST /status/set-aside/{item_id}/skip   {"reason": "..."}: never apply it
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints
from pydantic.config import JsonDict

from adapters.set_aside.desk import ItemState, SetAsideAction, SetAsideItem, WaitingEvent
from api.access import operators, readers
from api.callers import actor_of
from api.deps import Services
from api.errors import responses
from api.idempotency import Idempotent, IdempotentRoute
from domain.requests import STRICT, storable

router = APIRouter(prefix="/status/set-aside", tags=["operations"], route_class=IdempotentRoute)


async def _actor(request: Request) -> str:
    """Who is asking, as kept with the request: the caller the token names, as
    `role:subject` (the command line's requests are `cli:<user>`)."""
    actor = actor_of(request)
    return f"{actor.role}:{actor.subject}"


Actor = Annotated[str, Depends(_actor)]

ITEM_EXAMPLE: JsonDict = {
    "id": 7,
    "follower": "orders_view",
    "log": "orders",
    "aggregate_id": "0b9d3c52-31f5-4c38-9d1f-6a8f3a0e5b21",
    "event": {
        "notification_id": 4812,
        "version": 1,
        "topic": "domain.orders.aggregate:Order.OrderAccepted",
    },
    "error": {
        "type": "NumericValueOutOfRange",
        "message": 'value "…" is out of range for type bigint (SQLSTATE 22003)',
    },
    "failures": 1,
    "since": "2026-12-01T09:30:00Z",
    "last_failed_at": "2026-12-01T09:30:00Z",
    "waiting": 2,
    "requested": None,
    "resolution": None,
    "resolved_by": None,
    "resolved_at": None,
    "reason": None,
}
ACTION_EXAMPLE: JsonDict = {
    "id": 3,
    "action": "retry",
    "actor": "operator",
    "reason": None,
    "requested_at": "2026-12-01T10:02:00Z",
    "done_at": "2026-12-01T10:02:01Z",
    "outcome": "applied",
    "applied": 3,
    "error": None,
}


class SetAsideEventPublic(BaseModel):
    notification_id: int = Field(description="The event's place in its workflow's log.")
    version: int = Field(description="The aggregate's version the event made.")
    topic: str = Field(description="The event's type, as stored.")


class ErrorPublic(BaseModel):
    type: str = Field(description="The error's type, e.g. NumericValueOutOfRange.")
    message: str = Field(description="Its message, with the values it quoted left out.")


class SetAsideItemPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [ITEM_EXAMPLE]})

    id: int
    follower: str = Field(description="The read model, planner or relay that stopped.")
    log: str = Field(description="The workflow whose event log it follows.")
    aggregate_id: UUID = Field(description="The aggregate whose events it stopped applying.")
    event: SetAsideEventPublic = Field(description="The event it could not apply.")
    error: ErrorPublic
    failures: int = Field(description="1, plus each retry that failed again.")
    since: datetime = Field(description="When it was set aside.")
    last_failed_at: datetime
    waiting: int = Field(description="The aggregate's later events, waiting behind it.")
    requested: str | None = Field(description="A request its follower has not carried out.")
    resolution: str | None = Field(description="null while open; retried, skipped or rebuilt.")
    resolved_by: str | None
    resolved_at: datetime | None
    reason: str | None = Field(description="Why it was skipped.")

    @classmethod
    def of(cls, item: SetAsideItem) -> SetAsideItemPublic:
        return cls(
            id=item.id,
            follower=item.follower,
            log=item.log,
            aggregate_id=item.aggregate_id,
            event=SetAsideEventPublic(
                notification_id=item.notification_id, version=item.version, topic=item.topic
            ),
            error=ErrorPublic(type=item.error_type, message=item.error),
            failures=item.failures,
            since=item.set_aside_at,
            last_failed_at=item.failed_at,
            waiting=item.waiting,
            requested=item.requested,
            resolution=item.resolution,
            resolved_by=item.resolved_by,
            resolved_at=item.resolved_at,
            reason=item.reason,
        )


class ActionPublic(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,  # read from a `SetAsideAction` as it is
        json_schema_extra={"examples": [ACTION_EXAMPLE]},
    )

    id: int
    action: str = Field(description="retry or skip.")
    actor: str = Field(description="Who asked.")
    reason: str | None
    requested_at: datetime
    done_at: datetime | None = Field(description="null until the follower carried it out.")
    outcome: str | None = Field(description="applied, failed, skipped or superseded.")
    applied: int | None = Field(description="Events a retry applied.")
    error: str | None = Field(description="The error a retry failed with again.")


class SetAsideDetailPublic(SetAsideItemPublic):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    **ITEM_EXAMPLE,
                    "waiting_events": [
                        {
                            "notification_id": 4990,
                            "version": 2,
                            "topic": "domain.orders.aggregate:Order.OrderPlaced",
                        }
                    ],
                    "actions": [ACTION_EXAMPLE],
                }
            ]
        }
    )

    waiting_events: list[SetAsideEventPublic] = Field(description="In log order.")
    actions: list[ActionPublic] = Field(description="Operators' requests, oldest first.")


class SetAsideListPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [ITEM_EXAMPLE]}]})

    items: list[SetAsideItemPublic]


class SkipRequest(BaseModel):
    model_config = ConfigDict(
        **STRICT,
        json_schema_extra={"examples": [{"reason": "test order written by hand; not a trade"}]},
    )

    reason: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=500),
        AfterValidator(storable),
    ] = Field(description="Why it is never applied.")


@router.get(
    "",
    response_model=SetAsideListPublic,
    summary="Events followers set aside, oldest first",
    description="An event a read model, a process manager's planner or the relay could not "
    "apply stops its aggregate in that follower alone; its later events wait behind it. "
    "Open items wait for an operator to retry them after a fix, or to skip them.",
    dependencies=[Depends(readers)],
)
async def list_set_aside(
    services: Services,
    state: Annotated[ItemState, Query(description="open (default), closed or all.")] = (
        ItemState.OPEN
    ),
    follower: Annotated[str | None, Query(description="Only this follower's.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> SetAsideListPublic:
    items = await services.set_aside.items(state=state, follower=follower, limit=limit)
    return SetAsideListPublic(items=[SetAsideItemPublic.of(item) for item in items])


@router.get(
    "/{item_id}",
    response_model=SetAsideDetailPublic,
    summary="One set-aside item, the events waiting behind it and operators' requests",
    description="The item's error, the aggregate's events waiting behind it in log order, and "
    "every request operators made about it with what came of it.",
    responses=responses(404),
    dependencies=[Depends(readers)],
)
async def read_set_aside(item_id: int, services: Services) -> SetAsideDetailPublic:
    return await _detail(services, item_id)


@router.post(
    "/{item_id}/retry",
    status_code=202,
    response_model=SetAsideDetailPublic,
    summary="Apply a set-aside event and those waiting behind it again, after a fix",
    description="The request is recorded with who made it (202) and carried out by the "
    "follower itself, the only writer of what it keeps, at its next catch-up; the item then "
    "shows the outcome. Failing again keeps it open with the new error.",
    responses=responses(404, 409),
    dependencies=[Depends(operators), Idempotent],
)
async def retry_set_aside(item_id: int, services: Services, actor: Actor) -> SetAsideDetailPublic:
    await services.set_aside.retry(item_id, actor=actor, now=services.clock.now())
    return await _detail(services, item_id)


@router.post(
    "/{item_id}/skip",
    status_code=202,
    response_model=SetAsideDetailPublic,
    summary="Never apply a set-aside event nor those waiting behind it, for a reason",
    description="Recorded with who asked and why (202), and carried out by the follower at "
    "its next catch-up: the aggregate's events are passed over for good in that follower.",
    responses=responses(404, 409),
    dependencies=[Depends(operators), Idempotent],
)
async def skip_set_aside(
    item_id: int, request: SkipRequest, services: Services, actor: Actor
) -> SetAsideDetailPublic:
    await services.set_aside.skip(
        item_id, actor=actor, now=services.clock.now(), reason=request.reason
    )
    return await _detail(services, item_id)


async def _detail(services: Services, item_id: int) -> SetAsideDetailPublic:
    item = await services.set_aside.item(item_id)
    waiting: list[WaitingEvent] = await services.set_aside.waiting(item_id)
    actions: list[SetAsideAction] = await services.set_aside.actions(item_id)
    return SetAsideDetailPublic(
        **SetAsideItemPublic.of(item).model_dump(),
        waiting_events=[
            SetAsideEventPublic(notification_id=w.notification_id, version=w.version, topic=w.topic)
            for w in waiting
        ],
        actions=[ActionPublic.model_validate(action) for action in actions],
    )
