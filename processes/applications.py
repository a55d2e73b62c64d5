"""The base of every workflow's eventsourcing application: how the domain's own value
types are stored in events.

The library's JSON transcoder knows only its own types; an `Actor` is stored as
`{"role", "subject"}` under its name, and read back as an `Actor`.
"""

from __future__ import annotations

from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import JSONTranscoder, Transcoding

from domain.access import Actor


class ActorAsDict(Transcoding):
    type = Actor
    name = "actor"

    def encode(self, obj: Actor) -> dict[str, str]:
        return {"role": obj.role, "subject": obj.subject}

    def decode(self, data: dict[str, str]) -> Actor:
        return Actor(role=data["role"], subject=data["subject"])


class WorkflowApplication(Application[UUID]):
    """An application whose events may carry the domain's value types (an `Actor`)."""

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(ActorAsDict())
