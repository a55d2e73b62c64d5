"""The lending workflow's commands: `SubmitApplication` from clients (`POST /applications`),
and the poller's results, which reach the platform on the `ledgerflow.commands.lending`
queue."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator

from domain.money import Money
from domain.requests import STRICT, StorableText

# Deliberately plain: one "@", no spaces, a dot in the domain. Deliverability is the
# partner's concern, not ours.
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s.]{2,}$")
MIN_AMOUNT = Decimal("0.01")
MAX_AMOUNT = Decimal("10000000.00")
MAX_TERM_MONTHS = 480
MAX_NAME = 100
MAX_EMAIL = 254


def _not_blank(value: str, field: str) -> str:
    if not value.strip():
        raise ValueError(f"{field} must not be blank")
    return value.strip()


class SubmitApplication(BaseModel):
    model_config = ConfigDict(
        **STRICT,
        json_schema_extra={
            "examples": [
                {
                    "first_name": "Amina",
                    "last_name": "Okafor",
                    "amount": {"amount": "15000.00", "currency": "EUR"},
                    "term_months": 36,
                    "email": "amina.okafor@example.com",
                }
            ]
        },
    )

    first_name: StorableText = Field(min_length=1, max_length=MAX_NAME)
    last_name: StorableText = Field(min_length=1, max_length=MAX_NAME)
    amount: Money = Field(description=f"From {MIN_AMOUNT} to {MAX_AMOUNT}.")
    term_months: int = Field(
        ge=1, le=MAX_TERM_MONTHS, description=f"A JSON integer, 1 to {MAX_TERM_MONTHS} months."
    )
    email: StorableText = Field(max_length=MAX_EMAIL)

    @field_validator("first_name")
    @classmethod
    def _first_name(cls, value: str) -> str:
        return _not_blank(value, "first_name")

    @field_validator("last_name")
    @classmethod
    def _last_name(cls, value: str) -> str:
        return _not_blank(value, "last_name")

    @field_validator("amount")
    @classmethod
    def _positive(cls, value: Money) -> Money:
        return value.within(MIN_AMOUNT, MAX_AMOUNT)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        if not EMAIL.match(value):
            raise ValueError("email must look like name@example.com")
        return value


# -- the poller's results (messages on ledgerflow.commands.lending) ---------------------


class RecordApplicationDecision(BaseModel):
    """The partner decided: recorded once; a repeat is a no-op."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["RecordApplicationDecision"] = "RecordApplicationDecision"
    application_id: UUID
    status: Literal["completed", "rejected"]
    job_id: str = Field(min_length=1, max_length=200)


class RecordSubmissionRefused(BaseModel):
    """The partner refused the submission itself (not a credit decision)."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["RecordSubmissionRefused"] = "RecordSubmissionRefused"
    application_id: UUID
    error: str = Field(max_length=500)


class RecordSubmissionAttemptFailed(BaseModel):
    """A submission did not get through to the partner (it was unavailable, or the answer
    was lost): attempt `attempt` of the round's assessment, and why. The poller sends the
    first failure, a new kind of error, every tenth, and the last one before the
    submission gets through, is refused, or the application is flagged; a repeat or an
    earlier attempt is a no-op."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["RecordSubmissionAttemptFailed"] = "RecordSubmissionAttemptFailed"
    application_id: UUID
    round: int = Field(ge=1)
    attempt: int = Field(ge=1)
    error: str = Field(max_length=500)


class FlagApplication(BaseModel):
    """No decision past the deadline (never accepted, or still pending): an operator
    should look."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["FlagApplication"] = "FlagApplication"
    application_id: UUID
    reason: str = Field(max_length=500)


PollerResult = Annotated[
    RecordApplicationDecision
    | RecordSubmissionRefused
    | RecordSubmissionAttemptFailed
    | FlagApplication,
    Field(discriminator="type"),
]
POLLER_RESULT: TypeAdapter[PollerResult] = TypeAdapter(PollerResult)
