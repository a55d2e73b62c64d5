"""The one HTTP client factory every adapter uses.

It runs on aiohttp (through `httpx_aiohttp`) for many calls in flight, and fixes how that
transport reports errors: `httpx_aiohttp` maps every aiohttp connection error, including
"server disconnected after the request went out", to `httpx.ConnectTimeout`, which would
make an adapter believe a request that may have had its effect certainly had none. Here the
aiohttp error is mapped precisely:

- could not connect (refused, DNS, TLS) -> `httpx.ConnectError`;
- connect or pool wait timed out -> `httpx.ConnectTimeout`;
- no answer in time after sending -> `httpx.ReadTimeout`;
- connection closed or reset after sending -> `httpx.RemoteProtocolError` / `httpx.ReadError`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport


def _precise(error: httpx.TransportError) -> httpx.TransportError:
    """Re-map an error raised by `httpx_aiohttp` from the aiohttp error that caused it."""
    cause = error.__cause__
    message = str(error) or type(cause).__name__
    mapped: type[httpx.TransportError]
    if isinstance(cause, aiohttp.ConnectionTimeoutError):
        mapped = httpx.ConnectTimeout
    elif isinstance(cause, aiohttp.ClientConnectorError):
        mapped = httpx.ConnectError
    elif isinstance(cause, aiohttp.ServerTimeoutError):
        mapped = httpx.ReadTimeout
    elif isinstance(cause, aiohttp.ServerDisconnectedError | aiohttp.ClientResponseError):
        mapped = httpx.RemoteProtocolError
    elif isinstance(cause, aiohttp.ClientConnectionError | aiohttp.ClientPayloadError):
        mapped = httpx.ReadError
    else:
        return error
    if isinstance(error, mapped):
        return error
    precise = mapped(message, request=error.request) if _has_request(error) else mapped(message)
    precise.__cause__ = cause
    return precise


def _has_request(error: httpx.TransportError) -> bool:
    try:
        error.request  # noqa: B018 - raises when the error carries no request
    except RuntimeError:
        return False
    return True


class _PreciseStream(httpx.AsyncByteStream):
    """Response body whose read errors are mapped precisely too."""

    def __init__(self, stream: httpx.AsyncByteStream) -> None:
        self._stream = stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._stream:
                yield chunk
        except httpx.TransportError as error:
            raise _precise(error) from error.__cause__

    async def aclose(self) -> None:
        await self._stream.aclose()


class PreciseAiohttpTransport(AiohttpTransport):
    """`AiohttpTransport` whose errors say whether the request can have gone out."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            response = await super().handle_async_request(request)
        except httpx.TransportError as error:
            raise _precise(error) from error.__cause__
        stream = response.stream
        assert isinstance(stream, httpx.AsyncByteStream)
        response.stream = _PreciseStream(stream)
        return response


def build_async_client(timeout_seconds: float, max_connections: int) -> httpx.AsyncClient:
    """An `httpx.AsyncClient` for many concurrent calls; close it with `aclose()`."""
    limits = httpx.Limits(
        max_connections=max_connections, max_keepalive_connections=max_connections
    )
    return httpx.AsyncClient(
        transport=PreciseAiohttpTransport(limits=limits),
        timeout=httpx.Timeout(timeout_seconds),
        limits=limits,
    )
