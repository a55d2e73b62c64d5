"""`POST /sms` and `POST /orders` limit each client (api/rate_limits.py): past its limit a
client gets 429 with `Retry-After` and the platform's error body, and another client is
not limited; `POST /orders` keeps its lean path with the limit on it."""

from __future__ import annotations

import pytest
from limits.aio.storage import MemoryStorage

from adapters.rate_limiter import RateLimiter, parse_rate_limit
from api.lean_route import LeanCall
from tests.unit.in_memory_api import as_client, client_of, in_memory_api, in_memory_services

ORDER = {"type": "market", "side": "buy", "instrument": "US0378331005", "quantity": 1}


def sms(message_id: str) -> dict[str, str]:
    return {"message_id": message_id, "phone_number": "+254712345678", "text": "hi"}


def limiter(sms: str = "3/minute", orders: str = "3/minute") -> RateLimiter:
    limits = {"sms": parse_rate_limit(sms), "orders": parse_rate_limit(orders)}
    return RateLimiter(MemoryStorage(), limits, lease_share=0.01)


@pytest.mark.parametrize(
    ("path", "body", "accepted"),
    [("/orders", lambda i: ORDER, 201), ("/sms", lambda i: sms(f"m-{i}"), 202)],
)
async def test_past_its_limit_a_client_is_refused_and_others_are_not(
    path: str, body: object, accepted: int
) -> None:
    app = in_memory_api(in_memory_services(limiter()))
    async with client_of(app) as api:
        answers = [
            await api.post(path, json=body(i), headers=as_client("client-a"))  # type: ignore[operator]
            for i in range(4)
        ]
        other = await api.post(path, json=body(9), headers=as_client("client-b"))  # type: ignore[operator]

    assert [a.status_code for a in answers] == [accepted] * 3 + [429]
    refused = answers[-1]
    assert refused.json()["code"] == "rate_limited"
    assert set(refused.json()) == {"message", "code"}
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert other.status_code == accepted


async def test_the_limits_are_per_endpoint() -> None:
    app = in_memory_api(in_memory_services(limiter(sms="1/minute", orders="5/minute")))
    async with client_of(app) as api:
        first = await api.post("/sms", json=sms("m-1"), headers=as_client("client-a"))
        second = await api.post("/sms", json=sms("m-2"), headers=as_client("client-a"))
        order = await api.post("/orders", json=ORDER, headers=as_client("client-a"))

    assert (first.status_code, second.status_code, order.status_code) == (202, 429, 201)


async def test_an_app_without_a_limiter_does_not_limit() -> None:
    app = in_memory_api(in_memory_services(rate_limiter=None))
    async with client_of(app) as api:
        statuses = {
            (await api.post("/orders", json=ORDER, headers=as_client("c"))).status_code
            for _ in range(5)
        }
    assert statuses == {201}


def test_the_order_placement_keeps_its_lean_path_with_the_limit() -> None:
    from api.orders import placement_router

    (placement,) = placement_router.routes
    lean = LeanCall.of(placement)

    assert lean is not None
    # The caller's rule first (a refused caller spends no limit), then the limit, before
    # anything else: both on the lean path.
    names = [dependency.call.__name__ for dependency in lean.dependencies]
    assert names[:2] == ["allow_client_orders_write", "rate_limited_orders"]
