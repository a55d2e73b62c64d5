"""`/status/dead-letters/{id}`: operators' decisions on a dead letter PostgreSQL keeps (they
are listed in `GET /status/attention?kind=dead_letter`).

    POST /status/dead-letters/{id}/replay    back on its command queue, after a fix
    POST /status/dead-letters/{id}/discard   dropped for good
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from api.access import Operator
from api.deps import Services
from api.errors import responses
from api.operator_actions import discard_dead_letter, replay_dead_letter

router = APIRouter(prefix="/status/dead-letters", tags=["operations"])


class ReplayedPublic(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"id": 12, "queue": "ledgerflow.commands.sms"}]}
    )

    id: int
    queue: str = Field(description="The command queue the message is back on.")


class DiscardedPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"id": 12, "discarded": True}]})

    id: int
    discarded: bool = True


@router.post(
    "/{letter_id}/replay",
    response_model=ReplayedPublic,
    summary="Put a dead-lettered command back on its queue, after a fix",
    description="The message goes back on its command queue as it was sent, in the same "
    "transaction that removes the dead letter. A bus subscriber's dead letter cannot be "
    "replayed (409): discard it.",
    responses=responses(404, 409),
)
async def replay(letter_id: int, services: Services, caller: Operator) -> ReplayedPublic:
    queue = await replay_dead_letter(services, letter_id, caller.actor)
    return ReplayedPublic(id=letter_id, queue=queue)


@router.post(
    "/{letter_id}/discard",
    response_model=DiscardedPublic,
    summary="Drop a dead letter for good",
    description="The message is deleted with its reason; nothing is delivered.",
    responses=responses(404),
)
async def discard(letter_id: int, services: Services, caller: Operator) -> DiscardedPublic:
    await discard_dead_letter(services, letter_id, caller.actor)
    return DiscardedPublic(id=letter_id)
