"""Through a proxy: the party's configured proxy carries its calls, else the environment's
(`HTTP_PROXY`, `HTTPS_PROXY`, `NO_PROXY`); and the cap on the size of an answer."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator

import httpx
import pytest

from adapters.http import ThirdPartyClient, build_async_client
from adapters.outbound_http import send
from domain.outbound import OutcomeUnknown, ProviderUnavailable
from tests.integration.transport.certificates import KEY_PASSWORD, Certificates, make_certificates
from tests.integration.transport.servers import (
    MutualTlsServer,
    Proxy,
    Recording,
    answer_each,
    serving,
)


def client_of(transport: str, **settings: object) -> httpx.AsyncClient:
    party = ThirdPartyClient.model_validate({"transport": transport, **settings})
    return build_async_client(party, timeout_seconds=2, max_connections=4)


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("certificates"))


@pytest.fixture()
def tls_url(certificates: Certificates) -> Iterator[str]:
    with MutualTlsServer(certificates).running() as url:
        yield url


@pytest.fixture()
def dead_proxy() -> Iterator[str]:
    """A proxy URL nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


async def test_the_configured_proxy_carries_plain_and_tls_calls(
    transport: str, certificates: Certificates, tls_url: str
) -> None:
    proxy = Proxy()
    identity = {
        "ca_bundle": certificates.ca,
        "client_cert": certificates.client_cert,
        "client_key": certificates.client_key,
        "client_key_password": KEY_PASSWORD.decode(),
    }
    async with (
        proxy.running() as proxy_url,
        serving(answer_each) as (url, heads),
        client_of(transport, proxy=proxy_url, **identity) as client,
    ):
        plain = await send(client, "POST", f"{url}/v1/x", party="p", content=b"plain")
        tls = await send(client, "POST", f"{tls_url}/v1/y", party="p", json={})
    assert plain.content == b"plain" and tls.json() == {"client": "a client"}
    assert proxy.seen == [f"POST {url}/v1/x", f"CONNECT {tls_url.removeprefix('https://')}"]
    assert len(heads) == 1


async def test_the_environment_s_proxies_are_used_unless_no_proxy_excludes_the_host(
    transport: str, monkeypatch: pytest.MonkeyPatch, certificates: Certificates, tls_url: str
) -> None:
    proxy = Proxy()
    async with proxy.running() as proxy_url, serving(answer_each, host="localhost") as (url, _):
        monkeypatch.setenv("HTTP_PROXY", proxy_url)
        monkeypatch.setenv("HTTPS_PROXY", proxy_url)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        async with client_of(transport, ca_bundle=certificates.ca) as client:
            await send(client, "POST", f"{url}/v1/x", party="p", content=b"x")
            # 127.0.0.1 is excluded: straight to the server (which refuses this client).
            with pytest.raises(ProviderUnavailable):
                await send(client, "POST", f"{tls_url}/v1/y", party="p", json={})
        monkeypatch.setenv("NO_PROXY", "")
        async with client_of(transport, ca_bundle=certificates.ca) as client:
            with pytest.raises(ProviderUnavailable):
                await send(client, "POST", f"{tls_url}/v1/y", party="p", json={})
    assert proxy.seen == [f"POST {url}/v1/x", f"CONNECT {tls_url.removeprefix('https://')}"]


async def test_the_configured_proxy_wins_over_the_environment_s(
    transport: str, monkeypatch: pytest.MonkeyPatch, dead_proxy: str
) -> None:
    proxy = Proxy()
    monkeypatch.setenv("HTTP_PROXY", dead_proxy)
    async with (
        proxy.running() as proxy_url,
        serving(answer_each) as (url, _),
        client_of(transport, proxy=proxy_url) as client,
    ):
        response = await send(client, "POST", f"{url}/v1/x", party="p", content=b"x")
    assert response.content == b"x"
    assert proxy.seen == [f"POST {url}/v1/x"]


async def test_an_unreachable_proxy_means_the_request_never_went_out(
    transport: str, dead_proxy: str
) -> None:
    async with (
        serving(answer_each) as (url, heads),
        client_of(transport, proxy=dead_proxy) as client,
    ):
        with pytest.raises(ProviderUnavailable):
            await send(client, "POST", f"{url}/v1/x", party="p", content=b"x")
    assert heads == []


def test_a_proxy_is_an_http_url() -> None:
    with pytest.raises(ValueError, match="proxy"):
        ThirdPartyClient(proxy="ftp://127.0.0.1:21")


# -- the cap on answers -------------------------------------------------------------------


def _answering(body: bytes, *, chunked: bool) -> object:
    async def each(reader: Recording, writer: asyncio.StreamWriter) -> None:
        while True:
            await reader.request()
            if chunked:
                writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
                for start in range(0, len(body), 100):
                    part = body[start : start + 100]
                    writer.write(b"%x\r\n%s\r\n" % (len(part), part))
                writer.write(b"0\r\n\r\n")
            else:
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
            await writer.drain()

    return each


@pytest.mark.parametrize("chunked", [False, True], ids=["length", "chunked"])
async def test_an_answer_over_the_cap_says_the_request_may_have_gone_out(
    transport: str, chunked: bool
) -> None:
    async with (
        serving(_answering(b"x" * 1000, chunked=chunked)) as (url, heads),  # type: ignore[arg-type]
        client_of(transport, max_response_bytes=999) as client,
    ):
        with pytest.raises(OutcomeUnknown, match="999"):
            await send(client, "POST", url, party="p", json={})
        assert len(heads) == 1
    async with (
        serving(_answering(b"x" * 1000, chunked=chunked)) as (url, _),  # type: ignore[arg-type]
        client_of(transport, max_response_bytes=1000) as client,
    ):
        assert len((await send(client, "POST", url, party="p", json={})).content) == 1000
