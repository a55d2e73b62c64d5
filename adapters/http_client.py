"""The HTTP client of a third party: an `httpx.AsyncClient` on aiohttp (`httpx_aiohttp`) or
on httpx's own transport, whose errors say whether a request can have had its effect (the
rules of `adapters.outbound_http`), and whose answers have a size cap. Proxies, from the
party's settings or the environment, are httpx's own handling (`trust_env`).

Whatever the transport under it, a call fails with:

- `httpx.ConnectError`, `ConnectTimeout`, `PoolTimeout` or `ProxyError`: the request was
  never sent (no connection, no free connection in time, the proxy would not open a
  tunnel, the party refused the TLS handshake);
- any other `httpx.TransportError`: it went out, and may have had its effect (no answer
  in time, the connection reset or closed before the whole answer, a malformed answer,
  or `ResponseTooLarge`).

A refused TLS handshake counts as never sent even when its alert arrives after the
request was written: under TLS 1.3 a client finishes its side of the handshake before the
party has checked its certificate, and writes the request at once; the party's TLS layer
refuses the connection before anything reaches its application. A party whose TLS stack
resets the connection without an alert reads as a reset: it may have had its effect.
"""

from __future__ import annotations

import json as jsonlib
import ssl
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import httpx
from httpx._types import HeaderTypes, RequestContent
from httpx_aiohttp import AiohttpTransport, HttpxAiohttpClient

from adapters.outbound_http import NOT_SENT

# TLS alerts by which a party refuses the handshake (OpenSSL's reason names).
_HANDSHAKE_REFUSALS = frozenset(
    {
        "SSLV3_ALERT_HANDSHAKE_FAILURE",
        "SSLV3_ALERT_BAD_CERTIFICATE",
        "SSLV3_ALERT_UNSUPPORTED_CERTIFICATE",
        "SSLV3_ALERT_CERTIFICATE_REVOKED",
        "SSLV3_ALERT_CERTIFICATE_EXPIRED",
        "SSLV3_ALERT_CERTIFICATE_UNKNOWN",
        "TLSV1_ALERT_UNKNOWN_CA",
        "TLSV1_ALERT_ACCESS_DENIED",
        "TLSV1_ALERT_INSUFFICIENT_SECURITY",
        "TLSV1_ALERT_PROTOCOL_VERSION",
        "TLSV13_ALERT_CERTIFICATE_REQUIRED",
    }
)
_Classify = Callable[[Exception, httpx.Request], httpx.TransportError]


class ResponseTooLarge(httpx.TransportError):
    """The party's answer is longer than the cap: the request went out."""

    @classmethod
    def announced(cls, declared: int, limit: int, request: httpx.Request) -> ResponseTooLarge:
        return cls(
            f"the answer announces {declared} bytes, over the cap of {limit}", request=request
        )

    @classmethod
    def received(cls, received: int, limit: int, request: httpx.Request) -> ResponseTooLarge:
        return cls(
            f"the answer is at least {received} bytes, over the cap of {limit}", request=request
        )


class NoCookies(httpx.Cookies):
    """Keeps no cookie: a third party's API is called with its credentials alone, so
    nothing one answer sets rides along on the next call, and no answer pays for httpx's
    cookie handling (a tenth of a call's CPU)."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


class PartyClient(httpx.AsyncClient):
    """On httpx's own transport (see the module's docstring). It keeps no cookies."""

    # What the transport raises: httpx's errors, and a TLS alert that httpcore lets through
    # as it is when it arrives instead of an answer.
    transport_errors: tuple[type[Exception], ...] = (httpx.TransportError, ssl.SSLError)

    def __init__(self, *, max_response_bytes: int, **options: Any) -> None:
        super().__init__(**options)
        self.max_response_bytes = max_response_bytes
        self._no_cookies = NoCookies()

    @property
    def cookies(self) -> httpx.Cookies:
        return self._no_cookies

    @cookies.setter
    def cookies(self, cookies: object) -> None:
        raise TypeError("a third party's client keeps no cookies")

    async def send(
        self,
        request: httpx.Request,
        *,
        stream: bool = False,
        **options: Any,  # auth, follow_redirects
    ) -> httpx.Response:
        try:
            response = await super().send(request, stream=True, **options)
        except self.transport_errors as error:
            raise self.classified(error, request) from error
        try:
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > self.max_response_bytes:
                raise ResponseTooLarge.announced(int(declared), self.max_response_bytes, request)
            response.stream = _Capped(
                response, self.max_response_bytes, self.transport_errors, self.classified
            )
            if not stream:
                await response.aread()
            return response
        except BaseException:
            await response.aclose()
            raise

    def classified(self, error: Exception, request: httpx.Request) -> httpx.TransportError:
        """`error`, or the httpx error that says precisely whether the request went out."""
        tls = _tls_error(error)
        if tls is not None:
            refused = getattr(tls, "reason", None) in _HANDSHAKE_REFUSALS
            if refused and not isinstance(error, NOT_SENT):
                return httpx.ConnectError(
                    f"the party refused the TLS handshake: {tls}", request=request
                )
            if not isinstance(error, httpx.TransportError):
                return httpx.ReadError(f"TLS failed after sending: {tls}", request=request)
        if isinstance(error, httpx.TransportError):
            return error
        return httpx.ReadError(str(error), request=request)


class AiohttpPartyClient(PartyClient, HttpxAiohttpClient):
    """On aiohttp, whose errors are mapped from aiohttp's own: `httpx_aiohttp` turns every
    connection error, "disconnected after sending" too, into `ConnectTimeout`, and lets
    some through as they are (a malformed answer's).

    The calls the adapters make (a method, a URL, maybe a JSON or bytes body and headers)
    go to aiohttp's session directly, and come back as an `httpx.Response` holding the
    whole answer, without the `httpx.Request` nothing reads (so no `raise_for_status`):
    httpx's request building, its middleware layers and its streamed response cost more
    CPU than aiohttp's whole call. Anything else (auth, redirects,
    streaming, query parameters, a proxy) takes httpx's own path, over the same session
    and connections."""

    transport_errors = (*PartyClient.transport_errors, aiohttp.ClientError)

    def __init__(self, *, max_response_bytes: int, **options: Any) -> None:
        super().__init__(max_response_bytes=max_response_bytes, **options)
        # httpx routes a URL to a proxy's transport by the client's mounts (from the
        # party's settings or the environment); the direct path serves a client without.
        transport = self._transport
        self._direct = (
            transport if isinstance(transport, AiohttpTransport) and not self._mounts else None
        )
        timeout = self.timeout
        self._aiohttp_timeout = aiohttp.ClientTimeout(
            sock_connect=timeout.connect, sock_read=timeout.read, connect=timeout.pool
        )

    async def request(
        self,
        method: str,
        url: httpx.URL | str,
        *,
        content: RequestContent | None = None,
        json: object = None,
        headers: HeaderTypes | None = None,
        **options: Any,
    ) -> httpx.Response:
        if (
            self._direct is None
            or options
            or not isinstance(content, bytes | None)
            or not isinstance(headers, dict | None)
        ):
            return await super().request(
                method, url, content=content, json=json, headers=headers, **options
            )
        return await self._direct_request(self._direct, method, url, content, json, headers)

    async def _direct_request(
        self,
        transport: AiohttpTransport,
        method: str,
        url: httpx.URL | str,
        content: bytes | None,
        json: object,
        headers: dict[str, str] | None,
    ) -> httpx.Response:
        sending = dict(self.headers.items())  # the client's own, names in lower case
        if json is not None:  # encoded as httpx encodes it
            content = jsonlib.dumps(
                json, ensure_ascii=False, separators=(",", ":"), allow_nan=False
            ).encode()
            sending["content-type"] = "application/json"
        if headers:
            sending.update((name.lower(), value) for name, value in headers.items())
        if not isinstance(transport.client, aiohttp.ClientSession):
            transport.client = transport.get_client()
        try:
            async with transport.client.request(
                method,
                str(url),
                headers=sending,
                data=content or None,
                allow_redirects=False,
                auto_decompress=False,  # httpx decodes, as on its own path
                compress=False,
                timeout=self._aiohttp_timeout,
            ) as answer:
                body = await self._capped_read(answer, method, url)
                # Read from a stream of the whole body, as httpx reads its own: decoded by
                # its Content-Encoding, the answer's headers as they came (half the CPU
                # of `content=`, which encodes the body as if to send it first).
                response = httpx.Response(
                    answer.status, headers=answer.raw_headers, stream=httpx.ByteStream(body)
                )
                response.read()
                return response
        except ResponseTooLarge:
            raise
        except self.transport_errors as error:
            raise self.classified(error, httpx.Request(method, url)) from error

    async def _capped_read(
        self, answer: aiohttp.ClientResponse, method: str, url: httpx.URL | str
    ) -> bytes:
        limit = self.max_response_bytes
        declared = answer.content_length
        if declared is not None and declared > limit:
            raise ResponseTooLarge.announced(declared, limit, httpx.Request(method, url))
        body = bytearray()
        while len(body) <= limit:
            chunk = await answer.content.read(limit + 1 - len(body))
            if not chunk:
                break
            body += chunk
        if len(body) > limit:
            raise ResponseTooLarge.received(len(body), limit, httpx.Request(method, url))
        return bytes(body)

    def classified(self, error: Exception, request: httpx.Request) -> httpx.TransportError:
        cause = error.__cause__ if isinstance(error, httpx.TransportError) else error
        mapped: type[httpx.TransportError] | None = None
        if isinstance(cause, aiohttp.ConnectionTimeoutError):  # pool wait or connecting
            mapped = httpx.ConnectTimeout
        elif isinstance(cause, aiohttp.ClientHttpProxyError):  # the proxy refused a tunnel
            mapped = httpx.ProxyError
        elif isinstance(cause, aiohttp.ClientConnectorError):  # refused, DNS, TLS handshake
            mapped = httpx.ConnectError
        elif isinstance(cause, aiohttp.ServerTimeoutError):
            mapped = httpx.ReadTimeout
        elif isinstance(cause, aiohttp.ServerDisconnectedError | aiohttp.ClientResponseError):
            mapped = httpx.RemoteProtocolError
        elif isinstance(cause, aiohttp.ClientConnectionError | aiohttp.ClientPayloadError):
            mapped = httpx.ReadError
        if mapped is not None and not isinstance(error, mapped):
            precise = mapped(str(error) or type(cause).__name__, request=request)
            precise.__cause__ = cause
            error = precise
        return super().classified(error, request)


class _Capped(httpx.AsyncByteStream):
    """A response's body, failing with `ResponseTooLarge` past `limit` bytes (an answer
    without a length, or longer than it said), its errors classified."""

    def __init__(
        self,
        response: httpx.Response,
        limit: int,
        errors: tuple[type[Exception], ...],
        classified: _Classify,
    ) -> None:
        self._response = response
        self._stream = response.stream
        self._limit = limit
        self._errors = errors
        self._classified = classified

    async def __aiter__(self) -> AsyncIterator[bytes]:
        request = self._response.request
        received = 0
        stream = self._stream
        assert isinstance(stream, httpx.AsyncByteStream)
        try:
            async for chunk in stream:
                received += len(chunk)
                if received > self._limit:
                    raise ResponseTooLarge.received(received, self._limit, request)
                yield chunk
        except ResponseTooLarge:
            raise
        except self._errors as error:
            raise self._classified(error, request) from error

    async def aclose(self) -> None:
        stream = self._stream
        assert isinstance(stream, httpx.AsyncByteStream)
        await stream.aclose()


def _tls_error(error: BaseException) -> ssl.SSLError | None:
    """The TLS error at the root of `error`, if any."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None
