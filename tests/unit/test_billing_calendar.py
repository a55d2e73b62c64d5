"""The billing calendar: which periods a run may bill, and which the scheduler starts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from domain.access import Actor
from domain.billing.calendar import CALENDAR_ID, BillingCalendar
from domain.billing.errors import PeriodOutOfRange
from domain.billing.money import next_period

# Who the tests' commands are recorded as, where it does not matter.
ACTOR = Actor.system("tests")


def test_the_next_period_rolls_over_the_year() -> None:
    assert next_period("2026-11") == "2026-12"
    assert next_period("2026-12") == "2027-01"
    with pytest.raises(ValueError):
        next_period("2026-13")


def test_billing_begun_mid_month_schedules_from_the_next_month() -> None:
    calendar = BillingCalendar.begin(datetime(2026, 12, 3, 12, 28, tzinfo=UTC), "UTC", actor=ACTOR)
    assert calendar.id == CALENDAR_ID
    assert (calendar.first_period, calendar.first_scheduled_period) == ("2026-12", "2027-01")
    assert not calendar.is_scheduled("2026-12")
    assert calendar.is_scheduled("2027-01") and calendar.is_scheduled("2027-02")


def test_billing_begun_on_the_first_schedules_that_month() -> None:
    calendar = BillingCalendar.begin(datetime(2026, 12, 1, 23, 59, tzinfo=UTC), "UTC", actor=ACTOR)
    assert (calendar.first_period, calendar.first_scheduled_period) == ("2026-12", "2026-12")


def test_the_first_is_the_first_in_the_billing_timezone() -> None:
    # 03:00 UTC on Dec 1 is still Nov 30 in New York, and already Dec 1 in Tokyo.
    moment = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
    new_york = BillingCalendar.begin(moment, "America/New_York", actor=ACTOR)
    assert (new_york.first_period, new_york.first_scheduled_period) == ("2026-11", "2026-12")
    tokyo = BillingCalendar.begin(moment, "Asia/Tokyo", actor=ACTOR)
    assert (tokyo.first_period, tokyo.first_scheduled_period) == ("2026-12", "2026-12")


def test_a_run_bills_a_month_from_the_first_to_the_current_one() -> None:
    calendar = BillingCalendar.begin(datetime(2026, 11, 20, tzinfo=UTC), "UTC", actor=ACTOR)
    for period in ("2026-11", "2026-12"):
        calendar.check_period(period, current="2026-12")
    for period in ("2026-10", "1999-01", "2027-01", "9999-12"):
        with pytest.raises(PeriodOutOfRange) as raised:
            calendar.check_period(period, current="2026-12")
        assert str(raised.value) == "period must be between 2026-11 and 2026-12"
        assert raised.value.code == "period_out_of_range"


def test_the_calendar_replays_from_its_event() -> None:
    calendar = BillingCalendar.begin(datetime(2026, 11, 20, tzinfo=UTC), "Europe/Oslo", actor=ACTOR)
    (began,) = calendar.collect_events()
    copy = began.mutate(None)
    assert isinstance(copy, BillingCalendar)
    assert (copy.began_at, copy.timezone, copy.first_period, copy.first_scheduled_period) == (
        datetime(2026, 11, 20, tzinfo=UTC),
        "Europe/Oslo",
        "2026-11",
        "2026-12",
    )
