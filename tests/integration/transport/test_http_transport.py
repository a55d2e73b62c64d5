"""The HTTP/1.1 transport against real sockets: answers, keep-alive, and for every way a
call can fail, whether the error says the request can have gone out."""

from __future__ import annotations

import asyncio
import functools
import socket
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import httpx
import pytest

from adapters.http import build_async_client

OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n"


@asynccontextmanager
async def serving(handler: Handler) -> AsyncIterator[tuple[str, list[bytes]]]:
    """A server on a free port running `handler` per connection; yields its URL and the
    requests' heads as they arrive (one list entry per request)."""
    heads: list[bytes] = []

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await handler(_Recording(reader, heads), writer)
        finally:
            writer.close()

    server = await asyncio.start_server(connection, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"http://127.0.0.1:{port}", heads


class _Recording:
    """A reader that reads whole requests (head and Content-Length body) and notes heads."""

    def __init__(self, reader: asyncio.StreamReader, heads: list[bytes]) -> None:
        self.reader = reader
        self.heads = heads

    async def request(self) -> bytes:
        """The next request's body; b"" at the end of the connection."""
        head = await self.reader.readuntil(b"\r\n\r\n")
        self.heads.append(head)
        length = 0
        for line in head.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        return await self.reader.readexactly(length)


Handler = Callable[[_Recording, asyncio.StreamWriter], Awaitable[None]]


async def answer_each(
    reader: _Recording, writer: asyncio.StreamWriter, release: asyncio.Event | None = None
) -> None:
    """Keep-alive: answer every request on the connection with its own body (once
    `release` is set, if given)."""
    while True:
        try:
            body = await reader.request()
        except asyncio.IncompleteReadError:
            return
        if release is not None:
            await release.wait()
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        await writer.drain()


def counted(handler: Handler, connections: list[None]) -> Handler:
    """`handler`, noting each connection it serves in `connections`."""

    async def serve(reader: _Recording, writer: asyncio.StreamWriter) -> None:
        connections.append(None)
        await handler(reader, writer)

    return serve


async def test_answers_come_back_whole_over_one_kept_alive_connection() -> None:
    connections: list[None] = []
    async with (
        serving(counted(answer_each, connections)) as (url, heads),
        build_async_client(timeout_seconds=2, max_connections=4) as client,
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
    assert b"\r\nContent-Type: application/json\r\n" in heads[0]
    assert b"\r\nIdempotency-Key: k\r\n" in heads[1]
    assert b"Content-Length" not in heads[2]  # a GET without a body says nothing of one


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b'4\r\n{"a"\r\n3\r\n: 1\r\n1\r\n}\r\n0\r\n\r\n',
        b'HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{"a": 1}',  # the body ends at close
    ],
    ids=["chunked", "until-close"],
)
async def test_bodies_framed_by_chunks_or_by_closing_are_read(answer: bytes) -> None:
    async def each(reader: _Recording, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                await reader.request()
            except asyncio.IncompleteReadError:
                return
            writer.write(answer)
            await writer.drain()
            if b"Connection: close" in answer:
                return  # the body ends as the connection does

    async with (
        serving(each) as (url, heads),
        build_async_client(timeout_seconds=2, max_connections=4) as client,
    ):
        response = await client.request("GET", url)
        again = await client.request("GET", url)  # a fresh connection: the first closed
    assert response.json() == {"a": 1} and again.json() == {"a": 1}
    assert len(heads) == 2


async def test_a_connection_the_party_closed_while_idle_is_not_reused() -> None:
    async def one_per_connection(reader: _Recording, writer: asyncio.StreamWriter) -> None:
        await reader.request()
        writer.write(OK + b'{"ok": true}'[:11])
        await writer.drain()  # then the server closes this kept-alive connection

    async with (
        serving(one_per_connection) as (url, heads),
        build_async_client(timeout_seconds=2, max_connections=4) as client,
    ):
        await client.request("GET", url)
        await asyncio.sleep(0.1)  # the close arrives while the connection is idle
        response = await client.request("GET", url)
    assert response.status_code == 200
    assert len(heads) == 2


async def _hang_up(reader: _Recording, writer: asyncio.StreamWriter) -> None:
    await reader.request()


async def _reset(reader: _Recording, writer: asyncio.StreamWriter) -> None:
    await reader.request()
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def _half_answer(reader: _Recording, writer: asyncio.StreamWriter) -> None:
    await reader.request()
    writer.write(OK + b'{"ok"')
    await writer.drain()


async def _nonsense(reader: _Recording, writer: asyncio.StreamWriter) -> None:
    await reader.request()
    writer.write(b"SMTP ready\r\n\r\n")
    await writer.drain()
    await asyncio.sleep(1)


async def _silence(reader: _Recording, writer: asyncio.StreamWriter) -> None:
    await reader.request()
    await asyncio.sleep(5)


@pytest.mark.parametrize(
    ("handler", "error"),
    [
        (_hang_up, httpx.RemoteProtocolError),
        (_reset, httpx.ReadError),
        (_half_answer, httpx.RemoteProtocolError),
        (_nonsense, httpx.RemoteProtocolError),
        (_silence, httpx.ReadTimeout),
    ],
    ids=["hang-up", "reset", "half-answer", "nonsense", "silence"],
)
async def test_after_sending_every_failure_says_the_request_may_have_gone_out(
    handler: Handler, error: type[httpx.TransportError]
) -> None:
    async with (
        serving(handler) as (url, heads),
        build_async_client(timeout_seconds=0.5, max_connections=4) as client,
    ):
        with pytest.raises(error) as raised:
            await client.request("POST", url, json={"n": 1})
    assert len(heads) == 1  # the request did reach the party
    assert raised.value.request.method == "POST"
    assert not isinstance(raised.value, httpx.ConnectError | httpx.ConnectTimeout)


async def test_a_refused_connection_says_the_request_never_went_out() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))  # bound, not listening: refused
        port = sock.getsockname()[1]
        async with build_async_client(timeout_seconds=1, max_connections=4) as client:
            with pytest.raises(httpx.ConnectError):
                await client.request("GET", f"http://127.0.0.1:{port}/")


async def test_no_free_connection_in_time_is_a_pool_timeout_and_frees_nothing_held() -> None:
    release = asyncio.Event()
    async with (
        serving(functools.partial(answer_each, release=release)) as (url, heads),
        build_async_client(timeout_seconds=0.3, max_connections=1) as client,
    ):
        held = asyncio.create_task(
            client.request("GET", url, extensions={"timeout": {"read": 5, "pool": 0.3}})
        )
        await asyncio.sleep(0.1)
        with pytest.raises(httpx.PoolTimeout):
            await client.request("GET", url)
        release.set()
        assert (await held).status_code == 200
        assert (await client.request("GET", url)).status_code == 200  # the slot came back
    assert len(heads) == 2


async def test_a_cancelled_call_closes_its_connection() -> None:
    connections = 0

    async def slow_first(reader: _Recording, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        if connections == 1:
            await reader.request()
            await asyncio.sleep(5)
            return
        await answer_each(reader, writer)

    async with (
        serving(slow_first) as (url, _),
        build_async_client(timeout_seconds=2, max_connections=1) as client,
    ):
        call = asyncio.create_task(client.request("GET", url))
        await asyncio.sleep(0.1)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        # A late answer on the old connection could be taken for this call's: a new one.
        assert (await client.request("GET", url)).status_code == 200
    assert connections == 2


async def test_calls_beyond_the_cap_wait_in_order_and_go_out_on_the_freed_connection() -> None:
    connections: list[None] = []
    async with (
        serving(counted(answer_each, connections)) as (url, heads),
        build_async_client(timeout_seconds=2, max_connections=2) as client,
    ):
        answers = await asyncio.gather(
            *(client.request("POST", url, content=b"%d" % n) for n in range(10))
        )
    assert [a.content for a in answers] == [b"%d" % n for n in range(10)]
    assert len(connections) == 2 and len(heads) == 10


async def test_a_waiting_call_whose_caller_gave_up_is_never_sent() -> None:
    release = asyncio.Event()
    async with (
        serving(functools.partial(answer_each, release=release)) as (url, heads),
        build_async_client(timeout_seconds=2, max_connections=1) as client,
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
