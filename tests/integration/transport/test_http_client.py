"""The third parties' HTTP client against real sockets: answers, keep-alive, and for every
way a call can fail, whether `adapters.outbound_http.send` says the request can have gone
out (`OutcomeUnknown`) or certainly did not (`ProviderUnavailable`)."""

from __future__ import annotations

import asyncio
import functools
import socket
import struct

import httpx
import pytest

from adapters.http import ThirdPartyClient, build_async_client
from adapters.outbound_http import send
from domain.outbound import OutcomeUnknown, ProviderUnavailable
from tests.integration.transport.servers import (
    Handler,
    Recording,
    answer_each,
    counted,
    serving,
)

OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n"


def client_of(transport: str, *, timeout: float = 2, max_connections: int = 4) -> httpx.AsyncClient:
    return build_async_client(
        ThirdPartyClient(transport=transport),  # type: ignore[arg-type]
        timeout_seconds=timeout,
        max_connections=max_connections,
    )


async def test_answers_come_back_whole_over_one_kept_alive_connection(transport: str) -> None:
    connections: list[None] = []
    async with (
        serving(counted(answer_each, connections)) as (url, heads),
        client_of(transport) as client,
    ):
        first = await client.request("POST", f"{url}/v1/x?a=1", json={"n": 1})
        second = await client.request(
            "POST", f"{url}/v1/x", content=b"x" * 100_000, headers={"Idempotency-Key": "k"}
        )
        empty = await client.request("GET", f"{url}/v1/x")
    assert first.status_code == 200 and first.json() == {"n": 1}
    assert second.content == b"x" * 100_000
    assert empty.content == b""
    assert len(connections) == 1
    assert heads[0].startswith(b"POST /v1/x?a=1 HTTP/1.1\r\n")
    assert b"\r\ncontent-type: application/json\r\n" in heads[0].lower()
    assert b"\r\nidempotency-key: k\r\n" in heads[1].lower()
    assert b"content-length" not in heads[2].lower()  # a GET without a body says nothing of one


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b'4\r\n{"a"\r\n3\r\n: 1\r\n1\r\n}\r\n0\r\n\r\n',
        b'HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{"a": 1}',  # the body ends at close
    ],
    ids=["chunked", "until-close"],
)
async def test_bodies_framed_by_chunks_or_by_closing_are_read(
    transport: str, answer: bytes
) -> None:
    async def each(reader: Recording, writer: asyncio.StreamWriter) -> None:
        while True:
            await reader.request()
            writer.write(answer)
            await writer.drain()
            if b"Connection: close" in answer:
                return  # the body ends as the connection does

    async with serving(each) as (url, heads), client_of(transport) as client:
        response = await client.request("GET", url)
        again = await client.request("GET", url)  # a fresh connection: the first closed
    assert response.json() == {"a": 1} and again.json() == {"a": 1}
    assert len(heads) == 2


async def test_a_connection_the_party_closed_while_idle_is_not_reused(transport: str) -> None:
    async def one_per_connection(reader: Recording, writer: asyncio.StreamWriter) -> None:
        await reader.request()
        writer.write(OK + b'{"ok": true}'[:11])
        await writer.drain()  # then the server closes this kept-alive connection

    async with serving(one_per_connection) as (url, heads), client_of(transport) as client:
        await client.request("GET", url)
        await asyncio.sleep(0.1)  # the close arrives while the connection is idle
        response = await send(client, "GET", url, party="the party")
    assert response.status_code == 200
    assert len(heads) == 2


async def _hang_up(reader: Recording, writer: asyncio.StreamWriter) -> None:
    await reader.request()


async def _reset(reader: Recording, writer: asyncio.StreamWriter) -> None:
    await reader.request()
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def _half_answer(reader: Recording, writer: asyncio.StreamWriter) -> None:
    await reader.request()
    writer.write(OK + b'{"ok"')
    await writer.drain()


async def _nonsense(reader: Recording, writer: asyncio.StreamWriter) -> None:
    await reader.request()
    writer.write(b"SMTP ready\r\n\r\n")
    await writer.drain()
    await asyncio.sleep(1)


async def _silence(reader: Recording, writer: asyncio.StreamWriter) -> None:
    await reader.request()
    await asyncio.sleep(5)


@pytest.mark.parametrize(
    "handler",
    [_hang_up, _reset, _half_answer, _nonsense, _silence],
    ids=["hang-up", "reset", "half-answer", "nonsense", "silence"],
)
async def test_after_sending_every_failure_says_the_request_may_have_gone_out(
    transport: str, handler: Handler
) -> None:
    async with serving(handler) as (url, heads), client_of(transport, timeout=0.5) as client:
        with pytest.raises(OutcomeUnknown) as raised:
            await send(client, "POST", url, party="the party", json={"n": 1})
    assert len(heads) == 1  # the request did reach the party
    cause = raised.value.__cause__
    assert isinstance(cause, httpx.TransportError)
    assert cause.request.method == "POST"


async def test_a_refused_connection_says_the_request_never_went_out(transport: str) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))  # bound, not listening: refused
        port = sock.getsockname()[1]
        async with client_of(transport, timeout=1) as client:
            with pytest.raises(ProviderUnavailable):
                await send(client, "GET", f"http://127.0.0.1:{port}/", party="the party")


async def test_no_free_connection_in_time_says_never_sent_and_frees_nothing_held(
    transport: str,
) -> None:
    release = asyncio.Event()
    async with (
        serving(functools.partial(answer_each, release=release)) as (url, heads),
        client_of(transport, timeout=0.3, max_connections=1) as client,
    ):
        held = asyncio.create_task(client.request("GET", url, timeout=httpx.Timeout(5, pool=0.3)))
        await asyncio.sleep(0.1)
        with pytest.raises(ProviderUnavailable):
            await send(client, "GET", url, party="the party")
        release.set()
        assert (await held).status_code == 200
        assert (await client.request("GET", url)).status_code == 200  # the slot came back
    assert len(heads) == 2


async def test_a_cancelled_call_closes_its_connection(transport: str) -> None:
    connections = 0

    async def slow_first(reader: Recording, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        if connections == 1:
            await reader.request()
            await asyncio.sleep(5)
            return
        await answer_each(reader, writer)

    async with serving(slow_first) as (url, _), client_of(transport, max_connections=1) as client:
        call = asyncio.create_task(client.request("GET", url))
        await asyncio.sleep(0.1)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        # A late answer on the old connection could be taken for this call's: a new one.
        assert (await client.request("GET", url)).status_code == 200
    assert connections == 2


async def test_calls_beyond_the_cap_wait_and_go_out_on_the_freed_connections(
    transport: str,
) -> None:
    connections: list[None] = []
    async with (
        serving(counted(answer_each, connections)) as (url, heads),
        client_of(transport, max_connections=2) as client,
    ):
        answers = await asyncio.gather(
            *(client.request("POST", url, content=b"%d" % n) for n in range(10))
        )
    assert [a.content for a in answers] == [b"%d" % n for n in range(10)]
    assert len(connections) == 2 and len(heads) == 10


async def test_a_waiting_call_whose_caller_gave_up_is_never_sent(transport: str) -> None:
    release = asyncio.Event()
    async with (
        serving(functools.partial(answer_each, release=release)) as (url, heads),
        client_of(transport, max_connections=1) as client,
    ):
        first = asyncio.create_task(client.request("POST", url, content=b"first"))
        waiting = asyncio.create_task(client.request("POST", url, content=b"gave up"))
        last = asyncio.create_task(client.request("POST", url, content=b"last"))
        await asyncio.sleep(0.1)
        waiting.cancel()
        release.set()
        assert (await first).content == b"first"
        assert (await last).content == b"last"
    assert waiting.cancelled()
    assert len(heads) == 2


async def test_a_plain_call_sends_what_httpx_would_send(transport: str) -> None:
    """On aiohttp, a plain call (a JSON body and headers) skips httpx's request building;
    a call with query parameters takes httpx's own path. Both say the same to the party:
    the client's own headers, the caller's, the JSON as httpx encodes it."""
    body = {"n": 1, "text": "über", "items": [1.5, None]}
    async with serving(answer_each) as (url, heads), client_of(transport) as client:
        plain = await client.request(
            "POST", f"{url}/v1/x?a=1", json=body, headers={"Idempotency-Key": "k"}
        )
        through_httpx = await client.request(
            "POST", f"{url}/v1/x", params={"a": "1"}, json=body, headers={"Idempotency-Key": "k"}
        )
    assert plain.status_code == through_httpx.status_code == 200
    assert plain.content == through_httpx.content
    assert plain.json() == body

    def fields(head: bytes) -> dict[bytes, bytes]:
        lines = head.split(b"\r\n")[1:]
        pairs = (line.split(b":", 1) for line in lines if line)
        return {name.strip().lower(): value.strip() for name, value in pairs}

    assert heads[0].split(b"\r\n")[0] == heads[1].split(b"\r\n")[0]
    direct, usual = fields(heads[0]), fields(heads[1])
    for name in (b"content-type", b"content-length", b"idempotency-key", b"user-agent"):
        assert direct[name] == usual[name], name
    assert b"gzip" in direct[b"accept-encoding"]
