"""What every process manager does around a port call, in one place.

- `outcome_of` makes the call and classifies the answer by domain/outbound.py's errors:
  refused (`ProviderRejected`) is a `PermanentFailure`; unavailable or unknown is a
  `TransientFailure` (the engine retries it), optionally logged; an answer is turned into
  the outcome by the caller. Errors it does not classify propagate (the engine's lease
  expires and the work is tried again).
- `classify` and `transient_failure` are the same rules for a caller that must do more
  than return the outcome (send a result, forget a hint).
- `work_id` is how a work request's deterministic id is derived: a repeat is a no-op.

Log contexts are structured and must carry no personal data (mask it first).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from uuid import UUID, uuid5

from typing_extensions import TypeVar

from domain.outbound import OutboundError, OutcomeUnknown, ProviderRejected, ProviderUnavailable
from domain.work import Outcome, PermanentFailure, TransientFailure

T = TypeVar("T")
R = TypeVar("R")

# What a retry may fix: the request certainly had no effect, or may have had it.
RETRYABLE: tuple[type[OutboundError], ...] = (ProviderUnavailable, OutcomeUnknown)
# Every error a port speaks that is not a refusal (for ports whose contract is looser).
ANY_NOT_REFUSED: tuple[type[OutboundError], ...] = (OutboundError,)


def transient_failure(error: OutboundError) -> TransientFailure:
    """The engine's retry reason: the error's kind and its (loggable) detail."""
    return TransientFailure(f"{type(error).__name__}: {error.detail}")


def classify(error: OutboundError) -> PermanentFailure | TransientFailure:
    """A refusal is permanent; anything else a port raises is worth another attempt."""
    if isinstance(error, ProviderRejected):
        return PermanentFailure(error.detail)
    return transient_failure(error)


async def outcome_of(
    call: Awaitable[T],
    on_success: Callable[[T], Outcome[R]],
    *,
    retryable: tuple[type[OutboundError], ...] = RETRYABLE,
    log: logging.Logger | None = None,
    failure: str = "port call failed",
    log_context: Mapping[str, object] | None = None,
) -> Outcome[R]:
    """Await `call` and classify it: `on_success(answer)`, `PermanentFailure` on a refusal,
    `TransientFailure` on a `retryable` error (logged at info on `log`, with `log_context`
    and the error's detail, when a logger is given)."""
    try:
        answer = await call
    except ProviderRejected as error:
        return PermanentFailure(error.detail)
    except retryable as error:
        if log is not None:
            log.info(failure, extra={**(log_context or {}), "error": error.detail})
        return transient_failure(error)
    return on_success(answer)


def work_id(aggregate_id: UUID, kind: str, *parts: object) -> UUID:
    """The deterministic id of a work request: `uuid5(aggregate, "kind:part:...")`."""
    return uuid5(aggregate_id, ":".join([kind, *(f"{part}" for part in parts)]))
