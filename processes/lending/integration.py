"""The lending workflow's integration events, and how the poller reads them.

`lending.ApplicationSubmitted` (and `lending.PollingResumed`) tell the poller service
what to assess; it learns nothing else about the platform. `lending.ApplicationDecided`
tells other services the outcome.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from domain.lending.aggregate import LoanApplication
from domain.messaging import Message, routing_key

WORKFLOW = "lending"
TO_ASSESS = ("ApplicationSubmitted", "PollingResumed")


class ToAssess(BaseModel):
    """What the poller needs to submit an application and poll its job."""

    model_config = ConfigDict(extra="ignore")

    event: Literal["ApplicationSubmitted", "PollingResumed"]
    application_id: UUID
    first_name: str
    last_name: str
    round: int
    at: datetime


def lending_integration_message(event: Any) -> Message | None:
    if isinstance(event, LoanApplication.ApplicationSubmitted):
        return _message(
            event,
            "ApplicationSubmitted",
            {
                "application_id": str(event.originator_id),
                "first_name": event.first_name,
                "last_name": event.last_name,
                "round": 1,
                "at": event.submitted_at.isoformat(),
            },
        )
    if isinstance(event, LoanApplication.PollingResumed):
        return _message(
            event,
            "PollingResumed",
            {
                "application_id": str(event.originator_id),
                "first_name": event.first_name,
                "last_name": event.last_name,
                "round": event.round,
                "at": event.at.isoformat(),
            },
        )
    if isinstance(event, LoanApplication.ApplicationDecided):
        return _message(
            event,
            "ApplicationDecided",
            {
                "application_id": str(event.originator_id),
                "status": event.status,
                "job_id": event.job_id,
                "at": event.at.isoformat(),
            },
        )
    return None


def _message(event: Any, name: str, body: dict[str, Any]) -> Message:
    return Message(
        body=json.dumps({"event": name, **body}).encode(),
        message_id=f"{event.originator_id}:{event.originator_version}",
        correlation_id=str(event.originator_id),
        routing_key=routing_key(WORKFLOW, name),
        headers={"event_type": name},
    )


def to_assess_binding_keys() -> list[str]:
    return [routing_key(WORKFLOW, name) for name in TO_ASSESS]
