"""Who makes a request, and who made a change: the platform's access model.

A `Principal` is who a verified token says is calling: a role and the claims that go with
it. An `Actor` is what an event records of whoever caused it: a role and a subject. The
platform's own processes act as `system` actors named after the process.

- `client` (`sub` is the client, `scope` lists what it may call): the service APIs its
  scopes name, and only what it created;
- `member` (`member_id`): submits on its own accounts, reads its own;
- `bank_admin` (`bank_id`, `administrator_id`): reads and decides its own bank's;
- `operator`: reads everything, takes the operator actions;
- `auditor`: reads everything, takes no action of any kind.

A token names one of these roles. One that names none of them, or more than one, still
says who is calling, but the principal has no role and may do nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol
from uuid import UUID


class Role(StrEnum):
    """Who a caller is to the platform."""

    CLIENT = "client"
    MEMBER = "member"
    BANK_ADMIN = "bank_admin"
    OPERATOR = "operator"
    AUDITOR = "auditor"
    SYSTEM = "system"  # the platform's own processes; never in a token


# The roles a token may carry (never `system`).
TOKEN_ROLES: frozenset[Role] = frozenset(Role) - {Role.SYSTEM}


class Scope(StrEnum):
    """What a `client` token may call, space separated in its `scope` claim."""

    SMS_SEND = "sms:send"
    SMS_READ = "sms:read"
    ORDERS_WRITE = "orders:write"
    ORDERS_READ = "orders:read"
    APPLICATIONS_WRITE = "applications:write"
    APPLICATIONS_READ = "applications:read"


@dataclass(frozen=True)
class Actor:
    """Who caused an event, as its audit trail shows it."""

    role: str
    subject: str

    @classmethod
    def system(cls, process: str) -> Actor:
        return cls(Role.SYSTEM.value, process)

    @property
    def client(self) -> str | None:
        """The client this actor is, if it is one: what it creates is that client's own
        (only it reaches it, and its keys are scoped to it)."""
        return self.subject if self.role == Role.CLIENT.value else None


@dataclass(frozen=True)
class Owner:
    """Whose a resource is, as far as reaching it goes: the client that created it, the
    member it belongs to, the bank it is at (`None`: not that kind's, or no one's)."""

    client: str | None = None
    member_id: UUID | None = None
    bank_id: UUID | None = None

    @property
    def owner(self) -> Owner:
        """An owner is `Owned` by itself: what a route reaches that has no aggregate."""
        return self


class Owned(Protocol):
    """A resource that says whose it is (the aggregates callers reach)."""

    @property
    def owner(self) -> Owner: ...


@dataclass(frozen=True)
class Principal:
    """The verified caller of a request: its token's subject, its one platform role
    (`None`: none, or several, may do nothing) and the claims that go with the role."""

    role: Role | None
    subject: str
    scopes: frozenset[str] = field(default_factory=frozenset)
    member_id: UUID | None = None
    bank_id: UUID | None = None
    administrator_id: UUID | None = None

    @property
    def actor(self) -> Actor:
        return Actor(self.role.value if self.role else "none", self.subject)

    @property
    def sees_everything(self) -> bool:
        """Operators and auditors read every resource of every workflow."""
        return self.role in (Role.OPERATOR, Role.AUDITOR)

    def reaches(self, owner: Owner) -> bool:
        """Whether the resource `owner` owns is within this principal's reach: a client's
        own, a member's own, a bank administrator's bank's; operators and auditors reach
        every resource. Outside it, a resource is answered as if it did not exist."""
        if self.sees_everything:
            return True
        if self.role is Role.CLIENT:
            return owner.client is not None and owner.client == self.subject
        if self.role is Role.MEMBER:
            return self.member_id is not None and owner.member_id == self.member_id
        if self.role is Role.BANK_ADMIN:
            return self.bank_id is not None and owner.bank_id == self.bank_id
        return False
