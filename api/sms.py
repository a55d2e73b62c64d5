"""`/sms`: request an SMS, read it, list them, retry a parked one, read its history."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, ConfigDict
from pydantic.config import JsonDict

from api.access import Operator, allow, client_filter, reach
from api.audit import EventPublic
from api.deps import DEFAULT_PAGE_SIZE, Cursor, Limit, Sms
from api.errors import responses
from api.pages import Page
from api.rate_limits import rate_limited
from domain.access import Principal, Role, Scope
from domain.privacy import mask_phone_number
from domain.sms.commands import SendSms
from domain.sms.errors import SmsNotFound

log = logging.getLogger(__name__)

router = APIRouter(prefix="/sms", tags=["sms"])

# Clients send and read their own SMS; operators and auditors read everyone's.
SEND = allow(Role.CLIENT, scope=Scope.SMS_SEND)
Sender = Annotated[Principal, Depends(SEND)]
Reader = Annotated[
    Principal, Depends(allow(Role.CLIENT, Role.OPERATOR, Role.AUDITOR, scope=Scope.SMS_READ))
]

SmsStatusName = Literal["requested", "sending", "sent", "failed", "parked"]


class SmsCreate(SendSms):
    """The body of `POST /sms` (and of a `SendSms` queue message)."""


SMS_EXAMPLE: JsonDict = {
    "id": "d2e83695-fac2-54bf-be87-106fb4f65bca",
    "message_id": "order-8812-confirmation",
    "phone_number": "+254712345678",
    "text": "Your payment of KES 1,250.00 was received. Ref 8812.",
    "correlation_id": "checkout-5521",
    "status": "sent",
    "attempts": 2,
    "provider_message_id": "SM5f0c3b7a9e1d4c2b8a6f0e1d",
    "last_error": None,
    "requested_at": "2026-11-21T10:00:00Z",
    "next_attempt_at": None,
    "finished_at": "2026-11-21T10:00:01Z",
}


class SmsPublic(BaseModel):
    # Read from the aggregate or a read-model row: both carry these attributes.
    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [SMS_EXAMPLE]})

    id: UUID
    message_id: str
    phone_number: str
    text: str
    correlation_id: str | None
    status: SmsStatusName
    attempts: int
    provider_message_id: str | None
    last_error: str | None
    requested_at: datetime
    next_attempt_at: datetime | None
    finished_at: datetime | None


class SmsPage(Page[SmsPublic]):
    """A page of SMS, oldest first."""


@router.post(
    "",
    status_code=202,
    response_model=SmsPublic,
    responses={
        200: {"model": SmsPublic, "description": "The same request was already accepted"},
        **responses(403, 409, 429),
    },
    summary="Request an SMS",
    description="Accepts the SMS for sending and answers at once; it is sent in the "
    "background, with retries. The same `message_id` (the client's own: another client's "
    "same id is another SMS) with the same body returns the existing SMS (200); with a "
    "different body, 409. A destination country the client "
    "may not text answers 403 (`destination_country_not_allowed`); each client's "
    "requests are limited (429 with `Retry-After` beyond its rate limit).",
    # The caller's rule before its rate limit: a refused caller spends none of it.
    dependencies=[Depends(SEND), Depends(rate_limited("sms"))],
)
async def request_sms(body: SmsCreate, sms: Sms, response: Response, caller: Sender) -> SmsPublic:
    accepted, created = await sms.service.send(body, caller.actor)
    if not created:
        response.status_code = 200
    log.debug(
        "sms accepted",
        extra={
            "sms_id": str(accepted.id),
            "new": created,
            "to": mask_phone_number(accepted.phone_number),
        },
    )
    return SmsPublic.model_validate(accepted)


@router.get(
    "",
    response_model=SmsPage,
    responses=responses(400),
    summary="List SMS, oldest first",
    description="Reads the `sms_view` read model, a few milliseconds behind the events: "
    "filter by `status`, page with `limit` and the `next_cursor` of the page before "
    "(400 for a cursor this API did not issue). A client lists the SMS it requested.",
)
async def list_sms(
    sms: Sms,
    caller: Reader,
    status: Annotated[SmsStatusName | None, Query(description="Only SMS in this status.")] = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: Cursor = None,
) -> SmsPage:
    page = await sms.queries.list(
        status=status, limit=limit, cursor=cursor, client=client_filter(caller)
    )
    return SmsPage.model_validate(page)


@router.get(
    "/{sms_id}",
    response_model=SmsPublic,
    responses=responses(404),
    summary="Read one SMS (always current: read from its events)",
    description="The SMS as its events make it now, including a write made a moment ago; "
    "404 for an unknown id, or another client's.",
)
async def get_sms(sms_id: UUID, sms: Sms, caller: Reader) -> SmsPublic:
    found = await sms.service.get(sms_id)
    reach(caller, found, SmsNotFound(sms_id))
    return SmsPublic.model_validate(found)


@router.post(
    "/{sms_id}/retry",
    response_model=SmsPublic,
    status_code=202,
    responses=responses(404, 409),
    summary="Send a parked SMS again (operator action)",
    description="Puts a `parked` SMS back to `requested`, with a new retry budget; its "
    "attempt numbers keep counting. 409 when the SMS is not parked.",
)
async def retry_sms(sms_id: UUID, sms: Sms, caller: Operator) -> SmsPublic:
    retried = await sms.service.retry(sms_id, caller.actor)
    log.info("parked sms retried by operator", extra={"sms_id": str(retried.id)})
    return SmsPublic.model_validate(retried)


@router.get(
    "/{sms_id}/events",
    response_model=list[EventPublic],
    responses=responses(404),
    summary="The SMS's audit trail: every event, in order",
    description="Every event of the SMS in version order (`SmsRequested`, each failed "
    "attempt, `SmsSent`, ...), with when it was recorded and its data.",
)
async def sms_events(sms_id: UUID, sms: Sms, caller: Reader) -> list[EventPublic]:
    reach(caller, await sms.service.get(sms_id), SmsNotFound(sms_id))
    return [EventPublic.model_validate(entry) for entry in await sms.service.history(sms_id)]
