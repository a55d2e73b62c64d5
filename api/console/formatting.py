"""How the console and the command line word times and waits."""

from __future__ import annotations

from datetime import datetime


def age(now: datetime, since: datetime) -> str:
    """How long something has waited, in its largest unit or two: 45s, 3m 20s, 2h 5m, 4d 1h."""
    seconds = max(0, int((now - since).total_seconds()))
    for unit, next_unit, size, next_size in (
        ("d", "h", 86_400, 3_600),
        ("h", "m", 3_600, 60),
        ("m", "s", 60, 1),
    ):
        if seconds >= size:
            rest = (seconds % size) // next_size
            return f"{seconds // size}{unit}" + (f" {rest}{next_unit}" if rest else "")
    return f"{seconds}s"


def moment(at: datetime | None) -> str:
    return at.isoformat(timespec="seconds") if at else ""
