"""The ports a process may be given instead of building them from its settings.

`open_platform(settings, ports=Ports(sms=SmsPorts(provider=fake)))` runs the SMS
workflow against `fake` (a test's hand-written fake); every workflow whose field is None
talks to the real third parties its settings name. A misspelled workflow is a TypeError
(and a type checker's error), never a silent run against the real provider.
"""

from __future__ import annotations

from dataclasses import dataclass

from ledgerflow.workflows.billing import BillingPorts
from ledgerflow.workflows.lending import LendingPorts
from ledgerflow.workflows.orders import OrdersPorts
from ledgerflow.workflows.reimbursements import ReimbursementsPorts
from ledgerflow.workflows.sms import SmsPorts


@dataclass(frozen=True)
class Ports:
    sms: SmsPorts | None = None
    orders: OrdersPorts | None = None
    billing: BillingPorts | None = None
    lending: LendingPorts | None = None
    reimbursements: ReimbursementsPorts | None = None
