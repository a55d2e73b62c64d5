"""`LeanRoute` (api/lean_route.py): a well-formed request skips FastAPI's handler and gets
the same answer; every other request, and every route of another shape, goes to FastAPI's
handler; a dependency added at any level applies either way.

`CountedRoute` counts the requests FastAPI's own handler served: `LeanRoute` takes its
handler from the next class in line, here the counting one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Query, Request, Response
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from opentelemetry import trace
from pydantic import BaseModel, ConfigDict, StrictInt

from api.lean_route import LeanCall, LeanRoute


class CountingRoute(APIRoute):
    served: list[str] = []  # the paths served, by every route of the test

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def counted(request: Request) -> Response:
            CountingRoute.served.append(request.url.path)
            return await handler(request)

        return counted


class CountedRoute(LeanRoute, CountingRoute):
    pass


class Item(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    quantity: StrictInt


async def store(request: Request) -> str:
    return str(request.app.state.store)


Store = Annotated[str, Depends(store)]


async def create(
    item: Item,
    store: Store,
    request: Request,
    key: Annotated[str | None, Header(min_length=1, max_length=5)] = None,
) -> Response:
    text = f'{{"name":"{item.name}","store":"{store}","key":"{key}","path":"{request.url.path}"}}'
    return Response(text, status_code=201, media_type="application/json")


def app_with(router: APIRouter, **app_options: Any) -> FastAPI:
    app = FastAPI(**app_options)
    app.state.store = "main"
    app.include_router(router)
    return app


def items_router(route_class: type[APIRoute] = CountedRoute, **options: Any) -> APIRouter:
    router = APIRouter(prefix="/items", route_class=route_class)
    router.add_api_route("", create, methods=["POST"], status_code=201, **options)
    return router


@pytest.fixture(autouse=True)
def counted() -> Iterator[list[str]]:
    CountingRoute.served.clear()
    yield CountingRoute.served


async def post(app: FastAPI, content: bytes, headers: dict[str, str]) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.post("/items", content=content, headers=headers)


JSON = {"Content-Type": "application/json"}
ITEM = b'{"name": "pen", "quantity": 2}'
WELL_FORMED = [
    (ITEM, JSON),
    (ITEM, {"Content-Type": "application/json; charset=utf-8"}),
    (ITEM, {**JSON, "Key": "k1"}),
]
OTHERS = [
    (b'{"name": "pen", "quantity": "2"}', JSON),
    (b'{"name": "pen", "quantity": 2, "extra": 1}', JSON),
    (b'{"name": "pen",', JSON),
    (b"", JSON),
    (b"[1]", JSON),
    (ITEM, {}),
    (ITEM, {"Content-Type": "text/plain"}),
    (ITEM, {"Content-Type": "application/vnd.items+json"}),
    (ITEM, {**JSON, "Key": ""}),
    (ITEM, {**JSON, "Key": "toolong"}),
]


@pytest.mark.parametrize(("content", "headers"), WELL_FORMED + OTHERS)
async def test_answers_as_fastapis_handler_does(
    content: bytes, headers: dict[str, str], counted: list[str]
) -> None:
    lean = await post(app_with(items_router()), content, headers)
    fastapi = await post(app_with(items_router(APIRoute)), content, headers)

    assert (lean.status_code, lean.json()) == (fastapi.status_code, fastapi.json())
    assert counted == ([] if (content, headers) in WELL_FORMED else ["/items"])


async def test_a_client_gone_before_its_body_is_fastapis_to_answer(counted: list[str]) -> None:
    async def gone() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    answers = []
    for app in (app_with(items_router()), app_with(items_router(APIRoute))):
        sent: list[dict[str, Any]] = []

        async def send(message: Any, sent: list[dict[str, Any]] = sent) -> None:
            sent.append(message)

        scope = {
            "type": "http",
            "method": "POST",
            "path": "/items",
            "headers": [(b"content-type", b"application/json")],
            "query_string": b"",
        }
        await app(scope, gone, send)
        answers.append((sent[0]["status"], sent[1]["body"]))

    assert answers[0] == answers[1] == (400, b'{"detail":"There was an error parsing the body"}')
    assert counted == ["/items"]


async def test_dependency_overrides_go_to_fastapis_handler(counted: list[str]) -> None:
    app = app_with(items_router())

    async def other_store() -> str:
        return "other"

    app.dependency_overrides[store] = other_store
    answer = await post(app, ITEM, JSON)

    assert answer.json()["store"] == "other"
    assert counted == ["/items"]


async def bearer(request: Request) -> None:
    if request.headers.get("authorization") != "Bearer s3cret":
        raise HTTPException(status_code=401, detail="Not authenticated")


async def bearer_via_security(
    credentials: Annotated[HTTPAuthorizationCredentials, Depends(HTTPBearer())],
) -> None:
    if credentials.credentials != "s3cret":
        raise HTTPException(status_code=401, detail="Not authenticated")


def on_the_route(check: Callable[..., Any]) -> FastAPI:
    return app_with(items_router(dependencies=[Depends(check)]))


def on_the_router(check: Callable[..., Any]) -> FastAPI:
    router = APIRouter(prefix="/items", route_class=CountedRoute, dependencies=[Depends(check)])
    router.add_api_route("", create, methods=["POST"], status_code=201)
    return app_with(router)


def on_the_inclusion(check: Callable[..., Any]) -> FastAPI:
    app = FastAPI()
    app.state.store = "main"
    app.include_router(items_router(), dependencies=[Depends(check)])
    return app


def on_a_parent_router(check: Callable[..., Any]) -> FastAPI:
    parent = APIRouter(dependencies=[Depends(check)])
    parent.include_router(items_router())
    return app_with(parent)


def on_the_app(check: Callable[..., Any]) -> FastAPI:
    return app_with(items_router(), dependencies=[Depends(check)])


@pytest.mark.parametrize(
    "build", [on_the_route, on_the_router, on_the_inclusion, on_a_parent_router, on_the_app]
)
@pytest.mark.parametrize(
    ("check", "by_fastapi"),
    [(bearer, []), (bearer_via_security, ["/items", "/items"])],  # lean, then not lean
)
async def test_a_dependency_added_at_any_level_applies(
    build: Callable[[Callable[..., Any]], FastAPI],
    check: Callable[..., Any],
    by_fastapi: list[str],
    counted: list[str],
) -> None:
    app = build(check)

    refused = await post(app, ITEM, {**JSON, "Authorization": "Bearer wrong"})
    accepted = await post(app, ITEM, {**JSON, "Authorization": "Bearer s3cret"})

    assert refused.status_code == 401
    assert accepted.status_code == 201
    assert accepted.json() == {"name": "pen", "store": "main", "key": "None", "path": "/items"}
    assert counted == by_fastapi


async def searched(q: Annotated[str | None, Query()] = None) -> str | None:
    return q


async def opened() -> AsyncIterator[str]:
    yield "opened"


def sync_store(request: Request) -> str:
    return "sync"


async def create_plain(item: Item) -> dict[str, str]:
    return {"name": item.name}


@pytest.mark.parametrize(
    "changed",
    [
        {"dependencies": [Depends(searched)]},  # a dependency with a parameter
        {"dependencies": [Depends(opened)]},  # with `yield`
        {"dependencies": [Depends(sync_store)]},  # run in the thread pool
        {"endpoint": create_plain},  # answers a model, not a `Response`
    ],
)
async def test_other_shapes_always_go_to_fastapis_handler(
    changed: dict[str, Any], counted: list[str]
) -> None:
    options = {"endpoint": create, **changed}
    router = APIRouter(prefix="/items", route_class=CountedRoute)
    router.add_api_route("", methods=["POST"], status_code=201, **options)

    answer = await post(app_with(router), ITEM, JSON)

    assert answer.status_code == 201
    assert counted == ["/items"]
    assert LeanCall.of(router.routes[0]) is None


class UnrecordedTracing(trace.TracerProvider):
    def get_tracer(self, *args: Any, **kwargs: Any) -> trace.Tracer:
        return trace.NoOpTracer()


async def test_telemetry_goes_to_fastapis_handler(counted: list[str]) -> None:
    telemetry = {"tracer_provider": UnrecordedTracing()}
    answer = await post(app_with(items_router(), telemetry=telemetry), ITEM, JSON)

    assert answer.status_code == 201
    assert counted == ["/items"]


def test_the_order_placement_is_lean() -> None:
    """`POST /orders` keeps a shape this route serves lean: its speed depends on it."""
    from api.orders import placement_router

    (placement,) = placement_router.routes
    assert LeanCall.of(placement) is not None
