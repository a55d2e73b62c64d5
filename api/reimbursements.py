"""`/reimbursements` (submit, read, decide, retry a failed payment, audit trail) and
`/members/{id}/reimbursements`, `/members/{id}/accounts` (a member's lists).

Members submit on their own accounts and read their own; administrators read and decide
their bank's; the member and the deciding administrator are the caller, never a body
field."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, model_validator
from pydantic.config import JsonDict

from api.access import READERS, Forbidden, Operator, allow, reach
from api.audit import EventPublic
from api.deps import DEFAULT_PAGE_SIZE, Cursor, Limit, Reimbursements
from api.errors import responses
from api.idempotency import Idempotent, IdempotentRoute
from api.pages import Page
from api.read_your_writes import reads
from api.services import ReimbursementsServices
from domain.access import Owner, Principal, Role
from domain.money import Money
from domain.reimbursements.commands import DenyReimbursement, SubmitReimbursement
from domain.reimbursements.errors import (
    BankAccountNotFound,
    MemberNotFound,
    ReimbursementNotFound,
)

log = logging.getLogger(__name__)

router = APIRouter(prefix="/reimbursements", tags=["reimbursements"], route_class=IdempotentRoute)
members = APIRouter(prefix="/members", tags=["reimbursements"])

Member = Annotated[Principal, Depends(allow(Role.MEMBER))]
Administrator = Annotated[Principal, Depends(allow(Role.BANK_ADMIN))]
# A reimbursement's member, its bank's administrators, operators and auditors.
Reader = Annotated[Principal, Depends(allow(Role.MEMBER, Role.BANK_ADMIN, *READERS))]
MemberReader = Annotated[Principal, Depends(allow(Role.MEMBER, *READERS))]

StatusName = Literal["pending", "approved", "denied"]
PaymentStatusName = Literal["pending", "paid", "failed"]


class ReimbursementCreate(SubmitReimbursement):
    """The body of `POST /reimbursements`: the member is the account's owner."""


class ReimbursementDeny(DenyReimbursement):
    """The body of `POST /reimbursements/{id}/deny`: the administrator is the caller."""


SUMMARY_EXAMPLE: JsonDict = {
    "id": "1f0e2d3c-4b5a-4968-8776-a5b4c3d2e1f0",
    "bank_account_id": "4e2b9d0c-5b7a-5d8e-9f1a-2c3d4e5f6a7b",
    "bank_id": "7c6b5a49-3827-5165-a4b3-c2d1e0f9a8b7",
    "member_id": "2a3b4c5d-6e7f-5a8b-9c0d-1e2f3a4b5c6d",
    "amount": {"amount": "129.90", "currency": "EUR"},
    "description": "Train tickets to the Lisbon branch audit",
    "submitted_at": "2026-11-21T10:00:00Z",
    "status": "approved",
    "payment_status": "paid",
}

REIMBURSEMENT_EXAMPLE: JsonDict = {
    **SUMMARY_EXAMPLE,
    "decided_by": "9a1f6c2e-0d3b-5e4f-8a7b-6c5d4e3f2a1b",
    "decided_at": "2026-11-21T11:30:00Z",
    "denial_reason": None,
    "payment_round": 1,
    "payment_id": "5d4c3b2a-1f0e-5d9c-8b7a-6f5e4d3c2b1a",
    "rail_payment_id": "PAY3f9a0c1d2e3b4a5c6d7e8f90",
    "payment_attempts": 1,
    "payment_error": None,
    "paid_at": "2026-11-21T11:30:05Z",
    "notifications": {"email:approved": "sent", "sms:approved": "sent"},
}


class ReimbursementSummary(BaseModel):
    """A reimbursement in a list (from the read model)."""

    # Read from a read-model row (or the aggregate) as it is.
    model_config = ConfigDict(
        from_attributes=True, json_schema_extra={"examples": [SUMMARY_EXAMPLE]}
    )

    id: UUID
    bank_account_id: UUID
    bank_id: UUID
    member_id: UUID
    amount: Money
    description: str
    submitted_at: datetime
    status: StatusName
    payment_status: PaymentStatusName | None

    @model_validator(mode="before")
    @classmethod
    def _money(cls, source: Any) -> Any:
        """The aggregate and its row carry the amount and its currency apart."""
        if isinstance(source, dict):
            return source
        fields = {name: getattr(source, name) for name in cls.model_fields if name != "amount"}
        return {**fields, "amount": Money.stored(source.amount, source.currency)}


class ReimbursementPublic(ReimbursementSummary):
    """One reimbursement, always current (read from its events)."""

    model_config = ConfigDict(json_schema_extra={"examples": [REIMBURSEMENT_EXAMPLE]})

    decided_by: UUID | None
    decided_at: datetime | None
    denial_reason: str | None
    payment_round: int
    payment_id: UUID | None
    rail_payment_id: str | None
    payment_attempts: int
    payment_error: str | None
    paid_at: datetime | None
    notifications: dict[str, str]


class ReimbursementSummaryPage(Page[ReimbursementSummary]):
    """A page of reimbursements, oldest first."""


@router.post(
    "",
    status_code=201,
    response_model=ReimbursementPublic,
    responses=responses(404, 409),
    dependencies=[Idempotent],
    summary="Submit a reimbursement on one of the caller's accounts (a member)",
    description="The member is the caller, who must own `bank_account_id` (`GET "
    "/members/{member_id}/accounts` lists them); an unknown account, or another member's, "
    "is 404. Pending until an administrator of the account's bank decides.",
)
async def submit_reimbursement(
    body: ReimbursementCreate, reimbursements: Reimbursements, caller: Member
) -> ReimbursementPublic:
    account = await reimbursements.service.get_account(body.bank_account_id)
    reach(caller, account, BankAccountNotFound(body.bank_account_id))
    reimbursement = await reimbursements.service.submit(body, caller.actor)
    log.info(
        "reimbursement submitted",
        extra={"reimbursement_id": str(reimbursement.id), "bank_id": str(reimbursement.bank_id)},
    )
    return ReimbursementPublic.model_validate(reimbursement)


@router.get(
    "/{reimbursement_id}",
    response_model=ReimbursementPublic,
    responses=responses(404),
    summary="Read one reimbursement (always current: read from its events)",
    description="The reimbursement as its events make it now: the decision, the payment "
    "round and its status at the rail, each notification's outcome; 404 for an unknown id, "
    "or one of another member or bank.",
)
async def get_reimbursement(
    reimbursement_id: UUID, reimbursements: Reimbursements, caller: Reader
) -> ReimbursementPublic:
    reimbursement = await reimbursements.service.get(reimbursement_id)
    reach(caller, reimbursement, ReimbursementNotFound(reimbursement_id))
    return ReimbursementPublic.model_validate(reimbursement)


@router.post(
    "/{reimbursement_id}/approve",
    response_model=ReimbursementPublic,
    responses=responses(404, 403, 409),
    summary="Approve a pending reimbursement (an administrator of the account's bank)",
    description="The deciding administrator is the caller (its token's `administrator_id`). "
    "404: unknown reimbursement, or one of another bank; 409: it is not pending (decided "
    "already, or another decision won a race). Approval starts the payment and tells the "
    "member.",
)
async def approve_reimbursement(
    reimbursement_id: UUID, reimbursements: Reimbursements, caller: Administrator
) -> ReimbursementPublic:
    administrator = await _deciding(reimbursements, reimbursement_id, caller)
    approved = await reimbursements.service.approve(reimbursement_id, administrator, caller.actor)
    log.info(
        "reimbursement approved",
        extra={"reimbursement_id": str(approved.id), "administrator_id": str(approved.decided_by)},
    )
    return ReimbursementPublic.model_validate(approved)


@router.post(
    "/{reimbursement_id}/deny",
    response_model=ReimbursementPublic,
    responses=responses(404, 403, 409),
    summary="Deny a pending reimbursement, with a reason (an administrator of its bank)",
    description="Same rules as approve. The member is told the reason by mail.",
)
async def deny_reimbursement(
    reimbursement_id: UUID,
    body: ReimbursementDeny,
    reimbursements: Reimbursements,
    caller: Administrator,
) -> ReimbursementPublic:
    administrator = await _deciding(reimbursements, reimbursement_id, caller)
    denied = await reimbursements.service.deny(reimbursement_id, administrator, body, caller.actor)
    log.info(
        "reimbursement denied",
        extra={"reimbursement_id": str(denied.id), "administrator_id": str(denied.decided_by)},
    )
    return ReimbursementPublic.model_validate(denied)


@router.post(
    "/{reimbursement_id}/payment/retry",
    status_code=202,
    response_model=ReimbursementPublic,
    responses=responses(404, 409),
    dependencies=[Idempotent],
    summary="Start a failed payment again (operator action)",
    description="Starts a new payment round of an approved reimbursement whose payment "
    "failed. After a definitive failure it is a new payment, with a new idempotency key; "
    "after an unknown outcome it keeps the failed round's key, so the rail answers with "
    "that payment rather than paying twice. 409 when the payment has not failed.",
)
async def retry_payment(
    reimbursement_id: UUID, reimbursements: Reimbursements, caller: Operator
) -> ReimbursementPublic:
    retried = await reimbursements.service.retry_payment(reimbursement_id, caller.actor)
    log.info(
        "reimbursement payment retried by operator",
        extra={"reimbursement_id": str(retried.id), "round": retried.payment_round},
    )
    return ReimbursementPublic.model_validate(retried)


@router.get(
    "/{reimbursement_id}/events",
    response_model=list[EventPublic],
    responses=responses(404),
    summary="The reimbursement's audit trail: every event, in order",
    description="Every event of the reimbursement in version order: submitted, decided, "
    "each notification and payment attempt with its outcome, operator retries.",
)
async def reimbursement_events(
    reimbursement_id: UUID, reimbursements: Reimbursements, caller: Reader
) -> list[EventPublic]:
    reimbursement = await reimbursements.service.get(reimbursement_id)
    reach(caller, reimbursement, ReimbursementNotFound(reimbursement_id))
    entries = await reimbursements.service.history(reimbursement_id)
    return [EventPublic.model_validate(entry) for entry in entries]


@members.get(
    "/{member_id}/reimbursements",
    response_model=ReimbursementSummaryPage,
    dependencies=[reads("reimbursements", "reimbursements_view")],
    responses=responses(400, 404),
    summary="A member's reimbursements, oldest first",
    description="Reads the `reimbursements_view` read model, a fraction of a second "
    "behind the events; 404 for an unknown member, or another member (to a member).",
)
async def member_reimbursements(
    member_id: UUID,
    reimbursements: Reimbursements,
    caller: MemberReader,
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: Cursor = None,
) -> ReimbursementSummaryPage:
    reach(caller, Owner(member_id=member_id), MemberNotFound(member_id))
    service = reimbursements.service
    await service.check_exists(service.application.get_member, member_id)
    page = await reimbursements.queries.of_member(member_id, limit=limit, cursor=cursor)
    return ReimbursementSummaryPage.model_validate(page)


async def _deciding(
    reimbursements: ReimbursementsServices, reimbursement_id: UUID, caller: Principal
) -> UUID:
    """The deciding administrator (the caller), once the reimbursement is within its
    reach: one of another bank answers 404, as an unknown one does."""
    reimbursement = await reimbursements.service.get(reimbursement_id)
    reach(caller, reimbursement, ReimbursementNotFound(reimbursement_id))
    if caller.administrator_id is None:  # a bank_admin token without its claim
        raise Forbidden("this token names no administrator")
    return caller.administrator_id
