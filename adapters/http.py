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

import functools
from collections.abc import AsyncIterator, Mapping
from typing import Any

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


class DirectAsyncClient(httpx.AsyncClient):
    """An `httpx.AsyncClient` whose plain requests go straight to its transport.

    `AsyncClient.request` runs every call through URL merging, cookie jars, auth and
    redirect handling and event hooks, none of which an adapter here uses: at a thousand
    calls a second those layers cost more CPU than the transport itself. A request with
    only a body and headers is built once and handed to the transport with the client's
    timeout; any other argument takes the full path.
    """

    def __init__(self, *, transport: httpx.AsyncBaseTransport, timeout: httpx.Timeout) -> None:
        super().__init__(transport=transport, timeout=timeout)
        self._direct = transport
        self._timeout_extension = timeout.as_dict()

    async def request(  # type: ignore[override]
        self,
        method: str,
        url: httpx.URL | str,
        *,
        content: bytes | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        if kwargs:
            return await super().request(
                method, url, content=content, json=json, headers=headers, **kwargs
            )
        request = httpx.Request(
            method,
            _parsed(url) if isinstance(url, str) else url,
            content=content,
            json=json,
            headers=headers,
            extensions={"timeout": self._timeout_extension},
        )
        response = await self._direct.handle_async_request(request)
        response.request = request
        try:
            await response.aread()
        finally:
            await response.aclose()
        return response


@functools.lru_cache(maxsize=1024)
def _parsed(url: str) -> httpx.URL:
    """Adapters call a handful of URLs over and over: parse each once."""
    return httpx.URL(url)


def build_async_client(timeout_seconds: float, max_connections: int) -> httpx.AsyncClient:
    """An `httpx.AsyncClient` for many concurrent calls; close it with `aclose()`."""
    limits = httpx.Limits(
        max_connections=max_connections, max_keepalive_connections=max_connections
    )
    return DirectAsyncClient(
        transport=PreciseAiohttpTransport(limits=limits), timeout=httpx.Timeout(timeout_seconds)
    )
