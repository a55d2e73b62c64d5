"""The audit trail's response shape, shared by every workflow's `/{id}/events`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


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
                }
            ]
        },
    )

    type: str
    version: int
    recorded_at: datetime
    data: dict[str, Any]
