"""Events that record who caused them: the `actor` every command event carries.

Each such event declares `actor: Actor` and mixes `RecordsActor` in. Events stored before
actors were recorded have no `actor`: the eventsourcing library upcasts them as it reads
them (`class_version` 2, `upcast_v1_v2`), filling `BEFORE_ACTORS`, so the log is never
rewritten and an old event says plainly that its actor was not recorded.
"""

from __future__ import annotations

from typing import Any, ClassVar

from domain.access import Actor

# What an event stored before actors were recorded answers: nobody is named, because
# nobody was recorded (a guess, such as "system", would put words in the log's mouth).
BEFORE_ACTORS = Actor(role="unknown", subject="before-actors")


def fill_before_actors(state: dict[str, Any]) -> None:
    """The upcast of a stored event's state to the version that records an actor. It runs
    after the state is decoded, so it fills an `Actor`, as decoding a newer event does."""
    state["actor"] = BEFORE_ACTORS


class RecordsActor:
    """Mixed into an event class that records its actor (declare `actor: Actor` too: the
    library builds the event's fields from its own annotations).

    An event that already had a version 2 of its own sets `class_version = 3` and
    `upcast_v2_v3 = staticmethod(fill_before_actors)`, keeping its `upcast_v1_v2`."""

    class_version: ClassVar[int] = 2
    upcast_v1_v2 = staticmethod(fill_before_actors)


# Who loads a data set (`ledgerflow seed`): reference data and invoices to charge.
SEED = Actor.system("seed")


def worker(workflow: str) -> Actor:
    """The system actor of a workflow's worker process (`ledgerflow worker <workflow>`):
    the outcomes its work engine records are its commands."""
    return Actor.system(f"worker-{workflow}")
