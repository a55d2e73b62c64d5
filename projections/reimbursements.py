"""Read models of the reimbursements workflow: reference data (banks, administrators,
members, accounts) and one row per reimbursement, for the lists of members and banks.

One processor follows the workflow's event log; each batch is folded in memory (one row
change per aggregate) and written with `executemany` in the follower's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from psycopg import AsyncCursor

from domain.reimbursements.aggregate import Reimbursement
from domain.reimbursements.reference import Bank, BankAccount, BankAdministrator, BankMember
from projections.pagination import Page, keyset_page
from projections.parked import ParkedRows
from projections.rows import RowPerAggregate, insert_rows

TABLES = (
    "reimbursements_view",
    "reimbursement_accounts",
    "reimbursement_members",
    "reimbursement_administrators",
    "reimbursement_banks",
)

COLUMNS = (
    "id",
    "bank_account_id",
    "bank_id",
    "member_id",
    "amount",
    "currency",
    "description",
    "submitted_at",
    "status",
    "payment_status",
    "decided_by",
    "decided_at",
    "updated_at",
    "version",
)

# An approved reimbursement whose payment failed: an operator retries it.
PARKED = ParkedRows(
    "reimbursements", "payment_failed", "reimbursements_view", "payment_status = 'failed'"
)


@dataclass(frozen=True)
class ReimbursementRow:
    id: UUID
    bank_account_id: UUID
    bank_id: UUID
    member_id: UUID
    amount: Decimal
    currency: str
    description: str
    submitted_at: datetime
    status: str
    payment_status: str | None
    decided_by: UUID | None
    decided_at: datetime | None
    updated_at: datetime
    version: int


@dataclass(frozen=True)
class BankRow:
    id: UUID
    uid: str
    name: str
    location: str
    created_at: datetime


@dataclass(frozen=True)
class AdministratorRow:
    id: UUID
    uid: str
    first_name: str
    last_name: str
    bank_id: UUID
    created_at: datetime


@dataclass(frozen=True)
class AccountRow:
    id: UUID
    uid: str
    bank_id: UUID
    bank_member_id: UUID
    currency: str
    created_at: datetime
    member_uid: str
    first_name: str
    last_name: str
    email: str
    phone: str | None


def _reference_row(event: Any) -> tuple[str, dict[str, Any]] | None:
    """The reference table and row a registration event adds."""
    at = event.timestamp
    if isinstance(event, Bank.BankRegistered):
        row = {"uid": event.uid, "name": event.name, "location": event.location}
        return "reimbursement_banks", {"id": event.originator_id, **row, "created_at": at}
    if isinstance(event, BankAdministrator.AdministratorAppointed):
        row = {"uid": event.uid, "first_name": event.first_name, "last_name": event.last_name}
        return "reimbursement_administrators", {
            "id": event.originator_id,
            **row,
            "bank_id": event.bank_id,
            "created_at": at,
        }
    if isinstance(event, BankMember.MemberRegistered):
        return "reimbursement_members", {
            "id": event.originator_id,
            "uid": event.uid,
            "first_name": event.first_name,
            "last_name": event.last_name,
            "email": event.email,
            "phone": event.phone,
            "created_at": at,
        }
    if isinstance(event, BankAccount.AccountOpened):
        return "reimbursement_accounts", {
            "id": event.originator_id,
            "uid": event.uid,
            "bank_id": event.bank_id,
            "bank_member_id": event.bank_member_id,
            "currency": event.currency,
            "created_at": at,
        }
    return None


class ReimbursementsView(RowPerAggregate):
    name = table = "reimbursements_view"
    columns = COLUMNS
    created_by = (Reimbursement.ReimbursementSubmitted,)
    truncates = TABLES

    def changes(self, event: Any) -> dict[str, Any]:
        """The reimbursement columns an event sets (besides updated_at and version)."""
        if isinstance(event, Reimbursement.ReimbursementSubmitted):
            return {
                "bank_account_id": event.bank_account_id,
                "bank_id": event.bank_id,
                "member_id": event.member_id,
                "amount": event.amount,
                "currency": event.currency,
                "description": event.description,
                "submitted_at": event.submitted_at,
                "status": "pending",
                "payment_status": None,
                "decided_by": None,
                "decided_at": None,
            }
        if isinstance(event, Reimbursement.ReimbursementApproved):
            return {
                "status": "approved",
                "payment_status": "pending",
                "decided_by": event.administrator_id,
                "decided_at": event.at,
            }
        if isinstance(event, Reimbursement.ReimbursementDenied):
            return {
                "status": "denied",
                "decided_by": event.administrator_id,
                "decided_at": event.at,
            }
        if isinstance(event, Reimbursement.PaymentSucceeded):
            return {"payment_status": "paid"}
        if isinstance(event, Reimbursement.PaymentFailed):
            return {"payment_status": "failed"}
        if isinstance(event, Reimbursement.PaymentRetryRequested):
            return {"payment_status": "pending"}
        return {}

    async def apply(self, cur: AsyncCursor[Any], events: Sequence[Any]) -> None:
        """Reference registrations go to their tables first, then the reimbursements."""
        references: dict[str, list[dict[str, Any]]] = {}
        reimbursement_events: list[Any] = []
        for event in events:
            reference = _reference_row(event)
            if reference is None:
                reimbursement_events.append(event)
            else:
                table, row = reference
                references.setdefault(table, []).append(row)
        for table, rows in references.items():
            await insert_rows(cur, table, list(rows[0]), rows)
        await super().apply(cur, reimbursement_events)


class ReimbursementsQueries:
    """Keyset-paginated reads; `pool` is a psycopg AsyncConnectionPool."""

    def __init__(self, pool: Any) -> None:
        self.pool = pool

    async def of_member(self, member_id: UUID, *, limit: int, cursor: str | None) -> Page[Any]:
        return await keyset_page(
            self.pool,
            ReimbursementRow,
            f"SELECT {', '.join(COLUMNS)} FROM reimbursements_view",
            ["member_id = %s"],
            [member_id],
            order=("submitted_at", "id"),
            limit=limit,
            cursor=cursor,
        )

    async def of_bank(
        self,
        bank_id: UUID,
        *,
        status: str | None,
        payment_status: str | None = None,
        limit: int,
        cursor: str | None,
    ) -> Page[Any]:
        clauses: list[str] = ["bank_id = %s"]
        params: list[Any] = [bank_id]
        if status is not None:
            clauses.append("status = %s")
            params.append(status)
        if payment_status is not None:
            clauses.append("payment_status = %s")
            params.append(payment_status)
        return await keyset_page(
            self.pool,
            ReimbursementRow,
            f"SELECT {', '.join(COLUMNS)} FROM reimbursements_view",
            clauses,
            params,
            order=("submitted_at", "id"),
            limit=limit,
            cursor=cursor,
        )

    async def banks(
        self, *, limit: int, cursor: str | None, bank_id: UUID | None = None
    ) -> Page[Any]:
        """Every bank, or only `bank_id` (a bank administrator's)."""
        clauses, params = (["id = %s"], [bank_id]) if bank_id is not None else ([], [])
        return await keyset_page(
            self.pool,
            BankRow,
            "SELECT id, uid, name, location, created_at FROM reimbursement_banks",
            clauses,
            params,
            order=("created_at", "id"),
            limit=limit,
            cursor=cursor,
        )

    async def administrators(self, bank_id: UUID, *, limit: int, cursor: str | None) -> Page[Any]:
        return await keyset_page(
            self.pool,
            AdministratorRow,
            "SELECT id, uid, first_name, last_name, bank_id, created_at"
            " FROM reimbursement_administrators",
            ["bank_id = %s"],
            [bank_id],
            order=("created_at", "id"),
            limit=limit,
            cursor=cursor,
        )

    async def accounts(self, bank_id: UUID, *, limit: int, cursor: str | None) -> Page[Any]:
        return await self._accounts(["a.bank_id = %s"], [bank_id], limit, cursor)

    async def accounts_of_member(
        self, member_id: UUID, *, bank_id: UUID | None, limit: int, cursor: str | None
    ) -> Page[Any]:
        """A member's accounts, at every bank or only at `bank_id`."""
        clauses: list[str] = ["a.bank_member_id = %s"]
        params: list[Any] = [member_id]
        if bank_id is not None:
            clauses.append("a.bank_id = %s")
            params.append(bank_id)
        return await self._accounts(clauses, params, limit, cursor)

    async def _accounts(
        self, clauses: list[str], params: list[Any], limit: int, cursor: str | None
    ) -> Page[Any]:
        return await keyset_page(
            self.pool,
            AccountRow,
            "SELECT a.id, a.uid, a.bank_id, a.bank_member_id, a.currency, a.created_at,"
            " m.uid AS member_uid, m.first_name, m.last_name, m.email, m.phone"
            " FROM reimbursement_accounts a JOIN reimbursement_members m"
            " ON m.id = a.bank_member_id",
            clauses,
            params,
            order=("a.created_at", "a.id"),
            limit=limit,
            cursor=cursor,
        )
