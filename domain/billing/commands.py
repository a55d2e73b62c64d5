"""Commands of the billing workflow (validated the same way on every path)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from domain.billing.money import check_period
from domain.requests import STRICT, StorableText

MAX_NOTE = 1000

ResolutionAction = Literal["mark_paid", "retry", "write_off"]


class StartBillingRun(BaseModel):
    model_config = ConfigDict(**STRICT, json_schema_extra={"examples": [{"period": "2026-12"}]})

    period: str = Field(description="The calendar month to bill, YYYY-MM.")

    @field_validator("period")
    @classmethod
    def _period(cls, value: str) -> str:
        return check_period(value)


class ResolveInvoice(BaseModel):
    model_config = ConfigDict(
        **STRICT,
        json_schema_extra={
            "examples": [{"action": "mark_paid", "note": "paid by bank transfer, ref 88-12"}]
        },
    )

    action: ResolutionAction = Field(
        description="mark_paid: settled outside the platform; retry: charge again (same "
        "idempotency key); write_off: give the amount up."
    )
    note: StorableText = Field(
        min_length=1, max_length=MAX_NOTE, description="Why: kept in the audit trail."
    )
