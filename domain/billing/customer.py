"""The `Customer` aggregate: a reference customer and the currency of its account."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.access import Actor
from domain.actors import RecordsActor

BILLING_NAMESPACE = UUID("0b7d4c7e-93a8-4a59-8a38-3f1f5f8d2c61")


def customer_id_for(ref_id: int) -> UUID:
    """The reference's integer id names the aggregate: registering it twice collides."""
    return uuid5(BILLING_NAMESPACE, f"customer:{ref_id}")


class Customer(Aggregate):
    class CustomerRegistered(RecordsActor, Aggregate.Created):
        ref_id: int
        currency: str
        at: datetime
        actor: Actor

    @staticmethod
    def create_id(ref_id: int, **_: object) -> UUID:
        return customer_id_for(ref_id)

    @event(CustomerRegistered)
    def __init__(self, ref_id: int, currency: str, at: datetime, actor: Actor) -> None:
        self.ref_id = ref_id
        self.currency = currency
        self.registered_at = at
