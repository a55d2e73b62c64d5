"""`SendSms`: the one command of the SMS workflow, validated the same way on every path
(`POST /sms` and the `ledgerflow.commands.sms` queue)."""

from __future__ import annotations

import phonenumbers
from pydantic import BaseModel, ConfigDict, Field, field_validator

from domain.requests import STRICT, StorableText
from domain.sms.text import MAX_SEGMENTS, count_segments

MAX_ID = 200


class SendSms(BaseModel):
    model_config = ConfigDict(
        **STRICT,
        str_strip_whitespace=False,
        json_schema_extra={
            "examples": [
                {
                    "message_id": "order-8812-confirmation",
                    "phone_number": "+254712345678",
                    "text": "Your payment of KES 1,250.00 was received. Ref 8812.",
                    "correlation_id": "checkout-5521",
                }
            ]
        },
    )

    message_id: StorableText = Field(
        min_length=1,
        max_length=MAX_ID,
        description="The client's idempotency key: the same id with the same body is one SMS.",
    )
    phone_number: str = Field(description="E.164: '+', country code and number, 8-15 digits.")
    text: StorableText = Field(
        min_length=1,
        description=f"At most {MAX_SEGMENTS} segments: 1,530 GSM-7 characters "
        "(extension characters such as € count twice) or 670 UCS-2 code units.",
    )
    correlation_id: StorableText | None = Field(default=None, max_length=MAX_ID)

    @field_validator("message_id")
    @classmethod
    def _message_id_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("message_id must not be blank")
        return value

    @field_validator("phone_number")
    @classmethod
    def _e164(cls, value: str) -> str:
        return normalize_e164(value)

    @field_validator("text")
    @classmethod
    def _fits(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("text must not be blank")
        count = count_segments(value)
        if count.segments > MAX_SEGMENTS:
            raise ValueError(
                f"text needs {count.segments} {count.encoding} segments; "
                f"at most {MAX_SEGMENTS} are allowed"
            )
        return value


def normalize_e164(value: str) -> str:
    """Accept only numbers written in E.164 that `phonenumbers` knows to be valid."""
    if not value.startswith("+") or not value[1:].isdigit() or not 8 <= len(value) - 1 <= 15:
        raise ValueError("phone_number must be E.164: '+' followed by 8 to 15 digits")
    try:
        parsed = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException as error:
        raise ValueError(f"phone_number is not a phone number: {error}") from error
    if not phonenumbers.is_valid_number(parsed):
        raise ValueError("phone_number is not a valid number for its country code")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
