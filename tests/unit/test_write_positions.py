"""`Ledgerflow-Position`: what a request's writes noted, written and read back."""

from __future__ import annotations

import pytest

from adapters.write_positions import (
    format_positions,
    note_recorded,
    parse_positions,
    recorded,
    recording,
)


def test_a_request_notes_the_last_position_of_each_log_it_wrote() -> None:
    note_recorded("sms", 5)  # outside a request: noted nowhere
    with recording() as positions:
        note_recorded("sms", 7)
        note_recorded("sms", 3)
        note_recorded("orders", 11)
        assert recorded() == {"sms": 7, "orders": 11}
    assert positions == {"sms": 7, "orders": 11}
    assert recorded() == {}
    assert format_positions(positions) == "orders:11, sms:7"
    assert parse_positions(format_positions(positions)) == positions


@pytest.mark.parametrize("text", ["", "sms", "sms:", ":4", "sms:x", "sms:-1", "sms:1,"])
def test_anything_else_is_not_a_position(text: str) -> None:
    with pytest.raises(ValueError):
        parse_positions(text)
