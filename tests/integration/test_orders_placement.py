"""`POST /orders` answers what FastAPI's own handler answers, and a dependency added to
the app or to its router applies to it.

The route is a `LeanRoute` (api/lean_route.py): a well-formed order skips FastAPI's
per-request solving. The same requests go to the API as served and to the same API with
a dependency override in force, which makes the route hand every request to FastAPI's
handler; both write to one database. The contract's fixed 500 body (the database down)
is in test_orders_failures.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any, get_args

import httpx
import pytest
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.params import Depends as DependsParam

from api.errors import install_error_handlers
from api.orders import Orders, placement_router
from domain.access import Principal, Role, Scope
from ledgerflow.settings import Settings
from ledgerflow.web import create_app
from simulators.registry import running
from tests.issuer import TokenIssuer

ORDER = {
    "type": "limit",
    "side": "buy",
    "instrument": "US0378331005",
    "limit_price": "189.25",
    "quantity": 10,
}
VARYING = ("id", "created_at")


def _by_fastapis_handler(app: FastAPI) -> FastAPI:
    """The same app, every request served by FastAPI's handler: an override of the
    orders dependency by itself changes nothing else."""
    orders = next(m for m in get_args(Orders) if isinstance(m, DependsParam)).dependency
    assert orders is not None
    app.dependency_overrides[orders] = orders
    return app


@pytest.fixture(scope="module")
def settings(database_url: str, issuer: TokenIssuer) -> Settings:
    return Settings(database_url=database_url, exchange_url="http://127.0.0.1:9", **issuer.trusted)


@pytest.fixture(scope="module")
def apis(settings: Settings, issuer: TokenIssuer) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    with (
        running(create_app(settings, only={"orders"})) as served_url,
        running(_by_fastapis_handler(create_app(settings, only={"orders"}))) as reference_url,
        issuer.client(served_url, timeout=10, headers=issuer.as_client()) as served,
        issuer.client(reference_url, timeout=10, headers=issuer.as_client()) as reference,
    ):
        yield served, reference


def _answer(response: httpx.Response) -> tuple[int, Any]:
    body = response.json()
    if isinstance(body, dict):
        body = {k: v for k, v in body.items() if k not in VARYING}
    return response.status_code, body


JSON = {"Content-Type": "application/json"}


def _json(body: Any) -> bytes:
    return httpx.Request("POST", "/", json=body).content


VALID = [
    (_json(ORDER), JSON),
    (_json({**ORDER, "type": "market", "limit_price": None}), JSON),
    (_json(ORDER), {"Content-Type": "application/json; charset=utf-8"}),
    (_json(ORDER), {"Content-Type": "APPLICATION/JSON"}),
    (_json(ORDER), {"Content-Type": "application/vnd.orders+json"}),
    (_json({**ORDER, "limit_price": 189.25}), JSON),
]
# (content, headers, where the first error is)
REFUSED = [
    (_json({**ORDER, "side": "BUY"}), JSON, ["body", "side"]),
    (_json({**ORDER, "type": "market"}), JSON, ["body", "limit_price"]),
    (_json({**ORDER, "type": "limit", "limit_price": None}), JSON, ["body", "limit_price"]),
    (_json({**ORDER, "limit_price": "1.001"}), JSON, ["body", "limit_price"]),
    (_json({**ORDER, "quantity": "10"}), JSON, ["body", "quantity"]),
    (_json({**ORDER, "quantity": 10.0}), JSON, ["body", "quantity"]),
    (_json({**ORDER, "quantity": 0}), JSON, ["body", "quantity"]),
    (_json({k: v for k, v in ORDER.items() if k != "instrument"}), JSON, ["body", "instrument"]),
    (_json({**ORDER, "note": "extra"}), JSON, ["body", "note"]),
    (b'{"type": "limit",', JSON, ["body", 17]),  # not JSON
    (b"", JSON, ["body"]),
    (b"[1]", JSON, ["body"]),
    (_json(ORDER), {}, ["body"]),
    (_json(ORDER), {"Content-Type": "text/plain"}, ["body"]),
    (_json(ORDER), {**JSON, "Idempotency-Key": ""}, ["header", "idempotency-key"]),
    (_json(ORDER), {**JSON, "Idempotency-Key": "k" * 201}, ["header", "idempotency-key"]),
]


@pytest.mark.parametrize(("content", "headers"), VALID)
def test_a_valid_order_is_accepted_alike(
    apis: tuple[httpx.Client, httpx.Client], content: bytes, headers: dict[str, str]
) -> None:
    served, reference = (api.post("/orders", content=content, headers=headers) for api in apis)

    assert _answer(served) == _answer(reference)
    assert served.status_code == 201
    assert served.json()["status"] == "accepted"


@pytest.mark.parametrize(("content", "headers", "where"), REFUSED)
def test_a_refusal_is_fastapis_and_names_the_field(
    apis: tuple[httpx.Client, httpx.Client],
    content: bytes,
    headers: dict[str, str],
    where: list[str | int],
) -> None:
    served, reference = (api.post("/orders", content=content, headers=headers) for api in apis)

    assert _answer(served) == _answer(reference)
    assert served.status_code == 422
    assert served.json()["detail"][0]["loc"] == where


def test_a_caller_that_may_not_place_orders_is_refused_alike(
    apis: tuple[httpx.Client, httpx.Client], issuer: TokenIssuer
) -> None:
    """403 before anything else, on the lean path as on FastAPI's (the body is valid)."""
    for headers in (issuer.headers(), issuer.as_client("shop", Scope.ORDERS_READ)):
        served, reference = (
            api.post("/orders", content=_json(ORDER), headers={**JSON, **headers}) for api in apis
        )
        assert _answer(served) == _answer(reference)
        assert served.status_code == 403


def test_idempotent_retries_answer_alike(apis: tuple[httpx.Client, httpx.Client]) -> None:
    answers = []
    for api in apis:
        key = {**JSON, "Idempotency-Key": f"placement-{uuid.uuid4()}"}
        first = api.post("/orders", content=_json(ORDER), headers=key)
        again = api.post("/orders", content=_json(ORDER), headers=key)
        other = api.post("/orders", content=_json({**ORDER, "quantity": 11}), headers=key)
        assert again.json()["id"] == first.json()["id"]
        answers.append([first.status_code, again.status_code, _answer(other)])

    assert answers[0] == answers[1]
    assert answers[0][:2] == [201, 200] and answers[0][2][0] == 409


async def bearer_token(request: Request) -> None:
    """A dependency of the app or of the router: one fixed token passes, as a client that
    may place orders (the app has no authentication middleware to say so)."""
    if request.headers.get("authorization") != "Bearer s3cret":
        raise HTTPException(status_code=401, detail="Not authenticated")
    shop = Principal(Role.CLIENT, "shop", frozenset({Scope.ORDERS_WRITE.value}))
    request.scope.setdefault("state", {})["principal"] = shop


def _app_with_token_check(settings: Settings, where: str) -> FastAPI:
    check = [Depends(bearer_token)]
    served = create_app(settings, only={"orders"})
    app = FastAPI(
        lifespan=served.router.lifespan_context, dependencies=check if where == "app" else None
    )
    install_error_handlers(app)
    app.include_router(placement_router, dependencies=check if where == "router" else None)
    return app


@pytest.mark.parametrize("where", ["app", "router"])
def test_a_dependency_added_to_the_app_or_router_applies(settings: Settings, where: str) -> None:
    with (
        running(_app_with_token_check(settings, where)) as url,
        httpx.Client(base_url=url, timeout=10) as api,
    ):
        refused = api.post("/orders", content=_json(ORDER), headers=JSON)
        wrong = api.post(
            "/orders", content=_json(ORDER), headers={**JSON, "Authorization": "Bearer x"}
        )
        accepted = api.post(
            "/orders", content=_json(ORDER), headers={**JSON, "Authorization": "Bearer s3cret"}
        )

    assert [refused.status_code, wrong.status_code] == [401, 401]
    assert refused.json() == {"detail": "Not authenticated"}
    assert accepted.status_code == 201
