"""A request body over the limit answers 413 in the platform's error body, whether its
`Content-Length` says so or its streamed (chunked) body runs past it; a body within the
limit passes. Through the in-memory API (`POST /orders` is a lean route, `POST /sms`
FastAPI's own) and through a real server."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from api.app import ApiConfig
from simulators.registry import running
from tests.unit.in_memory_api import as_client, client_of, in_memory_api, in_memory_services

LIMIT = 1024
ORDER = {"type": "market", "side": "buy", "instrument": "US0378331005", "quantity": 1}
SMS = {"message_id": "m-1", "phone_number": "+254712345678", "text": "hi"}
PADDED = {**SMS, "text": "x" * 2000}  # invalid too: the size is refused first


def api() -> object:
    return in_memory_api(in_memory_services(), ApiConfig(max_body_bytes=LIMIT))


async def chunks(body: bytes, size: int = 100) -> AsyncIterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


def assert_too_large(answer: httpx.Response) -> None:
    assert answer.status_code == 413
    assert answer.json() == {
        "message": f"The request body is larger than {LIMIT} bytes",
        "code": "payload_too_large",
    }


@pytest.mark.parametrize(("path", "small"), [("/orders", ORDER), ("/sms", SMS)])
async def test_a_body_over_the_limit_is_refused_announced_or_streamed(
    path: str, small: dict[str, object]
) -> None:
    large = json.dumps({**small, "padding": "x" * 2000}).encode()
    headers = {"Content-Type": "application/json", **as_client("client-a")}
    async with client_of(api()) as client:  # type: ignore[arg-type]
        announced = await client.post(path, content=large, headers=headers)
        streamed = await client.post(path, content=chunks(large), headers=headers)
        passes = await client.post(
            path, content=chunks(json.dumps(small).encode()), headers=headers
        )

    assert "content-length" not in streamed.request.headers
    assert_too_large(announced)
    assert_too_large(streamed)
    assert passes.status_code in (201, 202)


@pytest.fixture(scope="module")
def served() -> Iterator[str]:
    with running(api()) as url:  # type: ignore[arg-type]
        yield url


def test_a_real_server_refuses_both_ways_too(served: str) -> None:
    large = json.dumps(PADDED).encode()
    headers = {"Content-Type": "application/json", **as_client("client-a")}

    def streamed() -> Iterator[bytes]:
        yield from (large[i : i + 100] for i in range(0, len(large), 100))

    with httpx.Client(base_url=served) as client:
        assert_too_large(client.post("/sms", content=large, headers=headers))
        assert_too_large(client.post("/sms", content=streamed(), headers=headers))
        assert client.post("/sms", json=SMS, headers=as_client("client-a")).status_code == 202


async def test_an_order_body_that_cannot_be_read_is_the_clients_error_not_a_500() -> None:
    app = api()
    sent: list[dict[str, object]] = []

    async def gone() -> dict[str, object]:
        return {"type": "http.disconnect"}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/orders",
        "headers": [
            (b"content-type", b"application/json"),
            *((k.lower().encode(), v.encode()) for k, v in as_client("client-a").items()),
        ],
        "query_string": b"",
    }
    async with app.router.lifespan_context(app):  # type: ignore[attr-defined]
        await app(scope, gone, send)  # type: ignore[operator]

    assert sent[0]["status"] == 400
