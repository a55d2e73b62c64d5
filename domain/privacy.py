"""What may be shown of personal data in logs and error details."""

from __future__ import annotations


def mask_phone_number(number: str) -> str:
    """Keep the country prefix and the last two digits: enough to correlate, not to dial."""
    if len(number) <= 6:
        return "*" * len(number)
    return number[:4] + "*" * (len(number) - 6) + number[-2:]
