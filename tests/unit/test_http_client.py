"""The third parties' client (`adapters.http`, `adapters.http_client`) over
`httpx.MockTransport`: requests go out as httpx builds them, answers are capped, and the
transports' errors are classified by whether the request can have gone out."""

from __future__ import annotations

import json
import ssl
from collections.abc import AsyncIterator, Callable

import aiohttp
import httpx
import pytest
import yarl
from aiohttp.client_reqrep import ConnectionKey
from multidict import CIMultiDict, CIMultiDictProxy

from adapters.http import ThirdPartyClient, build_async_client
from adapters.http_client import AiohttpPartyClient, PartyClient, ResponseTooLarge
from adapters.outbound_http import NOT_SENT

Handler = Callable[[httpx.Request], httpx.Response]
CLIENTS = [PartyClient, AiohttpPartyClient]


def client_of(client_class: type[PartyClient], handler: Handler, *, cap: int = 1000) -> PartyClient:
    return client_class(
        max_response_bytes=cap, transport=httpx.MockTransport(handler), timeout=httpx.Timeout(2.5)
    )


async def test_build_async_client_applies_timeout() -> None:
    async with build_async_client(
        ThirdPartyClient(), timeout_seconds=1.5, max_connections=7
    ) as client:
        assert client.timeout.read == 1.5


@pytest.mark.parametrize("client_class", CLIENTS)
async def test_requests_go_out_as_httpx_builds_them(client_class: type[PartyClient]) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201, json={"message_id": "SM1"})

    async with client_of(client_class, handler) as client:
        posted = await client.request(
            "POST",
            "http://sms.test/v1/messages",
            json={"to": "x"},
            headers={"Idempotency-Key": "k1"},
        )
        listed = await client.request("GET", "http://sms.test/v1/messages", params={"page": "2"})

    assert posted.status_code == 201 and posted.json() == {"message_id": "SM1"}
    assert posted.request is seen[0]
    sent = seen[0]
    assert (sent.method, str(sent.url)) == ("POST", "http://sms.test/v1/messages")
    assert sent.headers["Idempotency-Key"] == "k1"
    assert sent.headers["Content-Type"] == "application/json"
    assert json.loads(sent.content) == {"to": "x"}
    assert sent.extensions["timeout"] == httpx.Timeout(2.5).as_dict()
    assert listed.status_code == 201 and str(seen[1].url) == "http://sms.test/v1/messages?page=2"


@pytest.mark.parametrize("client_class", CLIENTS)
@pytest.mark.parametrize("chunked", [False, True], ids=["length", "chunked"])
async def test_an_answer_over_the_cap_is_an_error(
    client_class: type[PartyClient], chunked: bool
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        body = b"x" * 1001
        if chunked:  # no length: the cap counts what arrives
            return httpx.Response(200, stream=_Parts(body[:600], body[600:]))
        return httpx.Response(200, content=body)

    async with client_of(client_class, handler) as client:
        with pytest.raises(ResponseTooLarge) as raised:
            await client.request("GET", "http://party.test/")
        with pytest.raises(ResponseTooLarge):  # on the head's length, or while reading
            async with client.stream("GET", "http://party.test/") as response:
                await response.aread()
    assert raised.value.request.url == "http://party.test/"
    assert not isinstance(raised.value, NOT_SENT)


class _Parts(httpx.AsyncByteStream):
    def __init__(self, *parts: bytes) -> None:
        self._parts = parts

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for part in self._parts:
            yield part


def _raising(error: Exception) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        raise error

    return handler


def _caused(error: Exception, cause: BaseException) -> Exception:
    error.__cause__ = cause
    return error


def _alert(reason: str) -> ssl.SSLError:
    alert = ssl.SSLError(1, f"[SSL: {reason}]")
    alert.reason = reason
    return alert


_URL = yarl.URL("https://party.test/")
_REQUEST = aiohttp.RequestInfo(_URL, "POST", CIMultiDictProxy(CIMultiDict()), _URL)
_KEY = ConnectionKey("party.test", 443, True, True, None, None, None, None)

# What aiohttp raises, as `httpx_aiohttp` passes it on -> the error that says precisely
# whether the request can have gone out.
AIOHTTP_ERRORS = {
    "pool-wait-or-connect-timeout": (
        _caused(httpx.ConnectTimeout("t"), aiohttp.ConnectionTimeoutError()),
        httpx.ConnectTimeout,
    ),
    "refused": (
        _caused(httpx.ConnectError("r"), aiohttp.ClientConnectorError(_KEY, OSError(111, "no"))),
        httpx.ConnectError,
    ),
    "proxy-refused-a-tunnel": (
        _caused(httpx.ProxyError("p"), aiohttp.ClientHttpProxyError(_REQUEST, (), status=403)),
        httpx.ProxyError,
    ),
    "disconnected-after-sending": (
        _caused(httpx.ConnectTimeout("d"), aiohttp.ServerDisconnectedError()),
        httpx.RemoteProtocolError,
    ),
    "read-timeout": (
        _caused(httpx.ReadTimeout("s"), aiohttp.SocketTimeoutError()),
        httpx.ReadTimeout,
    ),
    "reset": (
        _caused(httpx.ConnectTimeout("c"), aiohttp.ClientOSError(104, "reset")),
        httpx.ReadError,
    ),
    "malformed-answer": (
        aiohttp.ClientResponseError(_REQUEST, (), status=400, message="Bad status line"),
        httpx.RemoteProtocolError,
    ),
    "certificate-refused-after-sending": (
        _caused(
            httpx.ConnectTimeout("a"),
            _caused(aiohttp.ClientOSError(1, "alert"), _alert("TLSV13_ALERT_CERTIFICATE_REQUIRED")),
        ),
        httpx.ConnectError,
    ),
}
# What httpx's own transport raises.
HTTPX_ERRORS = {
    "refused": (httpx.ConnectError("r"), httpx.ConnectError),
    "pool-wait": (httpx.PoolTimeout("p"), httpx.PoolTimeout),
    "reset": (httpx.ReadError("r"), httpx.ReadError),
    "certificate-refused-after-sending": (
        _alert("TLSV13_ALERT_CERTIFICATE_REQUIRED"),
        httpx.ConnectError,
    ),
    "tls-failed-after-sending": (_alert("DECRYPTION_FAILED_OR_BAD_RECORD_MAC"), httpx.ReadError),
}


@pytest.mark.parametrize(
    ("client_class", "raised", "expected"),
    [
        *((AiohttpPartyClient, *case) for case in AIOHTTP_ERRORS.values()),
        *((PartyClient, *case) for case in HTTPX_ERRORS.values()),
    ],
    ids=[*(f"aiohttp-{name}" for name in AIOHTTP_ERRORS), *(f"httpx-{n}" for n in HTTPX_ERRORS)],
)
async def test_transport_errors_say_whether_the_request_can_have_gone_out(
    client_class: type[PartyClient], raised: Exception, expected: type[httpx.TransportError]
) -> None:
    async with client_of(client_class, _raising(raised)) as client:
        with pytest.raises(httpx.TransportError) as caught:
            await client.request("POST", "https://party.test/", json={})
    assert type(caught.value) is expected
    assert caught.value.request.method == "POST"


@pytest.mark.parametrize("client_class", [PartyClient])
async def test_a_party_cookie_never_rides_on_the_next_call(
    client_class: type[PartyClient],
) -> None:
    seen: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("cookie"))
        return httpx.Response(200, headers={"set-cookie": "session=abc; Path=/"}, json={})

    async with client_of(client_class, handler) as client:
        await client.post("http://party.test/charges", json={})
        await client.post("http://party.test/charges", json={})
        assert not client.cookies
    assert seen == [None, None]


async def test_urls_are_parsed_once_and_sent_as_given() -> None:
    from adapters.outbound_http import send

    paths: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.raw_path.decode())
        return httpx.Response(200, json={})

    async with client_of(PartyClient, handler) as client:
        for _ in range(2):
            await send(client, "GET", "http://party.test/charges/a%2Fb?x=1", party="party")
    assert paths == ["/charges/a%2Fb?x=1"] * 2
