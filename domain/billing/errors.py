"""What can go wrong with a billing command. Each names its kind; the API maps kinds to statuses."""

from __future__ import annotations

from domain.errors import DomainError, ErrorKind
from domain.work import OutcomeNotApplicable


class BillingError(DomainError):
    code = "billing_error"


class InvoiceNotFound(BillingError):
    code = "invoice_not_found"
    kind = ErrorKind.NOT_FOUND

    def __init__(self, invoice_id: object) -> None:
        super().__init__(f"invoice {invoice_id} does not exist")


class CustomerNotFound(BillingError):
    code = "customer_not_found"
    kind = ErrorKind.NOT_FOUND

    def __init__(self, customer_id: object) -> None:
        super().__init__(f"customer {customer_id} does not exist")


class BillingRunNotFound(BillingError):
    code = "billing_run_not_found"
    kind = ErrorKind.NOT_FOUND

    def __init__(self, run_id: object) -> None:
        super().__init__(f"billing run {run_id} does not exist")


class PeriodOutOfRange(BillingError):
    """A run for a month before the platform began billing, or one still to come."""

    code = "period_out_of_range"
    kind = ErrorKind.INVALID

    def __init__(self, first: str, current: str) -> None:
        super().__init__(f"period must be between {first} and {current}")


class InvoiceNotResolvable(BillingError):
    """An operator resolution on an invoice that does not wait for one."""

    code = "invoice_not_resolvable"
    kind = ErrorKind.CONFLICT

    def __init__(self, action: str, status: str) -> None:
        super().__init__(f"cannot {action} an invoice that is {status}")


class ChargeNotExpected(BillingError, OutcomeNotApplicable):
    """The invoice no longer expects this charge (paid, resolved or moved on meanwhile)."""

    code = "charge_not_expected"
    kind = ErrorKind.CONFLICT

    def __init__(self, status: str, detail: str = "") -> None:
        super().__init__(f"the invoice is {status}; this charge is obsolete {detail}".strip())
