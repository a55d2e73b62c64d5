"""Each workflow's ports, and the ports a process may be given instead of building them
from its settings.

`open_platform(settings, ports=Ports(sms=SmsPorts(provider=fake)))` runs the SMS
workflow against `fake` (a test's hand-written fake); every workflow whose field is None
talks to the real third parties its settings name. A misspelled workflow is a TypeError
(and a type checker's error), never a silent run against the real provider.
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.billing.ports import PaymentProvider
from domain.lending.ports import BankPartner
from domain.messaging import CommandQueue
from domain.orders.ports import StockExchange
from domain.reimbursements.ports import Mailer, PaymentRail
from domain.sms.ports import SmsProvider


@dataclass(frozen=True)
class SmsPorts:
    provider: SmsProvider


@dataclass(frozen=True)
class OrdersPorts:
    exchange: StockExchange


@dataclass(frozen=True)
class BillingPorts:
    provider: PaymentProvider


@dataclass(frozen=True)
class LendingPorts:
    partner: BankPartner


@dataclass(frozen=True)
class ReimbursementsPorts:
    mailer: Mailer
    rail: PaymentRail
    queue: CommandQueue  # the SMS workflow's command queue: texts go through it


@dataclass(frozen=True)
class Ports:
    sms: SmsPorts | None = None
    orders: OrdersPorts | None = None
    billing: BillingPorts | None = None
    lending: LendingPorts | None = None
    reimbursements: ReimbursementsPorts | None = None
