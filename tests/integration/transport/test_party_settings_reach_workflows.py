"""A party's client settings, as an operator sets them (`LEDGERFLOW_<PARTY>_CLIENT_CERT`,
`_CLIENT_KEY`, `_CLIENT_KEY_PASSWORD`, `_CA_BUNDLE`, `_PROXY`), reach the adapter the
workflow's worker sends through: read from the environment as a process reads its
settings, the SMS workflow opened as the composition root opens it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from domain.outbound import ProviderUnavailable
from domain.sms.ports import OutboundSms
from ledgerflow.bootstrap import Platform, open_platform
from ledgerflow.settings import Settings
from ledgerflow.workflows.sms import SmsWorkflow
from tests.harness import eventually
from tests.integration.transport.certificates import KEY_PASSWORD, Certificates, make_certificates
from tests.integration.transport.servers import MutualTlsServer, Proxy

PARTY = "LEDGERFLOW_SMS_PROVIDER_"
SMS = OutboundSms(phone_number="+254712345678", text="hello", idempotency_key="sms-1-attempt")


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("certificates"))


@pytest.fixture()
def server(certificates: Certificates) -> MutualTlsServer:
    """The SMS provider, behind mutual TLS; it answers as a provider does."""
    return MutualTlsServer(certificates, answer={"message_id": "SM-1"})


@pytest.fixture()
def provider_url(server: MutualTlsServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    with server.running() as url:
        monkeypatch.setenv(f"{PARTY}URL", f"{url}/v1/messages")
        yield url


@pytest.fixture()
def environment(
    monkeypatch: pytest.MonkeyPatch, database_url: str, certificates: Certificates
) -> pytest.MonkeyPatch:
    """The platform's environment: its database, and the CA the provider's certificate
    chains to (every test here trusts the provider; what differs is the client's side)."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv(f"{PARTY}CA_BUNDLE", str(certificates.ca))
    return monkeypatch


def identify(monkeypatch: pytest.MonkeyPatch, certificates: Certificates) -> None:
    monkeypatch.setenv(f"{PARTY}CLIENT_CERT", str(certificates.client_cert))
    monkeypatch.setenv(f"{PARTY}CLIENT_KEY", str(certificates.client_key))
    monkeypatch.setenv(f"{PARTY}CLIENT_KEY_PASSWORD", KEY_PASSWORD.decode())


@pytest.fixture()
async def opened(environment: pytest.MonkeyPatch) -> AsyncIterator[list[Platform]]:
    """Platforms the test opened (after setting its environment), closed afterwards."""
    platforms: list[Platform] = []
    yield platforms
    for platform in platforms:
        await platform.close()


async def sms_workflow(opened: list[Platform]) -> SmsWorkflow:
    platform = await open_platform(Settings(), only={"sms"})
    opened.append(platform)
    return platform.get(SmsWorkflow)


async def test_the_client_certificate_set_in_the_environment_is_shown_to_the_provider(
    environment: pytest.MonkeyPatch,
    certificates: Certificates,
    server: MutualTlsServer,
    provider_url: str,
    opened: list[Platform],
) -> None:
    identify(environment, certificates)
    workflow = await sms_workflow(opened)
    async with workflow.provider() as provider:
        assert await provider.send(SMS) == "SM-1"
    assert server.answered == ["a client"]


async def test_without_the_client_certificate_setting_the_sms_never_went_out(
    server: MutualTlsServer, provider_url: str, opened: list[Platform]
) -> None:
    workflow = await sms_workflow(opened)
    async with workflow.provider() as provider:
        with pytest.raises(ProviderUnavailable):  # refused in the handshake: retried later
            await provider.send(SMS)
    # The client may see the server's alert before the server's thread counts the refusal.
    eventually(lambda: server.refused >= 1, timeout=5, what="the handshake refused")
    assert server.answered == []


async def test_the_proxy_set_in_the_environment_carries_the_provider_s_calls(
    environment: pytest.MonkeyPatch,
    certificates: Certificates,
    server: MutualTlsServer,
    provider_url: str,
    opened: list[Platform],
) -> None:
    identify(environment, certificates)
    proxy = Proxy()
    async with proxy.running() as proxy_url:
        environment.setenv(f"{PARTY}PROXY", proxy_url)
        workflow = await sms_workflow(opened)
        async with workflow.provider() as provider:
            assert await provider.send(SMS) == "SM-1"
    assert proxy.seen == [f"CONNECT {provider_url.removeprefix('https://')}"]
    assert server.answered == ["a client"]
