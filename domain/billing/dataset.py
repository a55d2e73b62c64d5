"""The reference data set (`antaeus`): 100 customers, 10 invoices each, from a fixed seed.

Each customer gets a random currency; its invoices are in that currency, with values in
[10, 500) and two decimals; the first invoice of each customer is pending, the rest paid.
Integer ids as the reference: customers 1..100, invoices 1..1000.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal

from domain.billing.money import CURRENCIES

ANTAEUS_SEED = 20_190_101


@dataclass(frozen=True)
class CustomerRecord:
    ref_id: int
    currency: str


@dataclass(frozen=True)
class InvoiceRecord:
    ref_id: int
    customer_ref_id: int
    amount: Decimal
    currency: str
    paid: bool


def antaeus(
    customers: int = 100, invoices_per_customer: int = 10, *, seed: int = ANTAEUS_SEED
) -> Iterator[CustomerRecord | InvoiceRecord]:
    """Customers and invoices in id order, each customer before its invoices."""
    rng = random.Random(seed)
    next_invoice = 1
    for customer in range(1, customers + 1):
        currency = rng.choice(CURRENCIES)
        yield CustomerRecord(customer, currency)
        for n in range(invoices_per_customer):
            cents = rng.randrange(1000, 50000)  # [10.00, 500.00)
            yield InvoiceRecord(next_invoice, customer, Decimal(cents) / 100, currency, paid=n > 0)
            next_invoice += 1


def in_customers_currencies(
    records: Iterable[CustomerRecord | InvoiceRecord],
) -> Iterator[CustomerRecord | InvoiceRecord]:
    """`records` as they are, checked on the way: an invoice is in its customer's currency
    (`ValueError` otherwise). A customer comes before its invoices in a data set."""
    currencies: dict[int, str] = {}
    for record in records:
        if isinstance(record, CustomerRecord):
            currencies[record.ref_id] = record.currency
        elif currencies.get(record.customer_ref_id, record.currency) != record.currency:
            raise ValueError(
                f"invoice {record.ref_id} is in {record.currency}, not in its customer "
                f"{record.customer_ref_id}'s currency {currencies[record.customer_ref_id]}"
            )
        yield record
