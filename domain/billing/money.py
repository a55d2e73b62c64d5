"""The billing workflow's currencies and periods ("YYYY-MM"); amounts are `domain.money`."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

CURRENCIES = ("EUR", "USD", "DKK", "SEK", "GBP")
PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def check_period(period: str) -> str:
    if not PERIOD.match(period):
        raise ValueError("period must be YYYY-MM, e.g. 2026-12")
    return period


def period_of(moment: datetime, timezone: str = "UTC") -> str:
    """The billing period (calendar month) `moment` falls in, in `timezone`."""
    local = moment.astimezone(ZoneInfo(timezone))
    return f"{local.year:04d}-{local.month:02d}"


def next_period(period: str) -> str:
    """The calendar month after `period`."""
    year, month = (int(part) for part in check_period(period).split("-"))
    return f"{year + month // 12:04d}-{month % 12 + 1:02d}"
