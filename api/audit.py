"""The audit trail's response shape, shared by every workflow's `/{id}/events`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ActorPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    role: str = Field(
        description="The caller's token role (client, member, bank_admin, operator), "
        "`system` for the platform's own processes, `unknown` for events stored before "
        "actors were recorded."
    )
    subject: str = Field(
        description="The token's subject, or the process (`worker-sms`, "
        "`billing-scheduler`, `lending-poller`, ...)."
    )


class EventPublic(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,  # read from a `processes.audit.AuditEntry` as it is
        json_schema_extra={
            "examples": [
                {
                    "type": "SmsSent",
                    "version": 3,
                    "recorded_at": "2026-11-21T10:00:01.250000Z",
                    "data": {"attempt": 2, "provider_message_id": "SM9f2c"},
                    "actor": {"role": "system", "subject": "worker-sms"},
                }
            ]
        },
    )

    type: str
    version: int
    recorded_at: datetime
    data: dict[str, Any]
    actor: ActorPublic | None = Field(
        description="Who caused the event; null for an event that records no actor."
    )
