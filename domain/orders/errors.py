"""What can go wrong with an order command. Each names its kind; the API maps kinds to statuses."""

from __future__ import annotations

from uuid import UUID

from domain.errors import DomainError, ErrorKind
from domain.work import OutcomeNotApplicable


class OrderError(DomainError):
    code = "order_error"


class OrderNotFound(OrderError):
    code = "order_not_found"
    kind = ErrorKind.NOT_FOUND

    def __init__(self, order_id: UUID | str) -> None:
        super().__init__(f"order {order_id} does not exist")


class IdempotencyKeyReused(OrderError):
    """The client's `Idempotency-Key` was already used for a different order."""

    code = "idempotency_key_conflict"
    kind = ErrorKind.CONFLICT

    def __init__(self) -> None:
        super().__init__("this Idempotency-Key was already used with a different order body")


class OrderAlreadyFinal(OrderError, OutcomeNotApplicable):
    """A placement outcome arrived for an order that no longer expects one."""

    code = "order_already_final"
    kind = ErrorKind.CONFLICT

    def __init__(self, status: str) -> None:
        super().__init__(f"the order is already {status}; no placement outcome is recorded")


class ExecutionNotApplicable(OrderError):
    """An execution report that cannot belong to this order (overfill, rejected order)."""

    code = "execution_not_applicable"
    kind = ErrorKind.CONFLICT
