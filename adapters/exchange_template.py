"""The template's stock exchange: a synchronous, blocking `place_order(order)`.

It raises `ValueError` when given no order; in 10% of calls it raises
`OrderPlacementError` at once; otherwise it blocks for 0.5 seconds and succeeds.
"""

from __future__ import annotations

import random
import time

FAILURE_RATE = 0.1
LATENCY_SECONDS = 0.5


class OrderPlacementError(Exception):
    pass


def place_order(order: object | None) -> None:
    if order is None:
        raise ValueError("order is required")
    if random.random() < FAILURE_RATE:
        raise OrderPlacementError(
            "Failed to place order at stock exchange. Connection not available"
        )
    time.sleep(LATENCY_SECONDS)
