"""`/status/dead-letters`: operators' decisions on the messages the messaging dead-lettered
(they are listed in `GET /status/attention?kind=dead_letter`, each with its key: a row's
id on PostgreSQL, a message's id on RabbitMQ), and the record of those decisions.

    POST /status/dead-letters/{key}/replay    back on its command queue, after a fix
    POST /status/dead-letters/{key}/discard   dropped for good
    GET  /status/dead-letters/decisions       who decided what on which, newest first
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Body
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints
from pydantic.config import JsonDict

from api.access import Operator, Reader
from api.audit import ActorPublic
from api.deps import DEFAULT_PAGE_SIZE, Cursor, Limit, Services
from api.errors import responses
from api.operator_actions import dead_letters_of, discard_dead_letter, replay_dead_letter
from api.pages import Page
from domain.requests import STRICT, storable

router = APIRouter(prefix="/status/dead-letters", tags=["operations"])

DECISION_EXAMPLE: JsonDict = {
    "id": 41,
    "letter": "12",
    "queue": "ledgerflow.commands.sms.dead",
    "message_id": "3f2b9a60-5d1e-4c1b-9a57-0c1d2e3f4a5b",
    "decision": "replay",
    "actor": {"role": "operator", "subject": "ops-alice"},
    "decided_at": "2026-12-01T10:02:00Z",
    "note": "provider fixed the template",
}


def _id(key: str) -> int | str:
    """The letter as the list names it: a number for a row PostgreSQL keeps."""
    return int(key) if key.isdecimal() else key


class DecisionNote(BaseModel):
    model_config = ConfigDict(**STRICT, json_schema_extra={"examples": [{"note": "fixed"}]})

    note: (
        Annotated[
            str,
            StringConstraints(strip_whitespace=True, max_length=500),
            AfterValidator(storable),
        ]
        | None
    ) = Field(default=None, description="Why, kept with the decision.")


OptionalNote = Annotated[DecisionNote | None, Body()]


class ReplayedPublic(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"id": 12, "queue": "ledgerflow.commands.sms"}]}
    )

    id: int | str = Field(description="The dead letter's key (a number on PostgreSQL).")
    queue: str = Field(description="The command queue the message is back on.")


class DiscardedPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"id": 12, "discarded": True}]})

    id: int | str = Field(description="The dead letter's key (a number on PostgreSQL).")
    discarded: bool = True


class DecisionPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [DECISION_EXAMPLE]})

    id: int = Field(description="The decision's own number.")
    letter: str = Field(description="The dead letter's key, as the attention list named it.")
    queue: str = Field(description="The dead-letter queue it was on.")
    message_id: str
    decision: Literal["replay", "discard"]
    actor: ActorPublic = Field(description="Who decided.")
    decided_at: datetime
    note: str | None


class DecisionPage(Page[DecisionPublic]):
    pass


@router.get(
    "/decisions",
    response_model=DecisionPage,
    responses=responses(400),
    summary="Operators' decisions on dead letters, newest first",
    description="Every replay and discard, with the letter, its queue and message, who "
    "decided and when; page with `limit` and `cursor`.",
)
async def list_decisions(
    services: Services, caller: Reader, limit: Limit = DEFAULT_PAGE_SIZE, cursor: Cursor = None
) -> DecisionPage:
    page = await dead_letters_of(services).decisions(limit, cursor)
    return DecisionPage(
        items=[
            DecisionPublic(
                id=d.id,
                letter=d.letter,
                queue=d.queue,
                message_id=d.message_id,
                decision=d.decision,
                actor=ActorPublic(role=d.actor_role, subject=d.actor_subject),
                decided_at=d.decided_at,
                note=d.note,
            )
            for d in page.items
        ],
        next_cursor=page.next_cursor,
    )


def _note(body: DecisionNote | None) -> str | None:
    return body.note or None if body else None


@router.post(
    "/{letter_id}/replay",
    response_model=ReplayedPublic,
    summary="Put a dead-lettered command back on its queue, after a fix",
    description="The message goes back on its command queue as it was sent, and the dead "
    "letter is removed (on PostgreSQL in the same transaction); the decision is recorded "
    "with the operator and the optional note. A bus subscriber's dead letter cannot be "
    "replayed (409): discard it.",
    responses=responses(404, 409),
)
async def replay(
    letter_id: str, services: Services, caller: Operator, body: OptionalNote = None
) -> ReplayedPublic:
    decided = await replay_dead_letter(services, letter_id, caller.actor, _note(body))
    return ReplayedPublic(id=_id(decided.letter), queue=decided.back_on)


@router.post(
    "/{letter_id}/discard",
    response_model=DiscardedPublic,
    summary="Drop a dead letter for good",
    description="The message is deleted with its reason; nothing is delivered. The decision "
    "is recorded with the operator and the optional note.",
    responses=responses(404),
)
async def discard(
    letter_id: str, services: Services, caller: Operator, body: OptionalNote = None
) -> DiscardedPublic:
    decided = await discard_dead_letter(services, letter_id, caller.actor, _note(body))
    return DiscardedPublic(id=_id(decided.letter))
