"""The console's words for waits and its charts' geometry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from api.console.charts import columns, rows
from api.console.formatting import age

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def test_a_wait_is_said_in_its_largest_unit_or_two() -> None:
    assert age(T0, T0) == "0s"
    assert age(T0 + timedelta(seconds=45), T0) == "45s"
    assert age(T0 + timedelta(minutes=3, seconds=20), T0) == "3m 20s"
    assert age(T0 + timedelta(hours=2), T0) == "2h"
    assert age(T0 + timedelta(days=4, hours=1, minutes=5), T0) == "4d 1h"
    assert age(T0 - timedelta(seconds=5), T0) == "0s"  # a clock a little behind


@given(st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=24))
def test_columns_fill_the_height_for_the_largest_and_stay_inside(values: list[int]) -> None:
    bars = columns(values, [str(i) for i in range(len(values))], width=240, height=60)
    assert [bar.value for bar in bars] == values
    assert all(bar.y >= 0 and bar.y + bar.height <= 60 + 1e-9 for bar in bars)
    assert all(bar.x + bar.width <= 240 for bar in bars)
    if max(values):
        assert max(bar.height for bar in bars) == 60
        tallest = max(bars, key=lambda bar: bar.height)
        assert tallest.value == max(values)


def test_rows_scale_to_the_largest_count_and_keep_their_order() -> None:
    bars = rows({"sent": 30, "parked": 3, "failed": 0}, width=180, row_height=18)
    assert [(bar.label, bar.value) for bar in bars] == [("sent", 30), ("parked", 3), ("failed", 0)]
    assert [bar.width for bar in bars] == [180, 18, 0]
    assert [bar.y for bar in bars] == [0, 18, 36]
