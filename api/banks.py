"""`/banks`: the banks, their administrators and accounts (with each account's member),
and the administrators' list of a bank's reimbursements; `/members/{id}/accounts`: a
member's accounts. A bank administrator reaches its own bank alone; a member its own
accounts; operators and auditors everything."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from api.access import READERS, allow, reach
from api.deps import DEFAULT_PAGE_SIZE, Cursor, Limit, Reimbursements
from api.errors import responses
from api.pages import Page
from api.read_your_writes import reads
from api.reimbursements import PaymentStatusName, ReimbursementSummaryPage, StatusName
from api.services import ReimbursementsServices
from domain.access import Owner, Principal, Role
from domain.reimbursements.errors import BankNotFound, MemberNotFound

router = APIRouter(prefix="/banks", tags=["reimbursements"])
members = APIRouter(prefix="/members", tags=["reimbursements"])

# A bank's administrators (of that bank alone), operators and auditors.
BankReader = Annotated[Principal, Depends(allow(Role.BANK_ADMIN, *READERS))]
AccountReader = Annotated[Principal, Depends(allow(Role.MEMBER, Role.BANK_ADMIN, *READERS))]

BANK_ID = "7c6b5a49-3827-5165-a4b3-c2d1e0f9a8b7"


class BankPublic(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,  # read from a read-model row as it is
        json_schema_extra={
            "examples": [
                {
                    "id": BANK_ID,
                    "uid": "harbour-trust",
                    "name": "Harbour Trust",
                    "location": "Lisbon, PT",
                }
            ]
        },
    )

    id: UUID
    uid: str
    name: str
    location: str


class AdministratorPublic(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,  # read from a read-model row as it is
        json_schema_extra={
            "examples": [
                {
                    "id": "9a1f6c2e-0d3b-5e4f-8a7b-6c5d4e3f2a1b",
                    "uid": "harbour-admin-1",
                    "first_name": "Inês",
                    "last_name": "Costa",
                    "bank_id": BANK_ID,
                }
            ]
        },
    )

    id: UUID
    uid: str
    first_name: str
    last_name: str
    bank_id: UUID


class MemberPublic(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "2a3b4c5d-6e7f-5a8b-9c0d-1e2f3a4b5c6d",
                    "uid": "harbour-m-1",
                    "first_name": "Sofia",
                    "last_name": "Pereira",
                    "email": "sofia.pereira@example.com",
                    "phone": "+351912345678",
                }
            ]
        }
    )

    id: UUID
    uid: str
    first_name: str
    last_name: str
    email: str
    phone: str | None


class AccountPublic(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "4e2b9d0c-5b7a-5d8e-9f1a-2c3d4e5f6a7b",
                    "uid": "harbour-m-1-acct",
                    "bank_id": BANK_ID,
                    "bank_member_id": "2a3b4c5d-6e7f-5a8b-9c0d-1e2f3a4b5c6d",
                    "currency": "EUR",
                    "member": MemberPublic.model_config["json_schema_extra"]["examples"][0],  # type: ignore[index]
                }
            ]
        }
    )

    id: UUID
    uid: str
    bank_id: UUID
    bank_member_id: UUID
    currency: str = Field(description="ISO 4217: a reimbursement into it is in this currency.")
    member: MemberPublic

    # Built by hand: the row carries the member's columns beside the account's.
    @classmethod
    def of(cls, row: Any) -> AccountPublic:
        member = MemberPublic(
            id=row.bank_member_id,
            uid=row.member_uid,
            first_name=row.first_name,
            last_name=row.last_name,
            email=row.email,
            phone=row.phone,
        )
        return cls(
            id=row.id,
            uid=row.uid,
            bank_id=row.bank_id,
            bank_member_id=row.bank_member_id,
            currency=row.currency,
            member=member,
        )


class BankPage(Page[BankPublic]):
    """A page of banks."""


class AdministratorPage(Page[AdministratorPublic]):
    """A page of a bank's administrators."""


class AccountPage(Page[AccountPublic]):
    """A page of a bank's accounts, each with its member."""


@router.get(
    "",
    response_model=BankPage,
    dependencies=[reads("reimbursements", "reimbursements_view")],
    responses=responses(400),
    summary="List banks",
    description="The banks of the reference data (`ledgerflow seed demo-banks`), from the "
    "read model; page with `limit` and `cursor`. A bank administrator lists its own.",
)
async def list_banks(
    reimbursements: Reimbursements,
    caller: BankReader,
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: Cursor = None,
) -> BankPage:
    own = caller.bank_id if caller.role is Role.BANK_ADMIN else None
    if caller.role is Role.BANK_ADMIN and own is None:  # a token without its bank
        return BankPage(items=[], next_cursor=None)
    page = await reimbursements.queries.banks(limit=limit, cursor=cursor, bank_id=own)
    return BankPage.model_validate(page)


async def _check_bank(
    reimbursements: ReimbursementsServices, bank_id: UUID, caller: Principal
) -> None:
    """404 for an unknown bank (read from the event store: always current), or for one
    outside the caller's reach (another bank, to an administrator)."""
    reach(caller, Owner(bank_id=bank_id), BankNotFound(bank_id))
    service = reimbursements.service
    await service.check_exists(service.application.get_bank, bank_id)


@router.get(
    "/{bank_id}/administrators",
    response_model=AdministratorPage,
    dependencies=[reads("reimbursements", "reimbursements_view")],
    responses=responses(400, 404),
    summary="A bank's administrators",
    description="The administrators who decide the bank's reimbursements; 404 for an unknown bank.",
)
async def list_administrators(
    bank_id: UUID,
    reimbursements: Reimbursements,
    caller: BankReader,
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: Cursor = None,
) -> AdministratorPage:
    await _check_bank(reimbursements, bank_id, caller)
    page = await reimbursements.queries.administrators(bank_id, limit=limit, cursor=cursor)
    return AdministratorPage.model_validate(page)


@router.get(
    "/{bank_id}/accounts",
    response_model=AccountPage,
    dependencies=[reads("reimbursements", "reimbursements_view")],
    responses=responses(400, 404),
    summary="A bank's accounts, each with its member",
    description="The accounts held at the bank, each with its owner's name and contact "
    "details; 404 for an unknown bank.",
)
async def list_accounts(
    bank_id: UUID,
    reimbursements: Reimbursements,
    caller: BankReader,
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: Cursor = None,
) -> AccountPage:
    await _check_bank(reimbursements, bank_id, caller)
    page = await reimbursements.queries.accounts(bank_id, limit=limit, cursor=cursor)
    return AccountPage(
        items=[AccountPublic.of(row) for row in page.items], next_cursor=page.next_cursor
    )


@router.get(
    "/{bank_id}/reimbursements",
    response_model=ReimbursementSummaryPage,
    dependencies=[reads("reimbursements", "reimbursements_view")],
    responses=responses(400, 404),
    summary="A bank's reimbursements, oldest first, by status (the administrators' list)",
    description="Reads the `reimbursements_view` read model: filter by `status` (e.g. "
    "`pending`, the administrators' work list) and `payment_status`; 404 for an unknown "
    "bank.",
)
async def bank_reimbursements(
    bank_id: UUID,
    reimbursements: Reimbursements,
    caller: BankReader,
    status: Annotated[StatusName | None, Query(description="Only in this status.")] = None,
    payment_status: Annotated[
        PaymentStatusName | None, Query(description="Only with this payment status.")
    ] = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: Cursor = None,
) -> ReimbursementSummaryPage:
    await _check_bank(reimbursements, bank_id, caller)
    page = await reimbursements.queries.of_bank(
        bank_id, status=status, payment_status=payment_status, limit=limit, cursor=cursor
    )
    return ReimbursementSummaryPage.model_validate(page)


@members.get(
    "/{member_id}/accounts",
    response_model=AccountPage,
    responses=responses(400, 404),
    summary="A member's accounts, each with its member (what a member submits against)",
    description="The accounts the member holds, at every bank; to a bank administrator, "
    "those at its own bank. 404 for an unknown member, another member (to a member), or a "
    "member with no account at the administrator's bank.",
)
async def member_accounts(
    member_id: UUID,
    reimbursements: Reimbursements,
    caller: AccountReader,
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: Cursor = None,
) -> AccountPage:
    at_bank: UUID | None = None  # every bank's
    if caller.role is Role.BANK_ADMIN:  # its own bank's alone
        at_bank = caller.bank_id
        if at_bank is None:  # a token without its bank
            raise MemberNotFound(member_id)
    else:
        reach(caller, Owner(member_id=member_id), MemberNotFound(member_id))
    service = reimbursements.service
    await service.check_exists(service.application.get_member, member_id)
    page = await reimbursements.queries.accounts_of_member(
        member_id, bank_id=at_bank, limit=limit, cursor=cursor
    )
    if caller.role is Role.BANK_ADMIN and not page.items and cursor is None:
        raise MemberNotFound(member_id)  # not a member of the administrator's bank
    return AccountPage(
        items=[AccountPublic.of(row) for row in page.items], next_cursor=page.next_cursor
    )
