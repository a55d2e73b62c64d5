"""What a `SendSms` must satisfy: E.164 numbers, non-blank text, at most 10 segments."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from domain.privacy import mask_phone_number
from domain.sms.commands import SendSms
from domain.sms.text import MAX_SEGMENTS, count_segments


def command(**changes: object) -> dict[str, object]:
    return {"message_id": "m-1", "phone_number": "+254712345678", "text": "hi", **changes}


@pytest.mark.parametrize(
    ("text", "encoding", "segments"),
    [
        ("a" * 160, "gsm7", 1),
        ("a" * 161, "gsm7", 2),
        ("a" * 306, "gsm7", 2),
        ("a" * 307, "gsm7", 3),
        ("€" * 80, "gsm7", 1),  # extension characters take two septets
        ("€" * 81, "gsm7", 2),
        ("é" * 160, "gsm7", 1),  # é is in the GSM basic set
        ("ł" * 70, "ucs2", 1),
        ("ł" * 71, "ucs2", 2),
        ("😀" * 35, "ucs2", 1),  # outside the BMP: two UTF-16 units each
        ("😀" * 36, "ucs2", 2),
    ],
)
def test_segments_are_counted_per_encoding(text: str, encoding: str, segments: int) -> None:
    count = count_segments(text)
    assert (count.encoding, count.segments) == (encoding, segments)


@given(st.text(min_size=1, max_size=2000))
def test_more_units_never_need_fewer_segments(text: str) -> None:
    count = count_segments(text)
    longer = count_segments(text + text[-1])
    if longer.encoding == count.encoding:
        assert longer.segments >= count.segments


def test_a_valid_command_is_normalized() -> None:
    sms = SendSms.model_validate(command(phone_number="+254712345678"))
    assert sms.phone_number == "+254712345678"


@pytest.mark.parametrize(
    ("changes", "field", "rule"),
    [
        ({"phone_number": "0712345678"}, "phone_number", "E.164"),
        ({"phone_number": "+25471234567890123"}, "phone_number", "8 to 15 digits"),
        ({"phone_number": "+999123456789"}, "phone_number", "not"),
        ({"text": ""}, "text", "at least 1 character"),
        ({"text": "   "}, "text", "blank"),
        ({"text": "a" * (153 * MAX_SEGMENTS + 1)}, "text", "segments"),
        ({"message_id": ""}, "message_id", "at least 1 character"),
        ({"colour": "red"}, "colour", "Extra inputs"),
    ],
)
def test_invalid_commands_name_the_field_and_the_rule(
    changes: dict[str, object], field: str, rule: str
) -> None:
    with pytest.raises(ValidationError) as raised:
        SendSms.model_validate(command(**changes))
    errors = raised.value.errors()
    assert errors[0]["loc"] == (field,)
    assert rule in errors[0]["msg"]


def test_phone_numbers_are_masked_for_logs() -> None:
    assert mask_phone_number("+254712345678") == "+254*******78"
