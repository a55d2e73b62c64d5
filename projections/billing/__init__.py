"""The billing read models: `schema` (the tables), `fold` (a batch of events as row
changes, by the `Invoice` aggregate's own rules), `view` (the follower's processor: fold,
then write set-based) and `queries` (what the API reads)."""

from projections.billing.queries import AttemptRow, BillingQueries, InvoiceRow, RunProgress
from projections.billing.view import BillingView

__all__ = ["AttemptRow", "BillingQueries", "BillingView", "InvoiceRow", "RunProgress"]
