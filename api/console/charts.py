"""Small charts drawn on the server as inline SVG: what the overview needs and no more
(no chart library in the page, nothing fetched)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    value: int


def columns(
    values: Sequence[int], labels: Sequence[str], *, width: float, height: float
) -> list[Bar]:
    """Vertical bars side by side, scaled to the largest value (a zero stays flat)."""
    top = max(values, default=0) or 1
    step = width / max(len(values), 1)
    bars = []
    for index, (value, label) in enumerate(zip(values, labels, strict=True)):
        tall = height * value / top
        bars.append(Bar(index * step + 1, height - tall, step - 2, tall, label, value))
    return bars


def rows(counts: Mapping[str, int], *, width: float, row_height: float) -> list[Bar]:
    """Horizontal bars, one a row, scaled to the largest count."""
    top = max(counts.values(), default=0) or 1
    return [
        Bar(
            0,
            index * row_height,
            max(width * value / top, 1 if value else 0),
            row_height - 4,
            label,
            value,
        )
        for index, (label, value) in enumerate(counts.items())
    ]
