"""`/sms`: request an SMS, read it, list them, retry a parked one, read its history."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, ConfigDict
from pydantic.config import JsonDict

from api.audit import EventPublic
from api.deps import DEFAULT_PAGE_SIZE, Cursor, Limit, workflow
from api.errors import responses
from domain.privacy import mask_phone_number
from domain.sms.commands import SendSms
from ledgerflow.workflows.sms import SmsWorkflow

log = logging.getLogger(__name__)

router = APIRouter(prefix="/sms", tags=["sms"])

Sms = Annotated[SmsWorkflow, Depends(workflow(SmsWorkflow))]

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
    model_config = ConfigDict(json_schema_extra={"examples": [SMS_EXAMPLE]})

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

    @classmethod
    def of(cls, sms: Any) -> SmsPublic:
        """From the aggregate or a read-model row: both carry these attributes."""
        return cls(
            id=sms.id,
            message_id=sms.message_id,
            phone_number=sms.phone_number,
            text=sms.text,
            correlation_id=sms.correlation_id,
            status=sms.status,
            attempts=sms.attempts,
            provider_message_id=sms.provider_message_id,
            last_error=sms.last_error,
            requested_at=sms.requested_at,
            next_attempt_at=sms.next_attempt_at,
            finished_at=sms.finished_at,
        )


class SmsPage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [SMS_EXAMPLE],
                    "next_cursor": "WyIyMDI2LTExLTIxVDEwOjAwOjAwKzAwOjAwIiwgImQyZSJd",
                }
            ]
        }
    )

    items: list[SmsPublic]
    next_cursor: str | None


@router.post(
    "",
    status_code=202,
    response_model=SmsPublic,
    responses={
        200: {"model": SmsPublic, "description": "The same request was already accepted"},
        **responses(409),
    },
    summary="Request an SMS",
    description="Accepts the SMS for sending and answers at once; it is sent in the "
    "background, with retries. The same `message_id` with the same body returns the "
    "existing SMS (200); with a different body, 409.",
)
async def request_sms(body: SmsCreate, sms: Sms, response: Response) -> SmsPublic:
    accepted, created = await sms.service.send(body)
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
    return SmsPublic.of(accepted)


@router.get("", response_model=SmsPage, summary="List SMS, oldest first", responses=responses(400))
async def list_sms(
    sms: Sms,
    status: Annotated[SmsStatusName | None, Query(description="Only SMS in this status.")] = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: Cursor = None,
) -> SmsPage:
    page = await sms.queries.list(status=status, limit=limit, cursor=cursor)
    return SmsPage(items=[SmsPublic.of(row) for row in page.items], next_cursor=page.next_cursor)


@router.get(
    "/{sms_id}",
    response_model=SmsPublic,
    responses=responses(404),
    summary="Read one SMS (always current: read from its events)",
)
async def get_sms(sms_id: UUID, sms: Sms) -> SmsPublic:
    return SmsPublic.of(await sms.service.get(sms_id))


@router.post(
    "/{sms_id}/retry",
    response_model=SmsPublic,
    status_code=202,
    responses=responses(404, 409),
    summary="Send a parked SMS again (operator action)",
)
async def retry_sms(sms_id: UUID, sms: Sms) -> SmsPublic:
    retried = await sms.service.retry(sms_id)
    log.info("parked sms retried by operator", extra={"sms_id": str(retried.id)})
    return SmsPublic.of(retried)


@router.get(
    "/{sms_id}/events",
    response_model=list[EventPublic],
    responses=responses(404),
    summary="The SMS's audit trail: every event, in order",
)
async def sms_events(sms_id: UUID, sms: Sms) -> list[EventPublic]:
    return [EventPublic.of(entry) for entry in await sms.service.history(sms_id)]
