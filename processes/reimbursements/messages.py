"""What the member is told, by mail and by SMS. Identifiers are deterministic per
intended message, so a retried send is recognisably the same message."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from domain.money import amount_text
from domain.reimbursements.aggregate import Purpose, Reimbursement, notification_key
from domain.reimbursements.reference import BankMember


def mail_message_id(reimbursement_id: UUID, purpose: str, round_: int) -> str:
    """RFC 5322 Message-ID, e.g. `<reimbursement-{id}-approved@ledgerflow>`."""
    return f"<reimbursement-{reimbursement_id}-{notification_key(purpose, round_)}@ledgerflow>"


def sms_message_id(reimbursement_id: UUID, purpose: str, round_: int) -> str:
    """The `SendSms` message id (the SMS workflow's idempotency key)."""
    return f"reimbursement-{reimbursement_id}-{notification_key(purpose, round_)}"


@dataclass(frozen=True)
class Wording:
    subject: str
    text: str
    sms: str


def wording(reimbursement: Reimbursement, member: BankMember, purpose: str) -> Wording:
    money = f"{reimbursement.currency} {amount_text(reimbursement.amount, reimbursement.currency)}"
    what = f"{money} for {reimbursement.description!r}"
    greeting = f"Dear {member.first_name} {member.last_name},"
    ref = f"Reference: {reimbursement.id}"
    if purpose == Purpose.APPROVED:
        return Wording(
            subject=f"Your reimbursement of {money} was approved",
            text=f"{greeting}\n\nyour reimbursement of {what} was approved. "
            f"The payment to your account is on its way.\n\n{ref}\n",
            sms=f"Your reimbursement of {money} was approved; payment is on its way.",
        )
    if purpose == Purpose.DENIED:
        reason = reimbursement.denial_reason or ""
        return Wording(
            subject=f"Your reimbursement of {money} was denied",
            text=f"{greeting}\n\nyour reimbursement of {what} was denied.\n\n"
            f"Reason: {reason}\n\n{ref}\n",
            sms=f"Your reimbursement of {money} was denied. Reason: {reason}"[:300],
        )
    return Wording(
        subject=f"The payment of your reimbursement of {money} failed",
        text=f"{greeting}\n\nthe payment of your approved reimbursement of {what} failed: "
        f"{reimbursement.payment_error or 'refused by the payment rail'}. "
        "Our operators will retry it.\n\n"
        f"{ref}\n",
        sms=f"The payment of your reimbursement of {money} failed; we will retry it.",
    )
