"""`POST /orders`' fast path answers exactly what the regular route answers.

The same requests go to the API as served (fast path in front) and to the same API
with the fast path taken out; both write to one database. A probe behind the fast path
counts the requests it passed on to the regular route.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Receive, Scope, Send

from api.orders_fast_path import OrderAcceptFastPath
from ledgerflow.settings import Settings
from ledgerflow.web import create_app
from simulators.registry import running

ORDER = {
    "type": "limit",
    "side": "buy",
    "instrument": "US0378331005",
    "limit_price": "189.25",
    "quantity": 10,
}
VARYING = ("id", "created_at")


class PassedOn:
    """Counts the requests that reach the routes."""

    count = 0

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            PassedOn.count += 1
        await self.app(scope, receive, send)


def _app(settings: Settings, *, fast_path: bool) -> FastAPI:
    app = create_app(settings, only={"orders"})
    if not fast_path:
        app.user_middleware = [m for m in app.user_middleware if m.cls is not OrderAcceptFastPath]
    app.user_middleware.append(Middleware(PassedOn))  # innermost: behind the fast path
    return app


@pytest.fixture(scope="module")
def apis(database_url: str) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    settings = Settings(database_url=database_url, exchange_url="http://127.0.0.1:9")
    with (
        running(_app(settings, fast_path=True)) as fast_url,
        running(_app(settings, fast_path=False)) as route_url,
        httpx.Client(base_url=fast_url, timeout=10) as fast,
        httpx.Client(base_url=route_url, timeout=10) as route,
    ):
        yield fast, route


def _answer(response: httpx.Response) -> tuple[int, Any]:
    body = response.json()
    if isinstance(body, dict):
        body = {k: v for k, v in body.items() if k not in VARYING}
    return response.status_code, body


def _both(
    apis: tuple[httpx.Client, httpx.Client], content: bytes, headers: dict[str, str]
) -> tuple[tuple[int, Any], tuple[int, Any], int]:
    """Each API's answer, and how many requests the fast path passed on."""
    fast, route = apis
    before = PassedOn.count
    fast_answer = _answer(fast.post("/orders", content=content, headers=headers))
    passed_on = PassedOn.count - before
    return fast_answer, _answer(route.post("/orders", content=content, headers=headers)), passed_on


JSON = {"Content-Type": "application/json"}


def _json(body: Any) -> bytes:
    return httpx.Request("POST", "/", json=body).content


VALID = [
    (_json(ORDER), JSON),
    (_json({**ORDER, "type": "market", "limit_price": None}), JSON),
    (_json(ORDER), {"Content-Type": "application/json; charset=utf-8"}),
]
REFUSED = [
    (_json({**ORDER, "side": "BUY"}), JSON),
    (_json({**ORDER, "type": "market"}), JSON),
    (_json({**ORDER, "type": "limit", "limit_price": None}), JSON),
    (_json({**ORDER, "quantity": "10"}), JSON),
    (_json({**ORDER, "quantity": 0}), JSON),
    (_json({k: v for k, v in ORDER.items() if k != "instrument"}), JSON),
    (_json({**ORDER, "note": "extra"}), JSON),
    (b'{"type": "limit",', JSON),  # not JSON
    (_json(ORDER), {"Content-Type": "text/plain"}),
    (_json(ORDER), {**JSON, "Idempotency-Key": ""}),
    (_json(ORDER), {**JSON, "Idempotency-Key": "k" * 201}),
]


@pytest.mark.parametrize(
    ("content", "headers", "status", "passed_on"),
    [(*case, 201, 0) for case in VALID] + [(*case, 422, 1) for case in REFUSED],
)
def test_the_fast_path_answers_valid_orders_and_passes_on_the_rest(
    apis: tuple[httpx.Client, httpx.Client],
    content: bytes,
    headers: dict[str, str],
    status: int,
    passed_on: int,
) -> None:
    fast, route, passed = _both(apis, content, headers)

    assert fast == route and fast[0] == status
    assert passed == passed_on


def test_idempotent_retries_answer_alike(apis: tuple[httpx.Client, httpx.Client]) -> None:
    fast, route = apis
    answers = []
    for api in (fast, route):
        key = {**JSON, "Idempotency-Key": f"fast-path-{uuid.uuid4()}"}
        first = api.post("/orders", content=_json(ORDER), headers=key)
        again = api.post("/orders", content=_json(ORDER), headers=key)
        other = api.post("/orders", content=_json({**ORDER, "quantity": 11}), headers=key)
        assert again.json()["id"] == first.json()["id"]
        answers.append([first.status_code, again.status_code, _answer(other)])

    assert answers[0] == answers[1]
    assert answers[0][:2] == [201, 200] and answers[0][2][0] == 409
