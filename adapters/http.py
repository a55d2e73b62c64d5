"""The one HTTP client factory every adapter uses: httpx's API over our HTTP/1.1 transport
(`adapters.http_transport`), whose errors say whether a request can have gone out."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import httpx

from adapters.http_transport import Http1Transport


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
    return DirectAsyncClient(
        transport=Http1Transport(max_connections=max_connections),
        timeout=httpx.Timeout(timeout_seconds),
    )
