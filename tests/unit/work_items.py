"""What the unit tests of the process managers share: a request leased as the engine would
lease it, and a port whose answers a test scripts."""

from __future__ import annotations

from typing import Generic, TypeVar

from domain.work import WorkItem, WorkRequest

P = TypeVar("P")
A = TypeVar("A")


def leased(request: WorkRequest[P], attempt: int = 1) -> WorkItem[P]:
    """The item the engine leases for `request`'s attempt number `attempt`."""
    return WorkItem(
        id=request.id,
        kind=request.kind,
        aggregate_id=request.aggregate_id,
        attempt=attempt,
        payload=request.payload,
        first_due_at=request.due_at,
        deadline=request.deadline,
    )


class ScriptedAnswers(Generic[A]):
    """A fake port's answers, one per call, in order: an exception is raised, anything
    else returned; once they run out, `default` is the answer."""

    def __init__(self, answers: tuple[A | Exception, ...], default: A) -> None:
        self.answers = list(answers)
        self.default = default

    def next(self) -> A:
        answer = self.answers.pop(0) if self.answers else self.default
        if isinstance(answer, Exception):
            raise answer
        return answer
