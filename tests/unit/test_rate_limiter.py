"""The rate limiter (adapters/rate_limiter.py) on the library's memory storage: a limit per
client and endpoint, counted in leases without losing or adding a unit, refusals with a
`Retry-After`, and requests passing while the storage fails.

Redis, and processes sharing it: tests/integration/test_request_limits.py."""

from __future__ import annotations

import pytest
from limits.aio.storage import MemoryStorage
from limits.errors import StorageError

from adapters.rate_limiter import RateLimiter, Refused, parse_rate_limit

# Minutes: no test runs long enough to see its window turn.
LIMITS = {"orders": parse_rate_limit("10/minute"), "sms": parse_rate_limit("3/minute")}


def limiter(lease_share: float = 0.01) -> RateLimiter:
    return RateLimiter(MemoryStorage(wrap_exceptions=True), LIMITS, lease_share)


async def passed(limiter: RateLimiter, endpoint: str, client: str, times: int) -> int:
    answers = [await limiter.hit(endpoint, "subject", client) for _ in range(times)]
    return sum(answer is None for answer in answers)


@pytest.mark.parametrize("lease_share", [0.01, 0.3, 0.7, 1.0])  # leases of 1, 3, 7, 10
async def test_exactly_the_limit_passes_whatever_the_lease(lease_share: float) -> None:
    assert await passed(limiter(lease_share), "orders", "client-a", 25) == 10


async def test_past_the_limit_a_client_is_told_when_to_retry() -> None:
    rate = limiter()
    await passed(rate, "sms", "client-a", 3)

    refused = await rate.hit("sms", "subject", "client-a")

    assert isinstance(refused, Refused)
    assert 1 <= refused.retry_after_seconds <= 60


async def test_each_client_and_each_endpoint_has_its_own_limit() -> None:
    rate = limiter()
    assert await passed(rate, "sms", "client-a", 5) == 3
    assert await passed(rate, "sms", "client-b", 5) == 3
    assert await passed(rate, "orders", "client-a", 5) == 5
    assert await rate.hit("sms", "address", "client-a") is None  # an address is another key


async def test_an_endpoint_without_a_limit_is_not_counted() -> None:
    assert await passed(limiter(), "applications", "client-a", 100) == 100


class FailingStorage(MemoryStorage):
    async def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        raise StorageError(ConnectionError("redis is down"))


async def test_requests_pass_while_the_storage_fails() -> None:
    rate = RateLimiter(FailingStorage(), LIMITS, 0.01)
    assert await passed(rate, "sms", "client-a", 10) == 10
