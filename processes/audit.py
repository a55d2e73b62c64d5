"""The audit trail of an aggregate, the same for every workflow: its events in order,
each with who caused it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import Application

from domain.access import Actor


@dataclass(frozen=True)
class AuditEntry:
    type: str
    version: int
    recorded_at: datetime
    data: dict[str, Any]
    actor: Actor | None  # None: an event that records no actor (reference data)


_ENVELOPE = {"originator_id", "originator_version", "timestamp", "originator_topic"}


def audit_trail(application: Application[UUID], aggregate_id: UUID) -> list[AuditEntry]:
    """Every event of the aggregate, oldest first (empty when it does not exist)."""
    entries = []
    for event in application.events.get(aggregate_id):
        data = {key: value for key, value in vars(event).items() if key not in _ENVELOPE}
        actor = data.pop("actor", None)
        entries.append(
            AuditEntry(
                type=type(event).__name__,
                version=event.originator_version,
                recorded_at=event.timestamp,  # type: ignore[attr-defined]
                data=data,
                actor=actor if isinstance(actor, Actor) else None,
            )
        )
    return entries
