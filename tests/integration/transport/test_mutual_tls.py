"""Mutual TLS against a server that requires a client certificate: with the party's
configured certificate the call goes through; without it, or against a CA bundle that did
not sign the party's certificate, the request never went out."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from adapters.http import ThirdPartyClient, build_async_client
from adapters.outbound_http import send
from domain.outbound import ProviderUnavailable
from tests.integration.transport.certificates import KEY_PASSWORD, Certificates, make_certificates
from tests.integration.transport.servers import MutualTlsServer


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("certificates"))


# TLS 1.3: the client has written its request when the refusal arrives. TLS 1.2: the
# refusal ends the handshake.
@pytest.fixture(params=[None, ssl.TLSVersion.TLSv1_2], ids=["tls1.3", "tls1.2"])
def server(request: pytest.FixtureRequest, certificates: Certificates) -> Iterator[MutualTlsServer]:
    yield MutualTlsServer(certificates, maximum_version=request.param)


def client_of(transport: str, **settings: object) -> httpx.AsyncClient:
    party = ThirdPartyClient.model_validate({"transport": transport, **settings})
    return build_async_client(party, timeout_seconds=2, max_connections=4)


def identity(certificates: Certificates) -> dict[str, object]:
    return {
        "client_cert": certificates.client_cert,
        "client_key": certificates.client_key,
        "client_key_password": KEY_PASSWORD.decode(),
    }


async def test_the_configured_client_certificate_is_shown_and_accepted(
    transport: str, server: MutualTlsServer, certificates: Certificates
) -> None:
    with server.running() as url:
        async with client_of(
            transport, ca_bundle=certificates.ca, **identity(certificates)
        ) as client:
            first = await send(client, "POST", f"{url}/v1/charges", party="bank", json={})
            second = await send(client, "POST", f"{url}/v1/charges", party="bank", json={})
    assert first.json() == {"client": "a client"} and second.status_code == 200
    assert server.answered == ["a client", "a client"]


async def test_without_a_client_certificate_the_request_never_went_out(
    transport: str, server: MutualTlsServer, certificates: Certificates
) -> None:
    with server.running() as url:
        async with client_of(transport, ca_bundle=certificates.ca) as client:
            with pytest.raises(ProviderUnavailable, match=r"TLS|SSL"):
                await send(client, "POST", f"{url}/v1/charges", party="bank", json={})
    assert server.refused == 1
    assert server.answered == []


async def test_a_party_not_signed_by_the_ca_bundle_is_not_trusted(
    transport: str, server: MutualTlsServer, certificates: Certificates
) -> None:
    with server.running() as url:
        async with client_of(
            transport, ca_bundle=certificates.other_ca, **identity(certificates)
        ) as client:
            with pytest.raises(ProviderUnavailable, match="CERTIFICATE_VERIFY_FAILED"):
                await send(client, "POST", f"{url}/v1/charges", party="bank", json={})
    assert server.answered == []


async def test_the_usual_cas_do_not_trust_a_private_ca(
    transport: str, server: MutualTlsServer, certificates: Certificates
) -> None:
    with server.running() as url:
        async with client_of(transport, **identity(certificates)) as client:
            with pytest.raises(ProviderUnavailable, match="CERTIFICATE_VERIFY_FAILED"):
                await send(client, "POST", f"{url}/v1/charges", party="bank", json={})
    assert server.answered == []


def test_a_missing_certificate_file_fails_when_the_client_is_built(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        client_of("httpx", client_cert=tmp_path / "missing.pem")


def test_a_client_key_needs_its_certificate(certificates: Certificates) -> None:
    with pytest.raises(ValueError, match="certificate"):
        ThirdPartyClient(client_key=certificates.client_key)
