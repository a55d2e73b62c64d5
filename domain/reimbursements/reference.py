"""Reference data as event-sourced aggregates: banks, their administrators, members and
accounts.

They live in the reimbursements event store, like everything else the workflow decides
on, so a decision and the facts it was checked against have one history and one
consistency model. Ids follow from natural keys (`uid`), so loading a data set twice
lands on the stored first versions and adds nothing.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.access import Actor, Owner
from domain.actors import RecordsActor

REFERENCE_NAMESPACE = UUID("0b9d2c1e-7f7a-4f0e-8a44-5b0c6f0d1a21")
# The currency of an account opened before accounts had one: every amount submitted to
# those accounts was in euros (the reference data sets' and the examples' currency).
DEFAULT_ACCOUNT_CURRENCY = "EUR"


def reference_id(kind: str, uid: str) -> UUID:
    return uuid5(REFERENCE_NAMESPACE, f"{kind}:{uid}")


class Bank(Aggregate):
    class BankRegistered(RecordsActor, Aggregate.Created):
        uid: str
        name: str
        location: str
        actor: Actor

    @staticmethod
    def create_id(uid: str, **_: object) -> UUID:
        return reference_id("bank", uid)

    @event(BankRegistered)
    def __init__(self, uid: str, name: str, location: str, actor: Actor) -> None:
        self.uid = uid
        self.name = name
        self.location = location


class BankAdministrator(Aggregate):
    """Belongs to one bank: may decide on reimbursements to that bank's accounts."""

    class AdministratorAppointed(RecordsActor, Aggregate.Created):
        uid: str
        first_name: str
        last_name: str
        bank_id: UUID
        actor: Actor

    @staticmethod
    def create_id(uid: str, **_: object) -> UUID:
        return reference_id("administrator", uid)

    @event(AdministratorAppointed)
    def __init__(
        self, uid: str, first_name: str, last_name: str, bank_id: UUID, actor: Actor
    ) -> None:
        self.uid = uid
        self.first_name = first_name
        self.last_name = last_name
        self.bank_id = bank_id


class BankMember(Aggregate):
    """A person who holds accounts; reached by mail, and by SMS where a phone is on file."""

    class MemberRegistered(RecordsActor, Aggregate.Created):
        uid: str
        first_name: str
        last_name: str
        email: str
        phone: str | None
        actor: Actor

    @staticmethod
    def create_id(uid: str, **_: object) -> UUID:
        return reference_id("member", uid)

    @event(MemberRegistered)
    def __init__(
        self,
        uid: str,
        first_name: str,
        last_name: str,
        email: str,
        phone: str | None,
        actor: Actor,
    ) -> None:
        self.uid = uid
        self.first_name = first_name
        self.last_name = last_name
        self.email = email
        self.phone = phone


class BankAccount(Aggregate):
    """Held in one currency (ISO 4217): a reimbursement into it is in that currency."""

    class AccountOpened(RecordsActor, Aggregate.Created):
        uid: str
        bank_id: UUID
        bank_member_id: UUID
        actor: Actor
        currency: str

        # Version 2 recorded the actor (`RecordsActor`'s upcast); version 3 the currency.
        class_version = 3

        @staticmethod
        def upcast_v2_v3(state: dict[str, Any]) -> None:
            state["currency"] = DEFAULT_ACCOUNT_CURRENCY

    @staticmethod
    def create_id(uid: str, **_: object) -> UUID:
        return reference_id("account", uid)

    @event(AccountOpened)
    def __init__(
        self, uid: str, bank_id: UUID, bank_member_id: UUID, actor: Actor, currency: str
    ) -> None:
        self.uid = uid
        self.bank_id = bank_id
        self.bank_member_id = bank_member_id
        self.currency = currency

    @property
    def owner(self) -> Owner:
        """Its member's, and its bank's administrators'."""
        return Owner(member_id=self.bank_member_id, bank_id=self.bank_id)
