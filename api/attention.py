"""`GET /status/attention`: everything waiting for an operator, across the workflows, as
one list (`adapters.attention`), and `POST /status/attention/retry` to retry what a filter
selects. Each item names its key for its own routes (`POST /sms/{id}/retry`,
`POST /invoices/{id}/resolution`, `POST /status/set-aside/{id}/retry`, ...)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from adapters.attention import AttentionFilter, AttentionItem, AttentionKind
from adapters.messaging.dead_letter_desk import replayable
from api.access import Operator, Reader
from api.deps import Services
from api.operator_actions import attention_of, retry_all, retry_of

router = APIRouter(prefix="/status/attention", tags=["operations"])

ATTENTION_EXAMPLE: JsonDict = {
    "workflow": "sms",
    "kind": "parked",
    "key": "3b0f6c1e-9d7a-5c55-8a51-0f1e7b1c2d3e",
    "aggregate_id": "3b0f6c1e-9d7a-5c55-8a51-0f1e7b1c2d3e",
    "reason": "provider answered 503",
    "last_error": "provider answered 503",
    "since": "2026-12-01T09:30:00Z",
    "retryable": True,
    "source": "sms_view",
    "replayable": False,
}


class AttentionItemPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [ATTENTION_EXAMPLE]})

    workflow: str = Field(description="sms, orders, billing, lending, reimbursements, messaging.")
    kind: AttentionKind = Field(description="Why it waits.")
    key: str = Field(
        description="What its actions take: an aggregate's id, an invoice's number, a "
        "set-aside item's id or a dead letter's key (its id on PostgreSQL, its message's id "
        "on RabbitMQ)."
    )
    aggregate_id: UUID | None = Field(description="Whose timeline it is on (null: a message).")
    reason: str | None
    last_error: str | None
    since: datetime = Field(description="When it started waiting.")
    retryable: bool = Field(description="Whether `POST /status/attention/retry` retries it.")
    source: str = Field(description="Where it waits: a read model, a follower, a queue.")
    replayable: bool = Field(
        description="A dead letter `POST /status/dead-letters/{key}/replay` puts back on its "
        "command queue (a bus subscriber's can only be discarded)."
    )

    @classmethod
    def of(cls, item: AttentionItem) -> AttentionItemPublic:
        return cls(
            workflow=item.workflow,
            kind=item.kind,
            key=item.key,
            aggregate_id=item.aggregate_id,
            reason=item.reason,
            last_error=item.last_error,
            since=item.since,
            retryable=retry_of(item.workflow, item.kind) is not None,
            source=item.source,
            replayable=item.kind is AttentionKind.DEAD_LETTER and replayable(item.source),
        )


class AttentionListPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [ATTENTION_EXAMPLE]}]})

    items: list[AttentionItemPublic]


class RetriedPublic(BaseModel):
    item: AttentionItemPublic
    error: str | None = Field(description="Why it could not be retried (null: retried).")


class RetriedListPublic(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"retried": [{"item": ATTENTION_EXAMPLE, "error": None}]}]}
    )

    retried: list[RetriedPublic]


WorkflowQuery = Annotated[str | None, Query(description="Only this workflow's.")]
KindQuery = Annotated[AttentionKind | None, Query(description="Only this kind.")]
ReasonQuery = Annotated[
    str | None, Query(max_length=200, description="A part of the reason or the error.")
]
KeyQuery = Annotated[
    str | None, Query(max_length=200, description="One item: its key or its aggregate's id.")
]


@router.get(
    "",
    response_model=AttentionListPublic,
    summary="Everything waiting for an operator, across the workflows, oldest first",
    description="Work parked when its retry budget ran out, loan applications and invoices "
    "that need attention, failed payments, events a follower set aside and dead letters, "
    "each with its reason, its last error and since when it waits.",
)
async def list_attention(
    services: Services,
    caller: Reader,
    workflow: WorkflowQuery = None,
    kind: KindQuery = None,
    reason: ReasonQuery = None,
    key: KeyQuery = None,
    limit: Annotated[int, Query(ge=1, le=500, description="At most this many per source.")] = 500,
) -> AttentionListPublic:
    only = AttentionFilter(workflow, kind, reason, key)
    items = await attention_of(services).items(only, limit=limit)
    return AttentionListPublic(items=[AttentionItemPublic.of(item) for item in items])


@router.post(
    "/retry",
    response_model=RetriedListPublic,
    summary="Retry everything a filter selects that can be retried",
    description="Each item through its own workflow's service, as its own retry route "
    "would; one that cannot be retried any more says why, and the others go on.",
)
async def retry_attention(
    services: Services,
    caller: Operator,
    workflow: WorkflowQuery = None,
    kind: KindQuery = None,
    reason: ReasonQuery = None,
    key: KeyQuery = None,
) -> RetriedListPublic:
    only = AttentionFilter(workflow, kind, reason, key)
    outcomes = await retry_all(services, only, caller.actor)
    return RetriedListPublic(
        retried=[
            RetriedPublic(item=AttentionItemPublic.of(o.item), error=o.error) for o in outcomes
        ]
    )
