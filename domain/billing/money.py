"""Money and periods of the billing workflow: Decimal amounts, ISO currencies, "YYYY-MM"."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from zoneinfo import ZoneInfo

CURRENCIES = ("EUR", "USD", "DKK", "SEK", "GBP")
CENT = Decimal("0.01")
PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def to_amount(value: Decimal | str | int) -> Decimal:
    """Two decimals, exactly (amounts are never floats)."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_EVEN)


def check_period(period: str) -> str:
    if not PERIOD.match(period):
        raise ValueError("period must be YYYY-MM, e.g. 2026-12")
    return period


def period_of(moment: datetime, timezone: str = "UTC") -> str:
    """The billing period (calendar month) `moment` falls in, in `timezone`."""
    local = moment.astimezone(ZoneInfo(timezone))
    return f"{local.year:04d}-{local.month:02d}"
