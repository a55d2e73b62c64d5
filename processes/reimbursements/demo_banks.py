"""The `demo-banks` data set: a few banks, each with administrators, members (email,
some with a phone) and accounts in the bank's country's currency. Natural keys make
loading it twice a no-op."""

from __future__ import annotations

from eventsourcing.domain import Aggregate

from domain.access import Actor
from domain.reimbursements.reference import Bank, BankAccount, BankAdministrator, BankMember

DEMO_BANKS = "demo-banks"

# uid, name, location, its accounts' currency, administrators, members (uid, first, last,
# email, phone)
_BANKS: list[tuple[str, str, str, str, list[tuple[str, str, str]], list[tuple[str, ...]]]] = [
    (
        "nordic-coop",
        "Nordic Cooperative Bank",
        "Copenhagen, DK",
        "DKK",
        [("nordic-admin-1", "Freja", "Lund"), ("nordic-admin-2", "Mads", "Holm")],
        [
            ("nordic-m-1", "Astrid", "Berg", "astrid.berg@example.com", "+4520123456"),
            ("nordic-m-2", "Nils", "Dahl", "nils.dahl@example.com", ""),
            ("nordic-m-3", "Ida", "Storm", "ida.storm@example.com", "+4531234567"),
        ],
    ),
    (
        "lakeside-savings",
        "Lakeside Savings",
        "Kisumu, KE",
        "KES",
        [("lakeside-admin-1", "Achieng", "Otieno")],
        [
            ("lakeside-m-1", "Wanjiru", "Kamau", "wanjiru.kamau@example.com", "+254712345678"),
            ("lakeside-m-2", "Otieno", "Odhiambo", "otieno.odhiambo@example.com", ""),
        ],
    ),
    (
        "harbour-trust",
        "Harbour Trust",
        "Lisbon, PT",
        "EUR",
        [("harbour-admin-1", "Inês", "Costa"), ("harbour-admin-2", "Rui", "Almeida")],
        [
            ("harbour-m-1", "Sofia", "Pereira", "sofia.pereira@example.com", "+351912345678"),
            ("harbour-m-2", "Tiago", "Santos", "tiago.santos@example.com", ""),
        ],
    ),
]


def demo_banks(actor: Actor) -> list[Aggregate]:
    """Every aggregate of the data set, registered by `actor`, banks first; one account
    per member."""
    aggregates: list[Aggregate] = []
    for uid, name, location, currency, administrators, members in _BANKS:
        bank = Bank(uid=uid, name=name, location=location, actor=actor)
        aggregates.append(bank)
        for admin_uid, first, last in administrators:
            aggregates.append(
                BankAdministrator(
                    uid=admin_uid, first_name=first, last_name=last, bank_id=bank.id, actor=actor
                )
            )
        for member_uid, first, last, email, phone in members:
            member = BankMember(
                uid=member_uid,
                first_name=first,
                last_name=last,
                email=email,
                phone=phone or None,
                actor=actor,
            )
            aggregates.append(member)
            aggregates.append(
                BankAccount(
                    uid=f"{member_uid}-acct",
                    bank_id=bank.id,
                    bank_member_id=member.id,
                    actor=actor,
                    currency=currency,
                )
            )
    return aggregates
