"""What can go wrong with a reimbursement command. Each error names its kind; the API maps
kinds to statuses (precedence: not found, then forbidden, then conflict)."""

from __future__ import annotations

from uuid import UUID

from domain.errors import DomainError, ErrorKind
from domain.work import OutcomeNotApplicable


class ReimbursementError(DomainError):
    code = "reimbursement_error"


class NotFound(ReimbursementError):
    """Base of every unknown resource or actor (404)."""

    code = "not_found"
    kind = ErrorKind.NOT_FOUND
    what = "resource"

    def __init__(self, identifier: UUID | str) -> None:
        super().__init__(f"{self.what} {identifier} does not exist")


class ReimbursementNotFound(NotFound):
    code = "reimbursement_not_found"
    what = "reimbursement"


class BankNotFound(NotFound):
    code = "bank_not_found"
    what = "bank"


class BankAccountNotFound(NotFound):
    code = "bank_account_not_found"
    what = "bank account"


class MemberNotFound(NotFound):
    code = "member_not_found"
    what = "member"


class AdministratorNotFound(NotFound):
    code = "administrator_not_found"
    what = "administrator"


class NotAnAdministratorOfTheBank(ReimbursementError):
    """403: only an administrator of the account's bank may decide."""

    code = "not_an_administrator_of_the_bank"
    kind = ErrorKind.FORBIDDEN

    def __init__(self, administrator_id: UUID, bank_id: UUID) -> None:
        super().__init__(f"administrator {administrator_id} does not administer bank {bank_id}")


class CurrencyNotTheAccounts(ReimbursementError):
    """422: an account is paid in its own currency only."""

    code = "currency_not_the_accounts"
    kind = ErrorKind.INVALID

    def __init__(self, currency: str, account_currency: str) -> None:
        super().__init__(
            f"the amount's currency {currency} is not the account's currency "
            f"{account_currency}: a reimbursement is in its account's currency"
        )


class ReimbursementNotPending(ReimbursementError):
    """409: it was decided already (or another decision won a race)."""

    code = "reimbursement_not_pending"
    kind = ErrorKind.CONFLICT

    def __init__(self, status: str) -> None:
        super().__init__(f"only a pending reimbursement can be decided; this one is {status}")


class PaymentNotRetryable(ReimbursementError):
    """409: only a failed payment can be retried."""

    code = "payment_not_failed"
    kind = ErrorKind.CONFLICT

    def __init__(self, payment_status: str | None) -> None:
        shown = payment_status or "not started (the reimbursement is not approved)"
        super().__init__(f"only a failed payment can be retried; this one is {shown}")


class PaymentOutcomeNotApplicable(ReimbursementError, OutcomeNotApplicable):
    """The payment this outcome belongs to is over (or superseded): drop the work."""

    code = "payment_outcome_not_applicable"
    kind = ErrorKind.CONFLICT

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
