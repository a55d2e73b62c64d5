"""The SMS workflow's integration events: what other services learn on the event bus."""

from __future__ import annotations

import json
from typing import Any

from domain.messaging import Message, routing_key
from domain.sms.aggregate import Sms


def sms_integration_message(event: Any) -> Message | None:
    """`SmsSent` is published once the provider accepted the SMS (never before)."""
    if not isinstance(event, Sms.SmsSent):
        return None
    body = {
        "sms_id": str(event.originator_id),
        "message_id": event.message_id,
        "correlation_id": event.correlation_id,
        "provider_message_id": event.provider_message_id,
        "attempt": event.attempt,
        "sent_at": event.at.isoformat(),
    }
    return Message(
        body=json.dumps(body).encode(),
        message_id=f"{event.originator_id}:{event.originator_version}",
        correlation_id=event.correlation_id,
        routing_key=routing_key("sms", "SmsSent"),
        headers={"event_type": "SmsSent"},
    )
