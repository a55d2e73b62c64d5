"""Per-client request limits on endpoints: `dependencies=[Depends(rate_limited("sms"))]`.

The limiter (adapters/rate_limiter.py) comes from the app's services; an app served
without one does not limit. Over the limit: 429, `Retry-After` in seconds and the
platform's error body (`code: "rate_limited"`).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import HTTPException, Request

from api.callers import limit_identifiers

RATE_LIMITED = "rate_limited"


class RateLimited(HTTPException):
    """Answered as 429 with `Retry-After` (api/errors.py)."""

    def __init__(self, endpoint: str, retry_after_seconds: int) -> None:
        super().__init__(
            status_code=429,
            detail=f"Too many requests to {endpoint}; retry after {retry_after_seconds} s",
            headers={"Retry-After": str(retry_after_seconds)},
        )


def rate_limited(endpoint: str) -> Callable[[Request], Coroutine[Any, Any, None]]:
    """A dependency counting each request against its client's limit on `endpoint`.

    A plain `async def` of the `Request`: a shape `LeanRoute` calls without FastAPI's
    solver (api/lean_route.py), so the busiest endpoint keeps its lean path."""

    async def check(request: Request) -> None:
        limiter = request.app.state.services.rate_limiter
        if limiter is None:
            return
        refused = await limiter.hit(endpoint, *limit_identifiers(request))
        if refused is not None:
            raise RateLimited(endpoint, refused.retry_after_seconds)

    check.__name__ = f"rate_limited_{endpoint}"
    return check
