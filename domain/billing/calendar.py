"""The `BillingCalendar` aggregate: when the platform began billing, recorded once.

The first process that opens the billing workflow records it (its id is fixed, so a
second recording collides and every process reads the first). It bounds the periods a
run may bill, from the month billing began to the current one, and names the first
period the monthly scheduler starts by itself: the month billing began when it began on
the first of that month (in the billing timezone), otherwise the next month. So a
platform first started mid-month does not take that month's run for a missed one and
charge every pending invoice at once.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid5
from zoneinfo import ZoneInfo

from eventsourcing.domain import Aggregate, event

from domain.access import Actor
from domain.actors import RecordsActor
from domain.billing.customer import BILLING_NAMESPACE
from domain.billing.errors import PeriodOutOfRange
from domain.billing.money import next_period, period_of

CALENDAR_ID = uuid5(BILLING_NAMESPACE, "billing-calendar")


class BillingCalendar(Aggregate):
    class BillingBegan(RecordsActor, Aggregate.Created):
        at: datetime
        timezone: str
        first_period: str
        first_scheduled_period: str
        actor: Actor

    @staticmethod
    def create_id(**_: object) -> UUID:
        return CALENDAR_ID

    @event(BillingBegan)
    def __init__(
        self,
        at: datetime,
        timezone: str,
        first_period: str,
        first_scheduled_period: str,
        actor: Actor,
    ) -> None:
        self.began_at = at
        self.timezone = timezone
        self.first_period = first_period
        self.first_scheduled_period = first_scheduled_period

    @classmethod
    def begin(cls, at: datetime, timezone: str, actor: Actor) -> BillingCalendar:
        """Billing begins at `at` (recorded by `actor`); the periods are months in
        `timezone` (recorded with them, so a later change of the setting does not move
        them)."""
        first = period_of(at, timezone)
        on_the_first = at.astimezone(ZoneInfo(timezone)).day == 1
        return cls(
            at=at,
            timezone=timezone,
            first_period=first,
            first_scheduled_period=first if on_the_first else next_period(first),
            actor=actor,
        )

    def check_period(self, period: str, current: str) -> None:
        """A run may bill the months from the first one to `current` (periods are
        YYYY-MM, so they compare as strings)."""
        if not self.first_period <= period <= current:
            raise PeriodOutOfRange(self.first_period, current)

    def is_scheduled(self, period: str) -> bool:
        """Whether the scheduler starts `period`'s run by itself (or catches it up)."""
        return period >= self.first_scheduled_period
