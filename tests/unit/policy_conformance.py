"""Static checks, read by mypy (tests/unit/test_typing.py), not run: each policy is the
`WorkPolicy` of the payload, result and failure cause it declares."""

from __future__ import annotations

from domain.reimbursements.ports import RailPayment
from domain.work import NoPayload, ParkedHook, WorkPolicy
from processes.billing.charging import ChargeFailure, ChargePayload, ChargePolicy, ChargeResult
from processes.billing.selection import Selected, SelectionPolicy
from processes.lending.poller import ApplicationPolling, AssessPayload, Decided
from processes.orders.placement import OrderPlaced, OrderPlacement, PlacementPayload
from processes.reimbursements.notify import (
    MailNotification,
    NotificationPayload,
    NotificationResult,
    SmsNotification,
)
from processes.reimbursements.payment import CheckPayload, PaymentCheck, PaymentStart, StartPayload
from processes.sms.dispatch import SendPayload, SmsAccepted, SmsDispatch


def sms(policy: SmsDispatch) -> WorkPolicy[SendPayload, SmsAccepted]:
    return policy


def placement(policy: OrderPlacement) -> WorkPolicy[PlacementPayload, OrderPlaced]:
    return policy


def charge(policy: ChargePolicy) -> WorkPolicy[ChargePayload, ChargeResult, ChargeFailure]:
    return policy


def selection(policy: SelectionPolicy) -> WorkPolicy[NoPayload, Selected]:
    return policy


def polling(policy: ApplicationPolling) -> WorkPolicy[AssessPayload, Decided]:
    return policy


def polling_parks(policy: ApplicationPolling) -> ParkedHook[AssessPayload, None]:
    return policy


def payment_start(policy: PaymentStart) -> WorkPolicy[StartPayload, RailPayment]:
    return policy


def payment_check(policy: PaymentCheck) -> WorkPolicy[CheckPayload, RailPayment]:
    return policy


def mail(policy: MailNotification) -> WorkPolicy[NotificationPayload, NotificationResult]:
    return policy


def text(policy: SmsNotification) -> WorkPolicy[NotificationPayload, NotificationResult]:
    return policy
