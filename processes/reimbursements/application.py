"""The reimbursements application service: submit, decide, retry a failed payment, and
register reference data (banks, administrators, members, accounts)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from domain.access import Actor
from domain.actors import worker
from domain.clock import Clock
from domain.reimbursements.aggregate import Reimbursement
from domain.reimbursements.commands import DenyReimbursement, SubmitReimbursement
from domain.reimbursements.errors import (
    AdministratorNotFound,
    BankAccountNotFound,
    BankNotFound,
    CurrencyNotTheAccounts,
    MemberNotFound,
    NotFound,
    PaymentNotRetryable,
    ReimbursementNotFound,
    ReimbursementNotPending,
)
from domain.reimbursements.reference import Bank, BankAccount, BankAdministrator, BankMember
from processes.applications import WorkflowApplication
from processes.audit import AuditEntry, audit_trail

SaveAggregates = Callable[..., Awaitable[None]]
T = TypeVar("T", bound=Aggregate)

# Who records the outcomes of the workflow's outbound calls (payments, mail, SMS).
WORKER = worker("reimbursements")


class ReimbursementsApplication(WorkflowApplication):
    name = "reimbursements"

    def _get(self, aggregate_id: UUID, kind: type[T], missing: type[NotFound]) -> T:
        try:
            aggregate: Any = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            raise missing(aggregate_id) from None
        if not isinstance(aggregate, kind):  # an id of another kind of thing
            raise missing(aggregate_id)
        return aggregate

    def get_reimbursement(self, reimbursement_id: UUID) -> Reimbursement:
        return self._get(reimbursement_id, Reimbursement, ReimbursementNotFound)

    def get_bank(self, bank_id: UUID) -> Bank:
        return self._get(bank_id, Bank, BankNotFound)

    def get_member(self, member_id: UUID) -> BankMember:
        return self._get(member_id, BankMember, MemberNotFound)

    def get_account(self, account_id: UUID) -> BankAccount:
        return self._get(account_id, BankAccount, BankAccountNotFound)

    def get_administrator(self, administrator_id: UUID) -> BankAdministrator:
        return self._get(administrator_id, BankAdministrator, AdministratorNotFound)


class ReimbursementsService:
    """Commands of the workflow. `save` group-commits (adapters.eventstore)."""

    def __init__(
        self, application: ReimbursementsApplication, save: SaveAggregates, clock: Clock
    ) -> None:
        self.application = application
        self._save = save
        self.clock = clock

    async def submit(self, command: SubmitReimbursement, actor: Actor) -> Reimbursement:
        account = await asyncio.to_thread(self.application.get_account, command.bank_account_id)
        if command.amount.currency != account.currency:
            raise CurrencyNotTheAccounts(command.amount.currency, account.currency)
        reimbursement = Reimbursement(
            bank_account_id=account.id,
            bank_id=account.bank_id,
            member_id=account.bank_member_id,
            amount=command.amount.amount,
            currency=command.amount.currency,
            description=command.description,
            submitted_at=self.clock.now(),
            actor=actor,
        )
        await self._save(reimbursement)
        return reimbursement

    async def approve(
        self, reimbursement_id: UUID, administrator_id: UUID, actor: Actor
    ) -> Reimbursement:
        def decide(r: Reimbursement, admin: BankAdministrator) -> None:
            r.approve(admin.id, admin.bank_id, self.clock.now(), actor=actor)

        return await self._decide(reimbursement_id, administrator_id, decide)

    async def deny(
        self,
        reimbursement_id: UUID,
        administrator_id: UUID,
        command: DenyReimbursement,
        actor: Actor,
    ) -> Reimbursement:
        def decide(r: Reimbursement, admin: BankAdministrator) -> None:
            r.deny(admin.id, admin.bank_id, command.reason, self.clock.now(), actor=actor)

        return await self._decide(reimbursement_id, administrator_id, decide)

    async def _decide(
        self,
        reimbursement_id: UUID,
        administrator_id: UUID,
        decide: Callable[[Reimbursement, BankAdministrator], None],
    ) -> Reimbursement:
        """404 (reimbursement, then administrator), 403, 409 in that order. Two decisions
        that race both pass the checks on the same version; the store refuses the second
        (optimistic concurrency), which then answers 409 like any late decision."""

        def load() -> tuple[Reimbursement, BankAdministrator]:
            reimbursement = self.application.get_reimbursement(reimbursement_id)
            return reimbursement, self.application.get_administrator(administrator_id)

        reimbursement, administrator = await asyncio.to_thread(load)
        decide(reimbursement, administrator)
        try:
            await self._save(reimbursement)
        except IntegrityError:
            current = await self.get(reimbursement_id)
            raise ReimbursementNotPending(current.status.value) from None
        return reimbursement

    async def retry_payment(self, reimbursement_id: UUID, actor: Actor) -> Reimbursement:
        """Operator action: a failed payment is started again, with a new key. A write
        that raced with a notification outcome is tried again on the new version."""
        for _ in range(3):
            reimbursement = await self.get(reimbursement_id)
            reimbursement.retry_payment(self.clock.now(), actor=actor)
            try:
                await self._save(reimbursement)
            except IntegrityError:
                continue
            return reimbursement
        current = await self.get(reimbursement_id)
        raise PaymentNotRetryable(current.payment_status.value if current.payment_status else None)

    async def get(self, reimbursement_id: UUID) -> Reimbursement:
        return await asyncio.to_thread(self.application.get_reimbursement, reimbursement_id)

    async def get_account(self, account_id: UUID) -> BankAccount:
        return await asyncio.to_thread(self.application.get_account, account_id)

    async def check_exists(self, getter: Callable[[UUID], Any], aggregate_id: UUID) -> None:
        """Raises the getter's NotFound when the bank or member does not exist."""
        await asyncio.to_thread(getter, aggregate_id)

    async def history(self, reimbursement_id: UUID) -> list[AuditEntry]:
        entries = await asyncio.to_thread(audit_trail, self.application, reimbursement_id)
        if not entries or entries[0].type != "ReimbursementSubmitted":
            raise ReimbursementNotFound(reimbursement_id)
        return entries

    async def register(self, *aggregates: Aggregate) -> int:
        """Reference data, one aggregate per save: an existing one (same natural key) is
        left as it is. Answers how many were new."""
        results = await asyncio.gather(
            *(self._save(aggregate) for aggregate in aggregates), return_exceptions=True
        )
        created = 0
        for result in results:
            if isinstance(result, IntegrityError):
                continue
            if isinstance(result, BaseException):
                raise result
            created += 1
        return created
